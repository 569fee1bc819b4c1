"""Check a vault against its signed log, resuming from what this workstation verified.

Opening a vault replays only the statements (with their signatures) and recomputes
only the audit entries written since the replay this computer last verified, which it
keeps outside the vault file (:mod:`tessera.vault.workstation_pins`); the tables are
still compared with the projection in full, so a row edited without any new statement
is named too. The verified head must still be in the log with the same hash: a log
rolled back or rewritten from there is reported. A full check replays everything (what
a workstation that has verified nothing yet does, and `audit verify --full`). A check
that verifies is kept as the new starting point; one that fails changes nothing.
"""

from __future__ import annotations

from tessera.core.errors import IntegrityError
from tessera.custody.signing import verify_vault
from tessera.vault import Vault
from tessera.vault.statements import Replay
from tessera.vault.workstation_pins import WorkstationPins


def check_vault(vault: Vault, pins: WorkstationPins | None, *, full: bool = False,
                expected_head: tuple[int, str] | None = None, opening: bool = False
                ) -> Replay:
    """Verify ``vault`` (only what is new unless ``full`` or never verified here).

    ``expected_head`` is an audit head printed on a transcript (``--head``). The result
    carries the audit chain's verdict in ``audit`` (None when the statements failed
    before the chain was checked). ``opening``: a vault being opened, where a demo vault
    whose kept replay no longer holds is checked in full rather than refused (`audit
    verify` still reports it)."""
    try:
        vault.vault_id  # noqa: B018 (read to know which store is this vault's)
    except IntegrityError:
        pins = None  # no id to find a store by: the full replay names what was changed
    kept = None if pins is None else pins.verified(vault)
    start = None if full else kept
    # A full check recomputes every hash and link; the form of the audit entries this
    # computer checked before is proven unchanged by the chain, not judged again.
    state = verify_vault(vault, start=start, full=start is None,
                         expected_audit_head=expected_head,
                         forms_checked=kept.audit_head if start is None and kept else None)
    if (opening and not state.ok and start is not None and pins is not None
            and _cache_only(vault, pins)):
        # A demo vault is not pinned: what was verified of it only saves time, and a copy
        # of it that went another way (a fresh demo) is checked in full instead.
        kept = start = None
        state = verify_vault(vault, full=True, expected_audit_head=expected_head)
    if state.ok and full and kept is not None:
        # A full check still holds the log to what this computer verified before: an
        # older copy or a log rewritten from there verifies on its own, but is not it.
        _still_holds(vault, state, kept)
    if state.ok and pins is not None:
        pins.save_verified(vault, state, start)
    return state


def _still_holds(vault: Vault, state: Replay, kept: Replay) -> None:
    seq, digest = kept.head
    with vault.reading() as conn:
        row = conn.execute("SELECT hash FROM statements WHERE seq = ?", (seq,)).fetchone()
    audit_seq, audit_hash = kept.audit_head
    if seq and (row is None or row[0] != digest):
        state.ok, state.bad_statement = False, seq
        state.problem = (
            f"the signed log ends before statement {seq}, which this computer verified "
            "before: this is an older copy of the vault (rolled back), or newer statements "
            "were removed" if row is None else
            f"statement {seq} is not the one this computer verified before: the log was "
            "rewritten")
    elif audit_seq and vault.audit_hash(audit_seq) != audit_hash:
        state.ok = False
        state.problem = (f"audit entry {audit_seq} is not the one this computer verified "
                         "before: this is an older copy of the vault (rolled back), or its "
                         "log was rewritten")


def _cache_only(vault: Vault, pins: WorkstationPins) -> bool:
    pin = pins.pin_for(vault.vault_id)
    return pin is not None and pin.seq < 0
