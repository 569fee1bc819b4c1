"""Check a vault's audit log against what this workstation verified before.

Opening a vault recomputes only the entries written since the head this computer last
verified (kept in :mod:`tessera.vault.head_pins`, outside the vault file); a full check
recomputes everything. Either way the pinned entry must still be in the log with the
same hash: a log behind the pin (an older copy, entries removed) or with another history
is reported, and the pin is never moved backwards. A sound log moves the pin to its head.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tessera.vault import AuditVerdict, Vault
from tessera.vault.head_pins import HeadPin, HeadPinStore


def check_log(vault: Vault, pins: HeadPinStore | None, *, full: bool = False,
              expected_head: tuple[int, str] | None = None) -> AuditVerdict:
    """Verify the log (only what is new unless ``full`` or never verified here)."""
    if pins is None:
        return vault.verify_audit(expected_head)
    vault_id = vault.vault_id
    genesis = vault.audit_hash(1)
    pin = pins.get(vault_id)
    if pin is not None and genesis != pin.genesis:
        head_seq, head_hash = vault.audit_head()
        return AuditVerdict(False, 0, head_seq, head_hash, 1,
                            "this vault's log begins differently from the log of the vault "
                            f"with the same id ({vault_id}) that this computer verified "
                            "before: it is another vault, or its whole log was rewritten")
    before = (pin.seq, pin.hash) if pin is not None else None
    verdict = vault.verify_audit(expected_head, verified_before=before,
                                 only_new=not full and pin is not None)
    if verdict.ok and genesis is not None and verdict.head_seq >= (pin.seq if pin else 0):
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        pins.put(HeadPin(vault_id, genesis, verdict.head_seq, verdict.head_hash, stamp))
    return verdict
