"""``.tessera`` files: one version of a record, ciphertext and public data only.

An export carries the canonical manifest, the payload ciphertext, one age envelope
per share, the custodians (id, name) and the public facts of the tokens the shares
are wrapped to. :func:`parse_export` checks every field without touching a vault;
:func:`import_version` then checks the file against the vault and writes it in one
transaction, or refuses with a :class:`FormatError` and changes nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tessera.core import canonical
from tessera.core.age.inspect import check_envelope
from tessera.core.attestation import ATTESTATION_FACT, token_attestation
from tessera.core.errors import FormatError, InputError, TesseraError
from tessera.core.manifest import MAX_RECIPIENT, Manifest
from tessera.core.policy import Policy
from tessera.core.sealing import SealedVersion
from tessera.core.text import UnsafeText, visible
from tessera.core.text import check as check_text
from tessera.core.token_types import PQ_RECIPIENT_FACT, TokenInfo, TokenKind

from . import statements
from .codec import MAX_FACTS, MAX_NAME, b64, clean_text, fold, json_object, unb64
from .custodians import check_pq_fact, check_recipient
from .models import ImportResult, VersionData
from .records import MAX_POLICY_OVERRIDES, check_parts, quorum_details
from .store import Vault

EXPORT_FORMAT = "tessera/export/v1"
MAX_EXPORT = 32 * 1024 * 1024
_TOP_KEYS = {"format", "manifest", "ciphertext", "envelopes", "custodians", "tokens", "record"}
_REWRAPPED = "rewrapped"
_ENROLMENTS = "enrolments"
_OPTIONAL = {_REWRAPPED, _ENROLMENTS}
_TOKEN_KEYS = {"id", "custodian_id", "kind", "label", "recipient", "facts", "remote"}


@dataclass(frozen=True)
class ExportedToken:
    id: str
    custodian_id: str
    kind: TokenKind
    label: str
    recipient: str
    facts: Mapping[str, Any]
    remote: bool


@dataclass(frozen=True)
class ExportFile:
    """A parsed, fully checked ``.tessera`` file (nothing vault-specific checked yet)."""

    manifest: Manifest
    manifest_bytes: bytes
    ciphertext: bytes
    envelopes: Mapping[str, bytes]
    custodians: Mapping[str, str]  # id -> name
    tokens: tuple[ExportedToken, ...]
    allow_software: bool
    policy_overrides: Mapping[str, Any]
    # share key -> recipients, for envelopes re-wrapped since sealing (docs/LIFECYCLE.md)
    rewrapped: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # token id -> its signed enrolment in the exporting vault (FORMAT §8)
    enrolments: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def recipients_of(self, share_key: str) -> tuple[str, ...]:
        return self.rewrapped.get(share_key) or self.manifest.share(share_key).recipients


# -- export --------------------------------------------------------------------------

def export_version(vault: Vault, record_id: str, version: int | None = None, *,
                   actor: str) -> bytes:
    """The ``.tessera`` bytes of a version (the current one by default); the export is
    logged, since ciphertext leaving the vault is a custody event."""
    with vault.transaction():
        record = vault.get_record(record_id)
        data: VersionData = vault.get_version(record.id, version)
        manifest = data.manifest
        recipients = {r for s in manifest.shares
                      for r in (*s.recipients, *data.recipients_of(s.key))}
        tokens = [t for t in vault.list_tokens(include_inactive=True) if t.named_in(recipients)]
        rewrapped = {k: list(e.recipients) for k, e in sorted(data.envelopes.items())
                     if e.revision > 0}
        names = {c: vault.get_custodian(c).name for c in manifest.custodian_names}
        document = {
            "format": EXPORT_FORMAT,
            "manifest": b64(data.manifest_bytes),
            "ciphertext": b64(data.ciphertext),
            "envelopes": {k: b64(e.age) for k, e in sorted(data.envelopes.items())},
            "custodians": [{"id": c, "name": n} for c, n in sorted(names.items())],
            "tokens": [{"id": t.id, "custodian_id": t.custodian_id, "kind": t.kind.value,
                        "label": t.label, "recipient": t.recipient, "facts": dict(t.facts),
                        "remote": t.remote} for t in sorted(tokens, key=lambda t: t.id)],
            "record": {"allow_software": record.allow_software,
                       "policy_overrides": dict(record.policy_overrides)},
        }
        if rewrapped:  # absent unless a share was re-wrapped, so older files stay identical
            document[_REWRAPPED] = rewrapped
        enrolments = _enrolments(vault, tokens)
        if enrolments:  # absent from unsigned vaults' files, so those stay identical
            document[_ENROLMENTS] = enrolments
        vault.append_audit(actor, "version.export", record.id, {
            "label": record.label, "version": data.version, "fingerprint": data.fingerprint})
    return canonical.dumps(document)


def _enrolments(vault: Vault, tokens: list[TokenInfo]) -> dict[str, dict[str, Any]]:
    """Each listed token's own signed enrolment in this vault (the statement that set
    its row and that it signed), so the importing vault can prove possession too."""
    if vault.genesis_fingerprint() is None:
        return {}
    found: dict[str, dict[str, Any]] = {}
    with vault.reading() as conn:
        for token in tokens:
            if token.remote:
                continue
            identity = {"kind": token.kind.value, "recipient": token.recipient,
                        "facts": canonical.dumps(dict(token.facts)).decode("utf-8"),
                        "custodian_id": token.custodian_id}
            proof = statements.enrolment_proof(conn, token.id, identity)
            if proof is not None:
                found[token.id] = proof
    return found


# -- parsing -------------------------------------------------------------------------

def _text(value: Any, what: str, limit: int = MAX_NAME) -> str:
    if not isinstance(value, str):
        raise FormatError(f"{what} must be text")
    try:
        cleaned = clean_text(value, what, limit, required=True)
    except InputError as exc:
        raise FormatError(str(exc)) from None
    if cleaned != value:
        raise FormatError(f"{what} has surrounding spaces or is not normalised")
    return cleaned


def _check_manifest_text(manifest: Manifest) -> None:
    """The manifest's words for people (label, facts, custodian names) hold nothing a
    reader cannot see or that reorders what they see."""
    fields = [("the manifest's label", manifest.label),
              *((f"the manifest's {key}", value) for key, value in manifest.nhi.items()),
              *((f"the custodian name of share {s.key}", s.custodian) for s in manifest.shares)]
    for what, value in fields:
        try:
            check_text(value, what)
        except UnsafeText as exc:
            raise FormatError(str(exc)) from None


def _check_envelope_stanzas(manifest: Manifest, envelopes: Mapping[str, bytes],
                            rewrapped: Mapping[str, tuple[str, ...]] | None = None) -> None:
    """Each envelope is a binary age file, parsed completely: one well-formed stanza per
    recipient of its share (the re-wrapped recipients where a share was re-wrapped)
    and a payload the size of a share. A damaged envelope is refused here, not at the
    next drill or release."""
    for share in manifest.shares:
        recipients = (rewrapped or {}).get(share.key) or share.recipients
        try:
            check_envelope(envelopes[share.key], recipients)
        except FormatError as exc:
            raise FormatError(f"the envelope of share {share.key} ({share.custodian}) is not a "
                              f"valid age file for its keys: {exc}") from None


def _parse_rewrapped(value: Any, manifest: Manifest) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict) or not value:
        raise FormatError("rewrapped must be a non-empty object")
    keys = {s.key for s in manifest.shares}
    rewrapped: dict[str, tuple[str, ...]] = {}
    for key, recipients in value.items():
        if key not in keys:
            raise FormatError(f"rewrapped names share {key!r}, which the manifest lacks")
        if (not isinstance(recipients, list) or not 1 <= len(recipients) <= 16
                or not all(isinstance(r, str) and 0 < len(r) <= MAX_RECIPIENT and r.isascii()
                           for r in recipients)
                or len(set(recipients)) != len(recipients)):
            raise FormatError(f"rewrapped.{key} must list 1 to 16 different recipients")
        rewrapped[key] = tuple(recipients)
    return rewrapped


def _parse_tokens(items: Any, manifest: Manifest,
                  rewrapped: Mapping[str, tuple[str, ...]] | None = None
                  ) -> tuple[ExportedToken, ...]:
    if not isinstance(items, list) or len(items) > 4096:
        raise FormatError("tokens must be a list")
    holders = {r: s.custodian_id for s in manifest.shares for r in s.recipients}
    for key, recipients in (rewrapped or {}).items():
        owner = manifest.share(key).custodian_id
        for r in recipients:
            if holders.setdefault(r, owner) != owner:
                raise FormatError(f"rewrapped.{key} wraps a share to another custodian's key")
    tokens: list[ExportedToken] = []
    for i, item in enumerate(items):
        where = f"tokens[{i}]"
        if not isinstance(item, dict) or set(item) != _TOKEN_KEYS:
            raise FormatError(f"{where} must have exactly the fields {', '.join(sorted(_TOKEN_KEYS))}")
        try:
            kind = TokenKind(item["kind"])
        except ValueError:
            raise FormatError(f"{where}.kind is not a known token kind") from None
        recipient = item["recipient"]
        try:
            recipient = check_recipient(kind, recipient)
        except InputError as exc:
            raise FormatError(f"{where}.recipient: {exc}") from None
        if recipient != item["recipient"]:
            raise FormatError(f"{where}.recipient has surrounding spaces")
        facts = item["facts"]
        if not isinstance(facts, dict):
            raise FormatError(f"{where}.facts must be an object")
        try:
            pq = check_pq_fact(kind, recipient, facts)
        except InputError as exc:
            raise FormatError(f"{where}.facts: {exc}") from None
        named = [r for r in (recipient, pq) if r is not None and r in holders]
        if not named:
            raise FormatError(f"{where}: its recipient appears nowhere in the manifest")
        custodian_id = _text(item["custodian_id"], f"{where}.custodian_id", 100)
        if any(holders[r] != custodian_id for r in named):
            raise FormatError(f"{where}: the manifest wraps this key's share for another "
                              "custodian")
        try:
            json_object(facts, f"{where}.facts", MAX_FACTS)
        except InputError as exc:
            raise FormatError(str(exc)) from None
        if not isinstance(item["remote"], bool):
            raise FormatError(f"{where}.remote must be true or false")
        tokens.append(ExportedToken(
            id=_text(item["id"], f"{where}.id", 100), custodian_id=custodian_id, kind=kind,
            label=_text(item["label"], f"{where}.label"), recipient=recipient, facts=facts,
            remote=item["remote"]))
    if len({t.id for t in tokens}) != len(tokens) or len({t.recipient for t in tokens}) != len(tokens):
        raise FormatError("a token is listed twice")
    return tuple(tokens)


def _parse_custodians(items: Any, manifest: Manifest) -> dict[str, str]:
    if not isinstance(items, list):
        raise FormatError("custodians must be a list")
    custodians: dict[str, str] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != {"id", "name"}:
            raise FormatError(f"custodians[{i}] must have exactly the fields id and name")
        cid = _text(item["id"], f"custodians[{i}].id", 100)
        if cid in custodians:
            raise FormatError(f"custodian {cid} is listed twice")
        custodians[cid] = _text(item["name"], f"custodians[{i}].name")
    if set(custodians) != set(manifest.custodian_names):
        raise FormatError("the custodians listed do not match the custodians of the manifest")
    if len({fold(n) for n in custodians.values()}) != len(custodians):
        raise FormatError("two custodians have the same name")
    return custodians


def parse_export(data: bytes) -> ExportFile:
    """Check every field of a ``.tessera`` file; raise FormatError naming the first fault."""
    if not isinstance(data, bytes | bytearray):
        raise FormatError("an export file must be bytes")
    if len(data) > MAX_EXPORT:
        raise FormatError(f"the file is larger than {MAX_EXPORT // (1024 * 1024)} MiB; it is "
                          "not a Tessera export")
    doc = canonical.loads(bytes(data), what="export file")
    if not isinstance(doc, dict) or set(doc) - _OPTIONAL != _TOP_KEYS:
        raise FormatError("this is not a Tessera export file (unexpected fields)")
    if doc["format"] != EXPORT_FORMAT:
        raise FormatError(f"unknown export format {doc['format']!r} (expected {EXPORT_FORMAT})")
    manifest_bytes = unb64(doc["manifest"], "the manifest")
    manifest = Manifest.from_bytes(manifest_bytes)
    _check_manifest_text(manifest)
    ciphertext = unb64(doc["ciphertext"], "the payload ciphertext")
    if not isinstance(doc["envelopes"], dict):
        raise FormatError("envelopes must be an object")
    envelopes = {k: unb64(v, f"the envelope of share {k}") for k, v in doc["envelopes"].items()}
    check_parts(manifest, ciphertext, envelopes)
    rewrapped = _parse_rewrapped(doc[_REWRAPPED], manifest) if _REWRAPPED in doc else {}
    _check_envelope_stanzas(manifest, envelopes, rewrapped)
    custodians = _parse_custodians(doc["custodians"], manifest)
    tokens = _parse_tokens(doc["tokens"], manifest, rewrapped)
    known = {r for t in tokens for r in (t.recipient, t.facts.get(PQ_RECIPIENT_FACT)) if r}
    if any(r not in known for rs in rewrapped.values() for r in rs):
        raise FormatError("a re-wrapped envelope names a key the file's tokens do not list")
    record = doc["record"]
    if not isinstance(record, dict) or set(record) != {"allow_software", "policy_overrides"}:
        raise FormatError("record must have exactly the fields allow_software and "
                          "policy_overrides")
    if not isinstance(record["allow_software"], bool):
        raise FormatError("record.allow_software must be true or false")
    overrides = record["policy_overrides"]
    if not isinstance(overrides, dict) or len(canonical.dumps(overrides)) > MAX_POLICY_OVERRIDES:
        raise FormatError("record.policy_overrides must be a small object")
    Policy().with_overrides(overrides)
    enrolments = _parse_enrolments(doc[_ENROLMENTS], tokens) if _ENROLMENTS in doc else {}
    return ExportFile(manifest, manifest_bytes, ciphertext, envelopes, custodians, tokens,
                      record["allow_software"], overrides, rewrapped, enrolments)


def _parse_enrolments(items: Any, tokens: tuple[ExportedToken, ...]
                      ) -> dict[str, Mapping[str, Any]]:
    """The shape of each signed enrolment; whether it proves anything is checked on import,
    against the importing vault's rules (statements.check_enrolment_proof)."""
    listed = {t.id: t for t in tokens}
    if not isinstance(items, dict):
        raise FormatError("enrolments must be an object")
    for token_id, proof in items.items():
        if token_id not in listed:
            raise FormatError(f"enrolments.{token_id}: no such token in the file")
        if listed[token_id].remote:
            raise FormatError(f"enrolments.{token_id}: the token was enrolled remotely and "
                              "signed nothing")
        if not isinstance(proof, dict) or set(proof) != statements.PROOF_KEYS:
            raise FormatError(f"enrolments.{token_id} must have exactly the fields "
                              f"{', '.join(sorted(statements.PROOF_KEYS))}")
    return dict(items)


# -- import --------------------------------------------------------------------------

def import_version(vault: Vault, data: bytes, actor: str,
                   check: statements.Check | None = None) -> ImportResult:
    """Import a ``.tessera`` file: all of it in one transaction, or nothing.

    A version already present with the same fingerprint (and the same ciphertext and
    envelopes) is reported as already imported and changes nothing. ``check`` verifies
    token signatures (custody/signing.py): with it, a token that carries its signed
    enrolment is imported as enrolled in person, the proof checked now and kept in the
    statement for every later replay; without it such a token is imported as remote.
    """
    parsed = parse_export(data)
    try:
        with vault.transaction() as conn:
            return _import(vault, conn, parsed, actor, check)
    except FormatError:
        raise
    except TesseraError as exc:  # a conflict with the vault: still "this file is refused"
        raise FormatError(f"the file cannot be imported: {exc}") from exc


def _same_version(stored: VersionData, parsed: ExportFile) -> bool:
    return (stored.manifest_bytes == parsed.manifest_bytes
            and stored.ciphertext == parsed.ciphertext
            and {k: e.age for k, e in stored.envelopes.items()} == dict(parsed.envelopes)
            and all(stored.recipients_of(k) == parsed.recipients_of(k)
                    for k in stored.envelopes))


def _import(vault: Vault, conn: sqlite3.Connection, parsed: ExportFile,
            actor: str, check: statements.Check | None) -> ImportResult:
    manifest = parsed.manifest
    label = manifest.label
    row = conn.execute("SELECT current_version, label FROM records WHERE id = ?",
                       (manifest.record_id,)).fetchone()
    if row is not None:
        label = row["label"]
        stored_row = conn.execute("SELECT 1 FROM versions WHERE record_id = ? AND version = ?",
                                  (manifest.record_id, manifest.version)).fetchone()
        if stored_row is not None:
            stored = vault.get_version(manifest.record_id, manifest.version)
            if stored.fingerprint != manifest.fingerprint:
                raise FormatError(f"this vault already holds version {manifest.version} of "
                                  f"{label!r} as {stored.fingerprint}; the file's version is "
                                  f"{manifest.fingerprint}: the two histories have diverged")
            if not _same_version(stored, parsed):
                raise FormatError(f"the file's copy of {label!r} version {manifest.version} "
                                  "differs from the one in the vault although the manifest is "
                                  "the same: one of them is damaged")
            return ImportResult(manifest.record_id, label, manifest.version,
                                manifest.fingerprint, already_imported=True,
                                created_record=False)
        current = int(row["current_version"])
        if manifest.version < current:
            raise FormatError(f"the file holds version {manifest.version} of {label!r}, older "
                              f"than the vault's current version {current}")
        if manifest.version > current + 1:
            raise FormatError(f"the vault has {label!r} at version {current}; import versions "
                              f"{current + 1} to {manifest.version - 1} first")
    custodians_added = _import_custodians(vault, conn, parsed)
    tokens_added = _import_tokens(vault, conn, parsed, check)
    created = row is None
    sealed = _as_sealed(parsed)
    if created:
        nhi = vault._nhi(manifest, {})
        vault._insert_record(conn, manifest, nhi, parsed.policy_overrides,
                             parsed.allow_software)
        vault._check_overrides(parsed.policy_overrides)
        vault._insert_version(conn, manifest, sealed.ciphertext, sealed.envelopes)
        vault._check_token_kinds(manifest, parsed.policy_overrides, parsed.allow_software)
        reason_details: dict[str, Any] = {"allow_software": parsed.allow_software,
                                          "policy_overrides": dict(parsed.policy_overrides)}
    else:
        vault.add_version(sealed, actor, "imported from a .tessera file")
        reason_details = {}
    for key, recipients in sorted(parsed.rewrapped.items()):
        conn.execute("UPDATE envelopes SET recipients = ?, revision = 1 WHERE record_id = ?"
                     " AND version = ? AND share_key = ?",
                     (canonical.dumps(list(recipients)).decode("utf-8"), manifest.record_id,
                      manifest.version, key))
    if parsed.rewrapped:
        reason_details["rewrapped"] = sorted(parsed.rewrapped)
    vault.append_audit(actor, "version.import", manifest.record_id, {
        "label": manifest.label, **quorum_details(manifest), "new_record": created,
        "custodians_added": len(custodians_added), "tokens_added": len(tokens_added),
        **reason_details})
    return ImportResult(manifest.record_id, manifest.label, manifest.version,
                        manifest.fingerprint, already_imported=False, created_record=created,
                        custodians_added=tuple(custodians_added),
                        tokens_added=tuple(tokens_added))


def _as_sealed(parsed: ExportFile) -> SealedVersion:
    return SealedVersion(parsed.manifest, parsed.manifest_bytes, parsed.ciphertext,
                         dict(parsed.envelopes))


def _import_custodians(vault: Vault, conn: sqlite3.Connection, parsed: ExportFile) -> list[str]:
    added: list[str] = []
    for cid, name in sorted(parsed.custodians.items()):
        if conn.execute("SELECT 1 FROM custodians WHERE id = ?", (cid,)).fetchone() is not None:
            continue  # known by id; the vault's current name wins
        clash = conn.execute("SELECT name FROM custodians WHERE name_key = ?",
                             (fold(name),)).fetchone()
        if clash is not None:
            raise FormatError(f"this vault has a different custodian named {clash['name']}; "
                              "rename one of them before importing")
        similar = vault._lookalike_custodian(conn, name)
        if similar is not None:
            raise FormatError(f"the file's custodian {visible(name)!r} looks like this vault's "
                              f"{visible(similar)!r} but is spelled with different characters; "
                              "rename one of them before importing")
        vault._insert_custodian(conn, cid, name)
        added.append(cid)
    return added


def _import_tokens(vault: Vault, conn: sqlite3.Connection, parsed: ExportFile,
                   check: statements.Check | None) -> list[str]:
    added: list[str] = []
    # In a signed vault a token arrives without having signed its own enrolment here
    # (FORMAT §7.1). With its signed enrolment from the exporting vault (checked now, and
    # carried in this write's statement so every replay checks it again) it is enrolled
    # in person, countersigned by the importing operator. Without one it is kept as
    # enrolled remotely — possession not proven, never a signer — and replay lists it
    # among the tokens whose possession is unproven.
    signed_vault = vault.genesis_fingerprint() is not None
    for token in parsed.tokens:
        known = conn.execute("SELECT custodian_id, kind, recipient FROM tokens WHERE id = ?",
                             (token.id,)).fetchone()
        if known is not None:
            if (known["custodian_id"], known["kind"], known["recipient"]) != (
                    token.custodian_id, token.kind.value, token.recipient):
                raise FormatError(f"token {token.id} in the file differs from the token with "
                                  "the same id in this vault")
            continue
        pq = token.facts.get(PQ_RECIPIENT_FACT)
        owner = conn.execute("SELECT c.name FROM tokens t JOIN custodians c"
                             " ON c.id = t.custodian_id WHERE t.recipient IN (?, ?)"
                             " OR json_extract(t.facts, '$.pq_recipient') IN (?, ?)",
                             (token.recipient, pq, token.recipient, pq)).fetchone()
        if owner is not None:
            raise FormatError(f"the key of token {token.label!r} is already enrolled for "
                              f"{owner['name']} under another id")
        if ATTESTATION_FACT in token.facts:
            # Imported tokens keep their attestation evidence; evidence that does not
            # verify here (forged, foreign, or a virtual key's outside a demo vault) is
            # refused, never kept as a claim. No evidence: unproven, counted as software.
            proof = token_attestation(token.kind.value, token.facts, demo_vault=vault.is_demo)
            if not proof.proven:
                raise FormatError(f"token {token.label!r} in the file claims an attestation "
                                  f"that does not verify ({proof.problem}); nothing was "
                                  "imported")
        facts = json_object(token.facts, "token facts", MAX_FACTS)
        proven = False
        enrolment = parsed.enrolments.get(token.id)
        if signed_vault and enrolment is not None and check is not None:
            row = {"id": token.id, "custodian_id": token.custodian_id, "kind": token.kind.value,
                   "label": token.label, "recipient": token.recipient, "facts": facts,
                   "remote": 0, "state": "active"}
            problem = statements.check_enrolment_proof(row, enrolment, check)
            if problem:
                raise FormatError(f"token {token.label!r} in the file carries a signed "
                                  f"enrolment that does not prove its key ({problem}); "
                                  "nothing was imported")
            vault.carry_enrolment(token.id, enrolment)
            proven = True
        conn.execute("INSERT INTO tokens (id, custodian_id, kind, label, recipient, facts, remote,"
                     " state, enrolled_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?)",
                     (token.id, token.custodian_id, token.kind.value, token.label,
                      token.recipient, facts,
                      int(token.remote or (signed_vault and not proven)), vault.now()))
        added.append(token.id)
    return added
