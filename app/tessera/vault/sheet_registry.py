"""The registry of printed recovery sheets: serial, envelope, who sealed and witnessed.

A sheet moves printed → sealed → opened → destroyed (destroyed is reachable from any
state: a misprint, an old epoch). Every change is one transaction with its audit
entry. A reprint of a lost or damaged sheet is a new row pointing at the old one
(``reprint_of``) and is logged as ``sheet.reprint``; the old sheet stays outstanding
until someone destroys it, because a lost sheet is still a valid share.

Built only on the vault's public API (``transaction``, ``reading``,
``append_audit``, ``get_version``, ``get_custodian``).
"""

from __future__ import annotations

import enum
import sqlite3
from dataclasses import dataclass

from tessera.core.errors import InputError, NotFound, PolicyError

from .codec import MAX_NAME, clean_text
from .errors import Conflict
from .store import Vault

MAX_ENVELOPE_NO = 64


class SheetState(enum.StrEnum):
    PRINTED = "printed"
    SEALED = "sealed"
    OPENED = "opened"
    DESTROYED = "destroyed"


@dataclass(frozen=True)
class SheetRecord:
    serial: str
    record_id: str
    version: int
    custodian_id: str
    share_key: str
    envelope_no: str | None
    printed_at: str
    sealed_by: str | None
    witness: str | None
    state: SheetState
    state_since: str
    reprint_of: str | None
    destroyed_by: str | None
    destroyed_witness: str | None
    confirmed_at: str | None = None
    confirmed_how: str | None = None

    @property
    def confirmed(self) -> bool:
        """The custodian's share is known to be on this paper: they re-entered words of
        it while the words still existed, or it was sealed in an envelope before a
        witness."""
        return self.state is not SheetState.DESTROYED and (
            self.confirmed_at is not None or self.state in (SheetState.SEALED,
                                                             SheetState.OPENED))


def _row(row: sqlite3.Row) -> SheetRecord:
    return SheetRecord(
        serial=row["serial"], record_id=row["record_id"], version=row["version"],
        custodian_id=row["custodian_id"], share_key=row["share_key"],
        envelope_no=row["envelope_no"], printed_at=row["printed_at"],
        sealed_by=row["sealed_by"], witness=row["witness"], state=SheetState(row["state"]),
        state_since=row["state_since"], reprint_of=row["reprint_of"],
        destroyed_by=row["destroyed_by"], destroyed_witness=row["destroyed_witness"],
        confirmed_at=row["confirmed_at"], confirmed_how=row["confirmed_how"])


class SheetRegistry:
    """Sheet rows of one vault."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault

    # -- reading -------------------------------------------------------------------
    def get(self, serial: str) -> SheetRecord:
        with self.vault.reading() as conn:
            row = conn.execute("SELECT * FROM sheets WHERE serial = ?",
                               (serial.strip().upper(),)).fetchone()
        if row is None:
            raise NotFound(f"there is no sheet {serial!r} in this vault")
        return _row(row)

    def sheets(self, record_id: str | None = None, version: int | None = None,
             custodian_id: str | None = None) -> list[SheetRecord]:
        clauses: list[str] = []
        args: list[object] = []
        for column, value in (("record_id", record_id), ("version", version),
                              ("custodian_id", custodian_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        with self.vault.reading() as conn:
            # Only fixed column names are joined; every value is a bound parameter.
            rows = conn.execute("SELECT * FROM sheets" + where  # noqa: S608
                                + " ORDER BY printed_at, serial", args).fetchall()
        return [_row(r) for r in rows]

    def outstanding(self, record_id: str | None = None) -> list[SheetRecord]:
        """Sheets not yet destroyed: every one of them is a share somewhere on paper."""
        return [s for s in self.sheets(record_id) if s.state is not SheetState.DESTROYED]

    def replaced_by(self, serial: str) -> list[str]:
        """Serials of reprints made for ``serial``."""
        with self.vault.reading() as conn:
            rows = conn.execute("SELECT serial FROM sheets WHERE reprint_of = ?",
                                (serial,)).fetchall()
        return [r[0] for r in rows]

    # -- writing -------------------------------------------------------------------
    def record_printed(self, serial: str, record_id: str, version: int, share_key: str, *,
                       actor: str, hand_copy: bool = False, reprint_of: str | None = None,
                       reason: str = "") -> SheetRecord:
        """Log a printed (or hand-copied) sheet; with ``reprint_of``, as a reprint."""
        data = self.vault.get_version(record_id, version)
        manifest = data.manifest
        entry = manifest.share(share_key)
        reason = clean_text(reason, "reason", 500, required=reprint_of is not None)
        with self.vault.transaction() as conn:
            if conn.execute("SELECT 1 FROM sheets WHERE serial = ?", (serial,)).fetchone():
                raise Conflict(f"sheet serial {serial} is already in use")
            if reprint_of is not None:
                old = self.get(reprint_of)
                if (old.record_id, old.version, old.share_key) != (record_id, version,
                                                                   share_key):
                    raise InputError(f"sheet {reprint_of} holds another share; a reprint "
                                     "must be of the same share")
            now = self.vault.now()
            conn.execute("INSERT INTO sheets (serial, record_id, version, custodian_id,"
                         " share_key, printed_at, state, state_since, reprint_of)"
                         " VALUES (?, ?, ?, ?, ?, ?, 'printed', ?, ?)",
                         (serial, manifest.record_id, version, entry.custodian_id, share_key,
                          now, now, reprint_of))
            details: dict[str, object] = {
                "record_id": manifest.record_id, "label": manifest.label, "version": version,
                "epoch": manifest.epoch, "fingerprint": manifest.fingerprint,
                "custodian_id": entry.custodian_id, "custodian": entry.custodian,
                "share_key": share_key, "hand_copy": hand_copy}
            if reprint_of is not None:
                details.update(reprint_of=reprint_of, reason=reason)
            self.vault.append_audit(actor, "sheet.reprint" if reprint_of else "sheet.print",
                                    serial, details)
        return self.get(serial)

    def mark_sealed(self, serial: str, *, envelope_no: str, sealed_by: str, witness: str,
                    actor: str) -> SheetRecord:
        """The sheet went into tamper-evident bag ``envelope_no`` before a witness."""
        envelope_no = clean_text(envelope_no, "envelope number", MAX_ENVELOPE_NO,
                                 required=True)
        sealed_by = clean_text(sealed_by, "name of who sealed it", MAX_NAME, required=True)
        witness = clean_text(witness, "witness", MAX_NAME, required=True)
        if sealed_by.casefold() == witness.casefold():
            raise PolicyError("the witness must be someone other than the person sealing")
        with self.vault.transaction() as conn:
            sheet = self._in_state(serial, (SheetState.PRINTED,), "sealed")
            clash = conn.execute("SELECT serial FROM sheets WHERE envelope_no = ? AND"
                                 " state != 'destroyed' AND serial != ?",
                                 (envelope_no, sheet.serial)).fetchone()
            if clash is not None:
                raise Conflict(f"envelope {envelope_no} already holds sheet {clash[0]}")
            now = self.vault.now()
            conn.execute("UPDATE sheets SET state = 'sealed', state_since = ?, envelope_no = ?,"
                         " sealed_by = ?, witness = ? WHERE serial = ?",
                         (now, envelope_no, sealed_by, witness, sheet.serial))
            self.vault.append_audit(actor, "sheet.seal", sheet.serial, {
                "record_id": sheet.record_id, "version": sheet.version,
                "share_key": sheet.share_key, "envelope_no": envelope_no,
                "sealed_by": sealed_by, "witness": witness})
        return self.get(sheet.serial)

    def mark_confirmed(self, serial: str, *, how: str, actor: str) -> SheetRecord:
        """The custodian confirmed this sheet holds their share (``how``: which words
        they re-entered; never the words themselves)."""
        how = clean_text(how, "how the sheet was confirmed", 200, required=True)
        with self.vault.transaction() as conn:
            sheet = self._in_state(serial, (SheetState.PRINTED, SheetState.SEALED),
                                   "confirmed")
            now = self.vault.now()
            conn.execute("UPDATE sheets SET confirmed_at = ?, confirmed_how = ?"
                         " WHERE serial = ?", (now, how, sheet.serial))
            self.vault.append_audit(actor, "sheet.confirm", sheet.serial, {
                "record_id": sheet.record_id, "version": sheet.version,
                "custodian_id": sheet.custodian_id, "share_key": sheet.share_key,
                "how": how})
        return self.get(sheet.serial)

    def mark_opened(self, serial: str, *, reason: str, actor: str) -> SheetRecord:
        """The envelope was opened (a release by paper, an inspection)."""
        reason = clean_text(reason, "reason", 500, required=True)
        with self.vault.transaction() as conn:
            sheet = self._in_state(serial, (SheetState.SEALED,), "opened")
            conn.execute("UPDATE sheets SET state = 'opened', state_since = ? WHERE serial = ?",
                         (self.vault.now(), sheet.serial))
            self.vault.append_audit(actor, "sheet.open", sheet.serial, {
                "record_id": sheet.record_id, "version": sheet.version,
                "share_key": sheet.share_key, "envelope_no": sheet.envelope_no,
                "reason": reason})
        return self.get(sheet.serial)

    def mark_destroyed(self, serial: str, *, destroyed_by: str, witness: str,
                       actor: str) -> SheetRecord:
        """The sheet was shredded before a witness (old epoch, misprint, after use)."""
        destroyed_by = clean_text(destroyed_by, "name of who destroyed it", MAX_NAME,
                                  required=True)
        witness = clean_text(witness, "witness", MAX_NAME, required=True)
        if destroyed_by.casefold() == witness.casefold():
            raise PolicyError("the witness must be someone other than the person destroying")
        with self.vault.transaction() as conn:
            sheet = self._in_state(serial, (SheetState.PRINTED, SheetState.SEALED,
                                            SheetState.OPENED), "destroyed")
            conn.execute("UPDATE sheets SET state = 'destroyed', state_since = ?,"
                         " destroyed_by = ?, destroyed_witness = ? WHERE serial = ?",
                         (self.vault.now(), destroyed_by, witness, sheet.serial))
            self.vault.append_audit(actor, "sheet.destroy", sheet.serial, {
                "record_id": sheet.record_id, "version": sheet.version,
                "share_key": sheet.share_key, "envelope_no": sheet.envelope_no,
                "destroyed_by": destroyed_by, "witness": witness})
        return self.get(sheet.serial)

    def _in_state(self, serial: str, allowed: tuple[SheetState, ...],
                  target: str) -> SheetRecord:
        sheet = self.get(serial)
        if sheet.state not in allowed:
            raise PolicyError(f"sheet {sheet.serial} is {sheet.state.value}; it cannot be "
                              f"marked {target}")
        return sheet
