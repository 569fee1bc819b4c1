"""Lifecycle rows: re-wrapped envelopes, per-record policy overrides, revocation hooks.

A re-wrap replaces one share's envelope *in place* (same version, same manifest):
the custodian's words are unchanged, so the manifest's commitment still checks them,
while the envelope's own recipient list replaces the manifest's. The old envelope is
not kept — keeping it would keep the old token able to open the share. Why the
manifest is not rewritten is explained in docs/LIFECYCLE.md ("Re-wrap").
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from tessera.core import age, canonical
from tessera.core.envelopes import envelope_kind
from tessera.core.errors import FormatError, InputError, IntegrityError, NotFound, PolicyError
from tessera.core.policy import Policy
from tessera.core.request import Request
from tessera.core.token_types import ApprovalMethod, Evidence

from .codec import MAX_TEXT, clean_text, enum_value, evidence_from_json, evidence_json
from .models import RecordState, RevocationHook, Rewrap
from .records import MAX_ENVELOPE
from .releases import MAX_REQUEST, ReleasesMixin

MAX_HOOK_ARGS = 32
MAX_HOOK_TEXT = 1000
MAX_HOOK_TIMEOUT = 600


def _recipients_text(recipients: Sequence[str]) -> str:
    return canonical.dumps(list(recipients)).decode("utf-8")


def _recipients_from(text: Any, where: str) -> tuple[str, ...]:
    try:
        value = canonical.loads(text.encode("utf-8"), what=where) if isinstance(text, str) \
            else None
    except (FormatError, UnicodeEncodeError):
        value = None
    if not isinstance(value, list) or not all(isinstance(x, str) and x for x in value):
        raise IntegrityError(f"{where} is damaged")
    return tuple(value)


class LifecycleMixin(ReleasesMixin):
    """Re-wraps, per-record policy and revocation hooks."""

    # -- re-wrap ---------------------------------------------------------------------
    def rewrap_envelope(self, record_id: str, share_key: str, envelope: bytes,
                        recipients: Sequence[str], *, token_id: str | None,
                        request_bytes: bytes, evidence: Evidence, actor: str) -> Rewrap:
        """Replace the envelope of ``share_key`` in the record's current version.

        The caller has proved the custodian holds the share (their token opened the
        old envelope, or their typed words matched the commitment) and wrapped the
        same words to ``recipients``; ``evidence`` is that proof over the canonical
        'rewrap' request. The envelope's stanzas must fit the recipients.
        """
        recipients = tuple(recipients)
        if not recipients or len(set(recipients)) != len(recipients) or len(recipients) > 16:
            raise InputError("a re-wrap needs 1 to 16 different recipients")
        if not isinstance(envelope, bytes) or not 0 < len(envelope) <= MAX_ENVELOPE:
            raise InputError("the new envelope is empty or too large")
        if not isinstance(request_bytes, bytes) or len(request_bytes) > MAX_REQUEST:
            raise InputError("the re-wrap request must be bytes of at most 16 KiB")
        stanzas = age.read_stanzas(envelope, armored=False)
        if len(stanzas) != len(recipients):
            raise InputError(f"the new envelope has {len(stanzas)} stanza(s) for "
                             f"{len(recipients)} recipient(s)")
        request = Request.from_bytes(request_bytes)
        method = ApprovalMethod(evidence.method)
        with self.transaction() as conn:
            record = self.get_record(record_id)
            if record.state in (RecordState.RETIRED, RecordState.SUPERSEDED):
                raise PolicyError(f"record {record.label!r} is {record.state.display}")
            data = self.get_version(record.id)
            entry = data.manifest.share(share_key)
            wanted = {"purpose": "rewrap", "record_id": record.id, "version": data.version,
                      "manifest": data.manifest.digest.hex()}
            actual = request.to_json()
            if any(actual[k] != v for k, v in wanted.items()):
                raise InputError("the re-wrap request does not describe this record's "
                                 "current version")
            custodian = self._share_holder(data.manifest, entry.custodian_id)
            for recipient in recipients:
                token = self.token_for_recipient(recipient)
                if token is None or token.custodian_id != custodian.id:
                    raise PolicyError(f"a re-wrap wraps {custodian.name}'s share only to "
                                      f"{custodian.name}'s own enrolled tokens")
            if method is ApprovalMethod.PAPER:
                if token_id is not None:
                    raise InputError("a paper-sheet re-wrap names no token")
            else:
                if token_id is None or evidence.token_id != token_id:
                    raise InputError("a token re-wrap must name the token that opened the share")
                used = self.get_token(token_id)
                if used.custodian_id != custodian.id or used.kind.value != method.value:
                    raise PolicyError(f"that token is not one of {custodian.name}'s "
                                      f"{method.value} tokens")
                if not used.named_in(data.recipients_of(share_key)):
                    raise PolicyError(f"{custodian.name}'s share is not wrapped to "
                                      f"{used.label!r}")
            old = data.recipients_of(share_key)
            revision = data.envelopes[share_key].revision + 1
            at = self.now()
            digest = hashlib.sha256(envelope).hexdigest()
            conn.execute("UPDATE envelopes SET age = ?, age_sha256 = ?, recipients = ?,"
                         " revision = ? WHERE record_id = ? AND version = ? AND share_key = ?",
                         (envelope, digest, _recipients_text(recipients), revision, record.id,
                          data.version, share_key))
            conn.execute("INSERT INTO rewraps (record_id, version, share_key, custodian_id,"
                         " token_id, method, request, evidence, old_recipients, new_recipients,"
                         " revision, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (record.id, data.version, share_key, custodian.id, token_id,
                          method.value, request_bytes, evidence_json(evidence),
                          _recipients_text(old), _recipients_text(recipients), revision, at))
            self._audit(actor, "envelope.rewrap", record.id, {
                "label": record.label, "version": data.version, "epoch": data.epoch,
                "fingerprint": data.fingerprint, "share_key": share_key,
                "custodian_id": custodian.id, "custodian": custodian.name,
                "method": method.value, "token_id": token_id,
                "removed_recipients": sorted(set(old) - set(recipients)),
                "added_recipients": sorted(set(recipients) - set(old)),
                "envelopes": envelope_kind(recipients).value,
                "envelope_sha256": digest, "revision": revision,
                "request_sha256": hashlib.sha256(request_bytes).hexdigest()})
        return self.list_rewraps(record.id)[-1]

    def list_rewraps(self, record_id: str | None = None) -> list[Rewrap]:
        with self.reading() as conn:
            if record_id is None:
                rows = conn.execute("SELECT * FROM rewraps ORDER BY id").fetchall()
            else:
                rows = conn.execute("SELECT * FROM rewraps WHERE record_id = ? ORDER BY id",
                                    (self.get_record(record_id).id,)).fetchall()
        return [self._rewrap_from_row(r) for r in rows]

    @staticmethod
    def _rewrap_from_row(row: sqlite3.Row) -> Rewrap:
        where = f"re-wrap {row['id']}"
        return Rewrap(
            record_id=row["record_id"], version=row["version"], share_key=row["share_key"],
            custodian_id=row["custodian_id"], token_id=row["token_id"],
            method=enum_value(ApprovalMethod, row["method"], where), request=row["request"],
            evidence=evidence_from_json(row["evidence"], f"{where} evidence"),
            old_recipients=_recipients_from(row["old_recipients"], f"{where} old recipients"),
            new_recipients=_recipients_from(row["new_recipients"], f"{where} new recipients"),
            revision=row["revision"], at=row["at"])

    # -- per-record policy -----------------------------------------------------------
    def set_record_policy(self, record_id: str, overrides: Mapping[str, Any],
                          actor: str) -> Policy:
        """Replace the record's policy overrides (an empty mapping: the vault policy).

        Returns the record's effective policy; the audit entry lists each change.
        """
        new = dict(overrides)
        with self.transaction() as conn:
            record = self.get_record(record_id)
            self._check_overrides(new)
            old = dict(record.policy_overrides)
            if old == new:
                return self.record_policy(record.id)
            conn.execute("UPDATE records SET policy_overrides = ? WHERE id = ?",
                         (canonical.dumps(new).decode("utf-8"), record.id))
            keys = sorted(set(old) | set(new))
            self._audit(actor, "record.policy", record.id, {
                "label": record.label,
                "changes": {k: {"from": old.get(k), "to": new.get(k)} for k in keys
                            if old.get(k) != new.get(k)}})
            return self.record_policy(record.id)

    # -- revocation hooks ------------------------------------------------------------
    def set_revocation_hook(self, record_id: str, command: Sequence[str],
                            timeout_seconds: int, actor: str) -> RevocationHook:
        """Set the command run after each completed release of the record.

        The command is an argument list (never a shell line); the record id and the
        release id are appended to it when it runs.
        """
        argv = [clean_text(a, "hook argument", MAX_HOOK_TEXT) for a in command]
        if "" in argv[1:]:
            # Refused before saving: a stored empty argument made every later release
            # fail before the hook could run or be logged.
            raise InputError(f"hook argument {argv.index('', 1)} is empty; give each "
                             "argument some text")
        if not argv or not argv[0] or len(argv) > MAX_HOOK_ARGS:
            raise InputError(f"a revocation hook is a program and up to {MAX_HOOK_ARGS - 1} "
                             "arguments")
        if isinstance(timeout_seconds, bool) or not 1 <= timeout_seconds <= MAX_HOOK_TIMEOUT:
            raise InputError(f"the hook timeout must be 1 to {MAX_HOOK_TIMEOUT} seconds")
        with self.transaction() as conn:
            record = self.get_record(record_id)
            conn.execute("INSERT INTO record_hooks (record_id, command, timeout_seconds, set_at,"
                         " set_by) VALUES (?, ?, ?, ?, ?) ON CONFLICT (record_id) DO UPDATE SET"
                         " command = excluded.command, timeout_seconds ="
                         " excluded.timeout_seconds, set_at = excluded.set_at,"
                         " set_by = excluded.set_by",
                         (record.id, _recipients_text(argv), timeout_seconds, self.now(),
                          clean_text(actor, "actor", MAX_TEXT, required=True)))
            self._audit(actor, "hook.set", record.id, {
                "label": record.label, "command": argv, "timeout_seconds": timeout_seconds})
        hook = self.revocation_hook(record.id)
        if hook is None:
            raise IntegrityError("the revocation hook was not stored")
        return hook

    def clear_revocation_hook(self, record_id: str, actor: str) -> None:
        with self.transaction() as conn:
            record = self.get_record(record_id)
            if conn.execute("DELETE FROM record_hooks WHERE record_id = ?",
                            (record.id,)).rowcount == 0:
                raise NotFound(f"record {record.label!r} has no revocation hook")
            self._audit(actor, "hook.clear", record.id, {"label": record.label})

    def revocation_hook(self, record_id: str) -> RevocationHook | None:
        record = self.get_record(record_id)
        with self.reading() as conn:
            row = conn.execute("SELECT * FROM record_hooks WHERE record_id = ?",
                               (record.id,)).fetchone()
        if row is None:
            return None
        return RevocationHook(record.id, _recipients_from(row["command"], "hook command"),
                              int(row["timeout_seconds"]), row["set_at"], row["set_by"])
