"""Custody records and their versions (manifest, payload ciphertext, envelopes).

Writes check a sealed version as if it came from outside (strict manifest parse,
ciphertext length, one envelope per share) and reads re-check what comes back from
the file, so a flipped byte surfaces as an :class:`IntegrityError` naming the record
and version.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from tessera.core import canonical
from tessera.core.errors import FormatError, InputError, IntegrityError, NotFound, PolicyError
from tessera.core.manifest import NHI_FIELDS, Manifest
from tessera.core.policy import Policy
from tessera.core.sealing import SealedVersion
from tessera.core.text import LookalikeName, lookalike
from tessera.core.text import check as check_text
from tessera.core.token_types import TokenInfo, TokenKind
from tessera.core.turns import give_way

from .codec import MAX_TEXT, clean_text, fold, json_object, record_from_row
from .custodians import CustodiansMixin
from .errors import Conflict
from .models import Envelope, Record, RecordState, VersionData, VersionInfo
from .settings import SettingsMixin

TAG_SIZE = 16  # AES-256-GCM tag appended to the payload ciphertext
MAX_ENVELOPE = 64 * 1024
MAX_POLICY_OVERRIDES = 4096


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_sealed(sealed: SealedVersion) -> Manifest:
    """Validate a sealed version's parts against each other; return the parsed manifest."""
    data = sealed.manifest_bytes
    if not isinstance(data, bytes | bytearray):
        raise FormatError("the manifest must be bytes")
    manifest = Manifest.from_bytes(bytes(data))
    if sealed.manifest.to_bytes() != manifest.to_bytes():
        raise FormatError("the manifest object and its canonical bytes differ")
    check_parts(manifest, sealed.ciphertext, sealed.envelopes)
    return manifest


def check_parts(manifest: Manifest, ciphertext: bytes, envelopes: Mapping[str, bytes]) -> None:
    """The ciphertext and the envelopes fit the manifest (sizes, one envelope per share)."""
    if not isinstance(ciphertext, bytes | bytearray):
        raise FormatError("the payload ciphertext must be bytes")
    if len(ciphertext) != manifest.payload_size + TAG_SIZE:
        raise FormatError(f"the payload ciphertext is {len(ciphertext)} bytes; the manifest "
                          f"says {manifest.payload_size + TAG_SIZE}")
    keys = {s.key for s in manifest.shares}
    missing = sorted(keys - set(envelopes))
    extra = sorted(set(envelopes) - keys)
    if missing:
        raise FormatError(f"no envelope for share(s) {', '.join(missing)}")
    if extra:
        raise FormatError(f"envelope(s) {', '.join(map(str, extra))} match no share of the "
                          "manifest")
    for key, blob in envelopes.items():
        if not isinstance(blob, bytes | bytearray) or not 0 < len(blob) <= MAX_ENVELOPE:
            raise FormatError(f"the envelope of share {key} is empty or too large")


def quorum_details(manifest: Manifest) -> dict[str, Any]:
    """What an auditor wants to see of a version (public facts only)."""
    return {
        "version": manifest.version, "epoch": manifest.epoch,
        "fingerprint": manifest.fingerprint, "digest": manifest.digest.hex(),
        "quorum": manifest.describe_quorum(),
        "custodians": sorted({s.custodian_id for s in manifest.shares}),
    }


def _envelope_recipients(stored: Any, sealed: tuple[str, ...], where: str) -> tuple[str, ...]:
    """The recipients an envelope is wrapped to: the manifest's unless re-wrapped."""
    if stored is None:
        return sealed
    try:
        value = canonical.loads(stored.encode("utf-8"), what=f"{where} recipients") \
            if isinstance(stored, str) else None
    except (FormatError, UnicodeEncodeError):
        value = None
    if (not isinstance(value, list) or not value
            or not all(isinstance(x, str) and x for x in value)):
        raise IntegrityError(f"{where}: the stored recipient list is damaged")
    return tuple(value)


class RecordsMixin(SettingsMixin, CustodiansMixin):
    """Records, versions, envelopes."""

    # -- reading -------------------------------------------------------------------
    def list_records(self, state: RecordState | str | None = None) -> list[Record]:
        with self.reading() as conn:
            if state is None:
                rows = conn.execute("SELECT * FROM records ORDER BY label_key").fetchall()
            else:
                rows = conn.execute("SELECT * FROM records WHERE state = ? ORDER BY label_key",
                                    (RecordState(state).value,)).fetchall()
        return [record_from_row(r) for r in rows]

    def get_record(self, id_or_label: str) -> Record:
        """By record id, or by label ignoring case."""
        with self.reading() as conn:
            row = conn.execute("SELECT * FROM records WHERE id = ? OR label_key = ?"
                               " ORDER BY id = ? DESC LIMIT 1",
                               (id_or_label, fold(id_or_label), id_or_label)).fetchone()
        if row is None:
            raise NotFound(f"there is no record {id_or_label!r} in this vault")
        return record_from_row(row)

    def record_policy(self, record_id: str) -> Policy:
        """The vault policy with the record's overrides applied."""
        record = self.get_record(record_id)
        try:
            return self.policy.with_overrides(record.policy_overrides)
        except FormatError as exc:
            raise IntegrityError(f"record {record.label!r}: its policy is damaged: {exc}") from None

    def list_versions(self, record_id: str) -> list[VersionInfo]:
        record = self.get_record(record_id)
        with self.reading() as conn:
            rows = conn.execute("SELECT record_id, version, epoch, fingerprint, created_at,"
                                " superseded_at FROM versions WHERE record_id = ?"
                                " ORDER BY version", (record.id,)).fetchall()
        return [VersionInfo(*tuple(r)) for r in rows]

    def get_version(self, record_id: str, version: int | None = None) -> VersionData:
        """A version (the current one by default), every blob re-checked."""
        with self.reading() as conn:
            record = self.get_record(record_id)
            number = record.current_version if version is None else version
            row = conn.execute("SELECT * FROM versions WHERE record_id = ? AND version = ?",
                               (record.id, number)).fetchone()
            if row is None:
                raise NotFound(f"record {record.label!r} has no version {number}")
            envelope_rows = conn.execute(
                "SELECT share_key, custodian_id, age, age_sha256, recipients, revision"
                " FROM envelopes"
                " WHERE record_id = ? AND version = ?", (record.id, number)).fetchall()
        return self._version_from_rows(record, row, envelope_rows)

    def current_versions(self) -> dict[str, VersionData]:
        """Every record's current version (every blob re-checked), read in two queries."""
        with self.reading() as conn:
            records = {r.id: r for r in self.list_records()}
            rows = conn.execute("SELECT v.* FROM versions v JOIN records r ON r.id = v.record_id"
                                " AND v.version = r.current_version").fetchall()
            envelope_rows: dict[str, list[sqlite3.Row]] = {}
            for env in conn.execute(
                    "SELECT e.record_id, e.share_key, e.custodian_id, e.age, e.age_sha256,"
                    " e.recipients, e.revision FROM envelopes e JOIN records r"
                    " ON r.id = e.record_id AND e.version = r.current_version"):
                envelope_rows.setdefault(env["record_id"], []).append(env)
        return {row["record_id"]: self._version_from_rows(
                    records[row["record_id"]], row, envelope_rows.get(row["record_id"], []))
                for row in rows}

    def secrets_sealed_at(self, record_id: str | None = None) -> dict[str, str]:
        """When each record's (or one record's) current secret was sealed: the time of its
        creation or of its newest rotation, as the audit log records them (read through
        the sealing index, not the whole log)."""
        with self.reading() as conn:
            # One record: NULL matches every subject, so one fixed statement serves both.
            rows = conn.execute(
                "SELECT subject, action, details, at FROM audit"
                " WHERE action IN ('record.create', 'record.version')"
                " AND (? IS NULL OR subject = ?) ORDER BY subject, seq",
                (record_id, record_id)).fetchall()
        sealed: dict[str, str] = {}
        for row in rows:
            if row["action"] == "record.create" or _is_rotation(row["details"]):
                sealed[row["subject"]] = row["at"]
        return sealed

    def _version_from_rows(self, record: Record, row: sqlite3.Row,
                           envelope_rows: list[sqlite3.Row]) -> VersionData:
        give_way()  # thousands of versions, SHA-256 over each blob (core/turns.py)
        where = f"record {record.label!r} version {row['version']}"
        manifest_bytes = row["manifest"]
        if not isinstance(manifest_bytes, bytes) or _sha256(manifest_bytes) != row["digest"]:
            raise IntegrityError(f"{where}: the stored manifest was changed or damaged")
        try:
            manifest = Manifest.from_bytes(manifest_bytes)
        except FormatError as exc:
            raise IntegrityError(f"{where}: the stored manifest is damaged: {exc}") from None
        if (manifest.record_id != record.id or manifest.version != row["version"]
                or manifest.epoch != row["epoch"] or manifest.fingerprint != row["fingerprint"]):
            raise IntegrityError(f"{where}: the stored manifest does not match its row")
        ciphertext = row["ciphertext"]
        if (not isinstance(ciphertext, bytes) or _sha256(ciphertext) != row["ciphertext_sha256"]
                or len(ciphertext) != manifest.payload_size + TAG_SIZE):
            raise IntegrityError(f"{where}: the stored payload ciphertext was changed or damaged")
        envelopes: dict[str, Envelope] = {}
        for env in envelope_rows:
            key = env["share_key"]
            blob = env["age"]
            if not isinstance(blob, bytes) or _sha256(blob) != env["age_sha256"]:
                raise IntegrityError(f"{where}: the envelope of share {key} was changed or "
                                     "damaged")
            try:
                share = manifest.share(key)
            except FormatError:
                raise IntegrityError(f"{where}: a stored envelope ({key}) matches no share") from None
            if share.custodian_id != env["custodian_id"]:
                raise IntegrityError(f"{where}: the envelope of share {key} is filed under the "
                                     "wrong custodian")
            envelopes[key] = Envelope(env["custodian_id"], blob,
                                      _envelope_recipients(env["recipients"], share.recipients,
                                                           f"{where} share {key}"),
                                      int(env["revision"]))
        if set(envelopes) != {s.key for s in manifest.shares}:
            raise IntegrityError(f"{where}: envelopes are missing")
        return VersionData(record_id=record.id, version=row["version"], epoch=row["epoch"],
                           fingerprint=row["fingerprint"], created_at=row["created_at"],
                           superseded_at=row["superseded_at"], manifest=manifest,
                           manifest_bytes=manifest_bytes, ciphertext=ciphertext,
                           envelopes=envelopes)

    def records_of_custodian(self, custodian_id: str) -> list[Record]:
        """Records whose current version gives this custodian a share."""
        with self.reading() as conn:
            rows = conn.execute(
                "SELECT DISTINCT r.* FROM records r JOIN envelopes e ON e.record_id = r.id"
                " AND e.version = r.current_version WHERE e.custodian_id = ?"
                " ORDER BY r.label_key", (custodian_id,)).fetchall()
        return [record_from_row(r) for r in rows]

    def records_of_recipient(self, recipient: str | TokenInfo) -> list[Record]:
        """Records whose current version wraps a share to this recipient (or token, by
        any of its recipients: classical or post-quantum)."""
        names = set(recipient.recipients if isinstance(recipient, TokenInfo) else (recipient,))
        found = []
        for r in self.list_records():
            data = self.get_version(r.id)
            if any(names & set(data.recipients_of(s.key)) for s in data.manifest.shares):
                found.append(r)
        return found

    # -- writing -------------------------------------------------------------------
    def create_record(self, sealed: SealedVersion, *, actor: str,
                      system: str | None = None, account: str | None = None,
                      owner: str | None = None, environment: str | None = None,
                      policy_overrides: Mapping[str, Any] | None = None,
                      allow_software: bool = False, allow_lookalike: bool = False) -> Record:
        """Store version 1 of a new record (record, version, envelopes, audit: one step).

        The label comes from the manifest; NHI facts default to the manifest's and
        may not contradict it.
        """
        manifest = check_sealed(sealed)
        if manifest.version != 1 or manifest.previous is not None:
            raise InputError("a new record starts at version 1 with no previous version")
        nhi = self._nhi(manifest, {"system": system, "account": account, "owner": owner,
                                   "environment": environment})
        overrides = dict(policy_overrides or {})
        with self.transaction() as conn:
            self._check_overrides(overrides)
            self._insert_record(conn, manifest, nhi, overrides, allow_software,
                                allow_lookalike=allow_lookalike)
            self._insert_version(conn, manifest, sealed.ciphertext, sealed.envelopes)
            self._check_token_kinds(manifest, overrides, allow_software)
            self._audit(actor, "record.create", manifest.record_id, {
                "label": manifest.label, **quorum_details(manifest), "nhi": nhi,
                "policy_overrides": overrides, "allow_software": bool(allow_software)})
            return self.get_record(manifest.record_id)

    def add_version(self, sealed: SealedVersion, actor: str, reason: str, *,
                    new_secret: bool = False) -> Record:
        """Make ``sealed`` the record's current version; the old one is superseded.

        ``new_secret`` (a rotation) returns the record to *sealed*; a reshare of the
        same secret keeps a *released — rotation due* or *rotation required* state.
        """
        manifest = check_sealed(sealed)
        reason = clean_text(reason, "reason", MAX_TEXT, required=True)
        with self.transaction() as conn:
            record = self.get_record(manifest.record_id)
            if record.state is RecordState.RETIRED:
                raise PolicyError(f"record {record.label!r} is retired")
            current = self.get_version(record.id)
            if manifest.version != record.current_version + 1:
                raise InputError(f"record {record.label!r} is at version "
                                 f"{record.current_version}; the next version must be "
                                 f"{record.current_version + 1}, not {manifest.version}")
            if manifest.previous != current.manifest.digest.hex():
                raise IntegrityError("the new version does not name the current version as "
                                     "its previous version")
            if manifest.epoch < current.epoch:
                raise InputError("the new version's epoch is older than the current one")
            self._check_label(conn, manifest.label, record.id)
            now = self.now()
            self._insert_version(conn, manifest, sealed.ciphertext, sealed.envelopes)
            conn.execute("UPDATE versions SET superseded_at = ? WHERE record_id = ? AND version = ?",
                         (now, record.id, record.current_version))
            nhi = {k: manifest.nhi.get(k, getattr(record, k)) for k in NHI_FIELDS}
            conn.execute("UPDATE records SET current_version = ?, label = ?, label_key = ?,"
                         " system = ?, account = ?, owner = ?, environment = ? WHERE id = ?",
                         (manifest.version, manifest.label, fold(manifest.label),
                          nhi["system"], nhi["account"], nhi["owner"], nhi["environment"],
                          record.id))
            if new_secret:
                conn.execute("UPDATE records SET state = 'sealed', state_reason = ?,"
                             " state_since = ? WHERE id = ?", (reason, now, record.id))
            self._check_token_kinds(manifest, record.policy_overrides, record.allow_software)
            self._audit(actor, "record.version", record.id, {
                "label": manifest.label, **quorum_details(manifest),
                "previous_fingerprint": current.fingerprint, "reason": reason,
                "rotation": bool(new_secret)})
            return self.get_record(record.id)

    def set_record_state(self, record_id: str, state: RecordState | str, reason: str,
                         actor: str) -> Record:
        """Change a record's state; *retired* is final."""
        new = RecordState(state)
        reason = clean_text(reason, "reason", MAX_TEXT, required=new is not RecordState.SEALED)
        with self.transaction() as conn:
            record = self.get_record(record_id)
            if record.state is RecordState.RETIRED and new is not RecordState.RETIRED:
                raise PolicyError(f"record {record.label!r} is retired; that cannot be undone")
            conn.execute("UPDATE records SET state = ?, state_reason = ?, state_since = ?"
                         " WHERE id = ?", (new.value, reason, self.now(), record.id))
            self._audit(actor, "record.state", record.id,
                        {"label": record.label, "from": record.state.value, "to": new.value,
                         "reason": reason})
            return self.get_record(record.id)

    # -- helpers shared with import --------------------------------------------------
    @staticmethod
    def _nhi(manifest: Manifest, given: Mapping[str, str | None]) -> dict[str, str]:
        nhi: dict[str, str] = {}
        for key in NHI_FIELDS:
            stated = manifest.nhi.get(key, "")
            value = given.get(key)
            if value is None:
                nhi[key] = stated
                continue
            value = clean_text(value, key)
            if stated and value != stated:
                raise InputError(f"the {key} {value!r} differs from the manifest's {stated!r}")
            nhi[key] = value
        return nhi

    def _check_overrides(self, overrides: Mapping[str, Any]) -> None:
        json_object(overrides, "policy overrides", MAX_POLICY_OVERRIDES)
        self.policy.with_overrides(overrides)

    def _check_label(self, conn: sqlite3.Connection, label: str, record_id: str,
                     allow_lookalike: bool = False) -> None:
        check_text(label, "record label")  # the manifest's label, as typed at creation
        clash = conn.execute("SELECT id, label FROM records WHERE label_key = ? AND id != ?",
                             (fold(label), record_id)).fetchone()
        if clash is not None:
            raise Conflict(f"another record is already labelled {clash['label']!r}")
        similar = self._lookalike_label(conn, label, record_id)
        if similar is not None and not allow_lookalike:
            raise LookalikeName("record label", label, similar)

    @staticmethod
    def _lookalike_label(conn: sqlite3.Connection, label: str, record_id: str) -> str | None:
        others = [str(r["label"]) for r in
                  conn.execute("SELECT label FROM records WHERE id != ?", (record_id,))]
        return lookalike(label, others)

    def label_lookalike(self, label: str, record_id: str = "") -> str | None:
        """The label of another record that ``label`` could be mistaken for, if any."""
        with self.reading() as conn:
            return self._lookalike_label(conn, label, record_id)

    def _check_custodians(self, conn: sqlite3.Connection, manifest: Manifest) -> None:
        for custodian_id, name in manifest.custodian_names.items():
            if conn.execute("SELECT 1 FROM custodians WHERE id = ?",
                            (custodian_id,)).fetchone() is None:
                raise NotFound(f"custodian {name} ({custodian_id}) of this record is not in "
                               "this vault")

    def _check_token_kinds(self, manifest: Manifest, overrides: Mapping[str, Any],
                           allow_software: bool) -> None:
        """Refuse software-key recipients on a hardware-only record (outside demo vaults)."""
        if allow_software or self.is_demo or not self.policy.with_overrides(overrides).hardware_only:
            return
        for share in manifest.shares:
            for recipient in share.recipients:
                token = self.token_for_recipient(recipient)
                if token is None:
                    continue
                if token.kind is TokenKind.SOFTWARE:
                    raise PolicyError(
                        f"this record is hardware-only and {share.custodian}'s share is "
                        "wrapped to a software key")
                proof = token.attestation(demo_vault=False)
                if not proof.proven:
                    raise PolicyError(
                        f"this record is hardware-only and {token.label}, which holds "
                        f"{share.custodian}'s share, is not proven hardware ({proof.problem}), "
                        "so it counts as a software key")

    def _insert_record(self, conn: sqlite3.Connection, manifest: Manifest,
                       nhi: Mapping[str, str], overrides: Mapping[str, Any],
                       allow_software: bool, *, allow_lookalike: bool = False) -> None:
        if conn.execute("SELECT 1 FROM records WHERE id = ?",
                        (manifest.record_id,)).fetchone() is not None:
            raise Conflict(f"record {manifest.record_id} already exists in this vault")
        self._check_label(conn, manifest.label, manifest.record_id, allow_lookalike)
        now = self.now()
        conn.execute(
            "INSERT INTO records (id, label, label_key, system, account, owner, environment,"
            " policy_overrides, allow_software, state, state_reason, state_since,"
            " current_version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'sealed', '', ?,"
            " ?, ?)",
            (manifest.record_id, manifest.label, fold(manifest.label), nhi["system"],
             nhi["account"], nhi["owner"], nhi["environment"],
             json_object(overrides, "policy overrides", MAX_POLICY_OVERRIDES),
             int(bool(allow_software)), now, manifest.version, now))

    def _insert_version(self, conn: sqlite3.Connection, manifest: Manifest, ciphertext: bytes,
                        envelopes: Mapping[str, bytes]) -> None:
        self._check_custodians(conn, manifest)
        manifest_bytes = manifest.to_bytes()
        conn.execute(
            "INSERT INTO versions (record_id, version, epoch, fingerprint, digest, manifest,"
            " ciphertext, ciphertext_sha256, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (manifest.record_id, manifest.version, manifest.epoch, manifest.fingerprint,
             manifest.digest.hex(), manifest_bytes, bytes(ciphertext),
             _sha256(bytes(ciphertext)), self.now()))
        for share in manifest.shares:
            blob = bytes(envelopes[share.key])
            conn.execute("INSERT INTO envelopes (record_id, version, share_key, custodian_id, age,"
                         " age_sha256) VALUES (?, ?, ?, ?, ?, ?)",
                         (manifest.record_id, manifest.version, share.key, share.custodian_id,
                          blob, _sha256(blob)))


def _is_rotation(details: str) -> bool:
    try:
        value = json.loads(details)
    except ValueError:
        return False
    return isinstance(value, dict) and value.get("rotation") is True
