"""Sheet operations over a vault: print at creation, (re)print one custodian's sheet
with their token, verify a sheet against its record, build a ceremony transcript.

Words exist in only two places: the ``on_mnemonics`` callback of sealing (creation)
and a custodian opening their own envelope with their token (a request of purpose
"sheet"). Both end here in a :class:`~tessera.sheets.model.Sheet` the caller paints
and drops; the vault logs the serial, never the words.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from tessera.core.commitment import matches_commitment, normalize_mnemonic
from tessera.core.errors import InputError, NotFound, ShareMismatch
from tessera.core.manifest import Manifest
from tessera.core.quorum import QuorumSession
from tessera.core.request import new_request
from tessera.core.sealing import SealedVersion
from tessera.custody.drivers import TokenDrivers
from tessera.custody.release import known_sets, open_share
from tessera.sheets.collect import SheetReader, describe_set
from tessera.sheets.model import Sheet, build_sheet, new_serial
from tessera.sheets.qr_format import SetId, ShareCode, encode_data
from tessera.sheets.transcript import Transcript
from tessera.tokens.base import Prompts
from tessera.vault import Vault
from tessera.vault.sheet_registry import SheetRegistry, SheetState


def _data_codes(sealed: SealedVersion) -> tuple[str, ...]:
    m = sealed.manifest
    return encode_data(SetId(m.record_id, m.version, m.epoch), sealed.manifest_bytes,
                       sealed.ciphertext)


class WordsKeeper:
    """Pass :meth:`collect` as ``on_mnemonics`` when sealing; the words stay here only
    until :meth:`wipe` (after the sheets are printed or shown)."""

    def __init__(self) -> None:
        self._words: dict[str, str] = {}

    def collect(self, words: Mapping[str, str]) -> None:
        self._words.update(words)

    @property
    def words(self) -> Mapping[str, str]:
        return dict(self._words)

    def wipe(self) -> None:
        self._words.clear()


def sheets_at_creation(vault: Vault, sealed: SealedVersion, words: Mapping[str, str], *,
                       hand_copy: bool = False,
                       share_keys: Iterable[str] | None = None) -> list[Sheet]:
    """One sheet per share of a version just stored, with its serial — not yet logged.

    The serial is printed on the paper, so it is chosen before painting; call
    :func:`log_printed` once the sheets were really printed or saved. In hand-copy mode
    the sheets carry boxes instead of words; the caller shows each custodian's words on
    screen, one at a time.
    """
    data = _data_codes(sealed)
    keys = list(share_keys) if share_keys is not None else [s.key for s in sealed.manifest.shares]
    printed_at = vault.now()
    genesis = vault.genesis_fingerprint() or ""
    sheets = []
    for key in keys:
        if not hand_copy and key not in words:
            raise InputError(f"no words for share {key}; were they collected at sealing?")
        sheets.append(replace(build_sheet(
            sealed.manifest, sealed.manifest_bytes, sealed.ciphertext, key,
            None if hand_copy else words[key], serial=new_serial(), printed_at=printed_at,
            data_codes=data, demo=vault.is_demo, organisation=vault.organisation),
            genesis=genesis))
    return sheets


def log_printed(vault: Vault, sheets: Iterable[Sheet], *, actor: str,
                hand_copy: bool = False) -> None:
    """Record sheets as printed, each with its audit entry (after the paint happened)."""
    registry = SheetRegistry(vault)
    for sheet in sheets:
        registry.record_printed(sheet.serial, sheet.record_id, sheet.version, sheet.share_key,
                                actor=actor, hand_copy=hand_copy)


def sheet_with_token(vault: Vault, drivers: TokenDrivers, record: str, token_id: str,
                     prompts: Prompts, cancel: threading.Event, *, actor: str,
                     hand_copy: bool = False, reprint_of: str | None = None,
                     reason: str = "") -> Sheet:
    """A custodian opens their own envelope with their token to (re)print their sheet.

    The share is checked against the commitment before anything is printed; with
    ``reprint_of`` the new sheet is logged as a reprint of that serial.
    """
    rec = vault.get_record(record)
    data = vault.get_version(rec.id)
    token = vault.get_token(token_id)
    request = new_request("sheet", data.manifest, reason=reason or "print recovery sheet",
                          ticket="", requested_by=actor)
    unlocked, entry = open_share(drivers, token, data, request.challenge, prompts, cancel)
    try:
        mnemonic = normalize_mnemonic(unlocked.share.decode("utf-8"))
    finally:
        unlocked.wipe()
    if not matches_commitment(data.manifest.record_id, mnemonic, entry.commitment):
        raise ShareMismatch(entry.custodian, "the share in the envelope does not match the "
                            "record's commitment; the envelope may have been replaced")
    serial = new_serial()
    row = SheetRegistry(vault).record_printed(
        serial, rec.id, data.version, entry.key, actor=actor, hand_copy=hand_copy,
        reprint_of=reprint_of, reason=reason)
    return replace(build_sheet(data.manifest, data.manifest_bytes, data.ciphertext, entry.key,
                               None if hand_copy else mnemonic, serial=serial,
                               printed_at=row.printed_at, reprint_of=reprint_of or "",
                               demo=vault.is_demo, organisation=vault.organisation),
                   genesis=vault.genesis_fingerprint() or "")


# -- verifying -----------------------------------------------------------------------

@dataclass(frozen=True)
class SheetCheck:
    """The verdict on one sheet: its share matches the record's commitment or not."""

    custodian: str
    share_key: str
    serial: str
    record_label: str
    version: int
    epoch: int
    matches: bool
    registry_state: str  # "sealed", …, or "not in this vault"
    note: str = ""

    def describe(self) -> str:
        verdict = "matches" if self.matches else "DOES NOT match"
        text = (f"{self.serial or 'typed words'}: {self.custodian}'s share {self.share_key} "
                f"{verdict} {self.record_label} v{self.version} (epoch {self.epoch}); "
                f"registry: {self.registry_state}")
        return text + (f" — {self.note}" if self.note else "")


def _registry_state(vault: Vault, serial: str) -> tuple[str, str]:
    if not serial:
        return "not applicable", ""
    registry = SheetRegistry(vault)
    try:
        row = registry.get(serial)
    except NotFound:
        return "not in this vault", "this sheet was not printed from this vault"
    note = ""
    if row.state is SheetState.DESTROYED:
        note = "this sheet was recorded as destroyed"
    elif row.reprint_of:
        note = f"a reprint of {row.reprint_of}"
    replaced = registry.replaced_by(row.serial)
    if replaced:
        note = f"replaced by reprint {', '.join(replaced)}"
    state = row.state.value + (f" in envelope {row.envelope_no}" if row.envelope_no else "")
    return state, note


def verify_share(vault: Vault, manifest: Manifest, custodian_id: str, mnemonic: str,
                 serial: str = "") -> SheetCheck:
    """Check one share against the commitment only: nothing is reconstructed."""
    session = QuorumSession(manifest, known_sets(vault, manifest.record_id, manifest))
    try:
        contribution = session.offer(custodian_id, mnemonic, method="paper")
    finally:
        session.wipe()
    state, note = _registry_state(vault, serial)
    return SheetCheck(contribution.custodian, contribution.share_key, serial, manifest.label,
                      manifest.version, manifest.epoch, True, state, note)


def verify_words(vault: Vault, record: str, custodian: str, words: str) -> SheetCheck:
    """Typed words of ``custodian``'s sheet against the record's current version."""
    rec = vault.get_record(record)
    manifest = vault.get_version(rec.id).manifest
    person = vault.get_custodian(custodian)
    return verify_share(vault, manifest, person.id, words)


def verify_codes(vault: Vault, texts: Iterable[tuple[str, str]]) -> list[SheetCheck]:
    """Verify the share codes among scanned ``(source, text)`` pairs against the vault.

    Codes of a record version the vault does not have, or of an older epoch, are named.
    """
    checks = []
    for source, text in texts:
        reader = SheetReader()
        code = reader.add_text(text, source)
        if not isinstance(code, ShareCode):
            continue
        rec = vault.get_record(code.set_id.record_id)
        current = vault.get_version(rec.id).manifest
        current_id = SetId(current.record_id, current.version, current.epoch)
        try:
            manifest = vault.get_version(rec.id, code.set_id.version).manifest
        except NotFound:
            raise InputError(f"{source}: sheet {code.serial} is of "
                             f"{describe_set(code.set_id, current_id)}") from None
        entry = manifest.share(code.share_key)
        try:
            check = verify_share(vault, manifest, entry.custodian_id, code.mnemonic, code.serial)
        except ShareMismatch as exc:
            raise ShareMismatch(f"{exc.custodian} (sheet {code.serial})", exc.reason,
                                exc.word_index) from None
        if code.set_id != current_id:
            check = SheetCheck(check.custodian, check.share_key, check.serial,
                               check.record_label, check.version, check.epoch, True,
                               check.registry_state,
                               f"an old sheet: the current set is "
                               f"{describe_set(current_id, code.set_id)}; destroy it")
        checks.append(check)
    if not checks:
        raise InputError("no share code was found; scan the first page of a sheet")
    return checks


# -- transcript ----------------------------------------------------------------------

def transcript_for(vault: Vault, ref: str, *, actor: str) -> Transcript:
    """The transcript of a release (by id) or of a record's current version."""
    release = None
    with contextlib.suppress(NotFound):
        release = vault.get_release(ref)
    if release is not None:
        record = vault.get_record(release.record_id)
        version = release.version
    else:
        record = vault.get_record(ref)
        version = record.current_version
    manifest = vault.get_version(record.id, version).manifest
    participants = []
    for cid in dict.fromkeys(s.custodian_id for s in manifest.shares):
        person = vault.get_custodian(cid)
        keys = ", ".join(s.key for s in manifest.shares_of(cid))
        recipients = {r for s in manifest.shares_of(cid) for r in s.recipients}
        tokens = [f"{t.label} ({t.kind.value})"
                  for t in vault.list_tokens(cid, include_inactive=True)
                  if t.named_in(recipients)]
        participants.append((person.name, person.role or "custodian",
                             f"share {keys} · {', '.join(tokens) or 'no token'}"))
    approvals = []
    facts: list[tuple[str, str]] = [("Record state", record.state.display)]
    if release is not None:
        facts = [("Release id", release.id), ("Reason", release.reason),
                 ("Ticket", release.ticket), ("Requested", f"{release.requested_at} by "
                                                           f"{release.requested_by}"),
                 ("Outcome", release.state.value + (f" at {release.finished_at}"
                                                    if release.finished_at else "")), *facts]
        for approval in release.approvals:
            token = vault.get_token(approval.token_id).label if approval.token_id else "sheet"
            approvals.append((vault.get_custodian(approval.custodian_id).name,
                              approval.method.value, token, approval.at))
    names = {cid: vault.get_custodian(cid).name for cid in manifest.custodian_names}
    sheets = tuple((s.serial, names.get(s.custodian_id, s.custodian_id), s.share_key,
                    s.envelope_no or "—", s.state.value)
                   for s in SheetRegistry(vault).sheets(record.id, version))
    seq, head = vault.audit_head()
    signers = [p[0] for p in participants]
    if release is not None:
        signers = list(dict.fromkeys(a[0] for a in approvals)) or signers
    return Transcript(
        kind="Release ceremony" if release is not None else "Custody record",
        subject_id=release.id if release is not None else record.id,
        record_label=record.label, record_id=record.id, version=version,
        epoch=manifest.epoch, fingerprint=manifest.fingerprint,
        quorum=manifest.describe_quorum(), facts=tuple(facts),
        participants=tuple(participants), approvals=tuple(approvals), sheets=sheets,
        audit_seq=seq, audit_hash=head, generated_at=vault.now(), generated_by=actor,
        genesis=vault.genesis_fingerprint() or "",
        signatures=(f"Ceremony operator ({actor})", "Witness",
                    *(f"Custodian {n}" for n in signers)))


def genesis_transcript(vault: Vault, fingerprint: str, signed_by: Iterable[str],
                       unproven: Iterable[str], *, actor: str) -> Transcript:
    """The vault's genesis sheet: its fingerprint, who signed, what is not proven.
    Printed once and kept with the recovery sheets (they repeat the fingerprint)."""
    names = list(signed_by)
    seq, head = vault.audit_head()
    return Transcript(
        kind="Vault genesis", subject_id=vault.vault_id, record_label=vault.path.name,
        record_id="", version=0, epoch=0, fingerprint="", quorum="",
        facts=(("Vault id", vault.vault_id), ("Signed by", ", ".join(names)),
               *(("Not proven", line) for line in unproven)),
        participants=(), approvals=(), sheets=(), audit_seq=seq, audit_hash=head,
        generated_at=vault.now(), generated_by=actor,
        signatures=tuple(f"Custodian {n}" for n in names), genesis=fingerprint)
