"""Custodians and their enrolled tokens."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Mapping
from typing import Any

from tessera.core import age
from tessera.core.errors import FormatError, InputError, NotFound, PolicyError
from tessera.core.text import LookalikeName, lookalike
from tessera.core.token_types import PQ_RECIPIENT_FACT, TokenInfo, TokenKind, TokenState

from .codec import (
    MAX_FACTS,
    MAX_NAME,
    clean_text,
    custodian_from_row,
    fold,
    json_object,
    token_from_row,
)
from .connection import VaultConnection
from .errors import Conflict
from .models import Custodian, CustodianState, TokenRecord

# Software and FIDO2-derived keys are X25519 recipients (with a post-quantum age1pq1…
# recipient in their facts) or age1pq1… alone when enrolled remotely; YubiKey PIV slots
# are age-plugin-yubikey (piv-p256) recipients (with an age1tagpq1… one in their facts),
# or age1tag1… / age1tagpq1… when enrolled remotely.
_PIV_PREFIXES = ("age1yubikey1", "age1tag1", "age1tagpq1")
# Spelled here because ``TokenKind.title`` is shadowed by ``str.title`` on the enum.
KIND_NAMES = {TokenKind.FIDO2: "FIDO2 key", TokenKind.PIV: "YubiKey PIV",
              TokenKind.SOFTWARE: "software key"}
_TOKEN_SELECT = ("SELECT t.*, c.name AS custodian_name FROM tokens t"  # noqa: S105 (SQL, not a password)
                 " JOIN custodians c ON c.id = t.custodian_id")


def check_recipient(kind: TokenKind, recipient: str) -> str:
    """The recipient string, if it has the form of ``kind``'s recipients."""
    text = recipient.strip() if isinstance(recipient, str) else ""
    expected = ("age1yubikey1…, age1tag1… or age1tagpq1…" if kind is TokenKind.PIV
                else "age1pq1… or age1…")
    try:
        age.parse_recipient(text)
    except FormatError:
        raise InputError(f"that is not a valid {KIND_NAMES[kind]} recipient (expected {expected})"
                         ) from None
    if text.startswith(_PIV_PREFIXES) != (kind is TokenKind.PIV):
        raise InputError(f"that is not a {KIND_NAMES[kind]} recipient (expected {expected})")
    return text


def check_pq_fact(kind: TokenKind, recipient: str, facts: Mapping[str, Any]) -> str | None:
    """The token's extra post-quantum recipient from ``facts``, checked; None when absent.

    Software and FIDO2 tokens carry an ``age1pq1…`` one beside their ``age1…``
    recipient; a YubiKey PIV slot an ``age1tagpq1…`` one beside its ``age1yubikey1…``
    (its ML-KEM half in a PIN-protected object on the card; docs/TOKENS.md).
    """
    extra = facts.get(PQ_RECIPIENT_FACT)
    if extra is None:
        return None
    if not isinstance(extra, str) or age.is_post_quantum(recipient):
        raise InputError("only a token with a classical recipient can have a post-quantum "
                         "recipient beside it")
    try:
        parsed = age.parse_recipient(extra)
    except FormatError:
        raise InputError("the token's post-quantum recipient is not valid") from None
    wanted = (age.MlKem768P256TagRecipient if kind is TokenKind.PIV
              else age.MlKem768X25519Recipient)
    if not isinstance(parsed, wanted):
        raise InputError("the token's post-quantum recipient must be "
                         + ("age1tagpq1…" if kind is TokenKind.PIV else "age1pq1…"))
    return extra


class CustodiansMixin(VaultConnection):
    """Custodians (people) and the tokens their shares are wrapped to."""

    # -- custodians ----------------------------------------------------------------
    def add_custodian(self, name: str, contact: str, role: str, actor: str, *,
                      allow_lookalike: bool = False) -> Custodian:
        """Add a custodian. A name that looks like an existing one ("Аlice" with a
        Cyrillic А against "Alice") is refused with :class:`LookalikeName` unless
        ``allow_lookalike`` says the operator checked it is another person."""
        clean = clean_text(name, "custodian name", MAX_NAME, required=True)
        contact = clean_text(contact, "contact")
        role = clean_text(role, "role", MAX_NAME)
        with self.transaction() as conn:
            clash = conn.execute("SELECT name FROM custodians WHERE name_key = ?",
                                 (fold(clean),)).fetchone()
            if clash is not None:
                raise Conflict(f"there is already a custodian named {clash['name']}")
            similar = self._lookalike_custodian(conn, clean)
            if similar is not None and not allow_lookalike:
                raise LookalikeName("custodian name", clean, similar)
            custodian = Custodian(str(uuid.uuid4()), clean, contact, role, self.now(),
                                  CustodianState.ACTIVE)
            conn.execute("INSERT INTO custodians (id, name, name_key, contact, role, created_at,"
                         " state) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (custodian.id, clean, fold(clean), contact, role,
                          custodian.created_at, custodian.state.value))
            details = {"name": clean, "role": role}
            if similar is not None:
                details["looks_like"] = similar
            self._audit(actor, "custodian.add", custodian.id, details)
        return custodian

    def _lookalike_custodian(self, conn: sqlite3.Connection, name: str) -> str | None:
        names = [str(r["name"]) for r in conn.execute("SELECT name FROM custodians")]
        return lookalike(name, names)

    def custodian_lookalike(self, name: str) -> str | None:
        """The existing custodian name ``name`` could be mistaken for, if any."""
        with self.reading() as conn:
            return self._lookalike_custodian(conn, name)

    def _insert_custodian(self, conn: sqlite3.Connection, custodian_id: str, name: str) -> None:
        """Insert a custodian known by id from elsewhere (an import); caller audits."""
        conn.execute("INSERT INTO custodians (id, name, name_key, contact, role, created_at, state)"
                     " VALUES (?, ?, ?, '', '', ?, 'active')",
                     (custodian_id, name, fold(name), self.now()))

    def list_custodians(self, include_retired: bool = False) -> list[Custodian]:
        sql = "SELECT * FROM custodians"
        if not include_retired:
            sql += " WHERE state = 'active'"
        with self.reading() as conn:
            rows = conn.execute(sql + " ORDER BY name_key").fetchall()
        return [custodian_from_row(r) for r in rows]

    def get_custodian(self, id_or_name: str) -> Custodian:
        """By id, or by name ignoring case."""
        with self.reading() as conn:
            row = conn.execute("SELECT * FROM custodians WHERE id = ? OR name_key = ?"
                               " ORDER BY id = ? DESC LIMIT 1",
                               (id_or_name, fold(id_or_name), id_or_name)).fetchone()
        if row is None:
            raise NotFound(f"there is no custodian {id_or_name!r} in this vault")
        return custodian_from_row(row)

    def set_custodian_state(self, custodian_id: str, state: CustodianState | str, actor: str,
                            reason: str = "") -> Custodian:
        new = CustodianState(state)
        reason = clean_text(reason, "reason")
        with self.transaction() as conn:
            custodian = self.get_custodian(custodian_id)
            if custodian.state is new:
                return custodian
            conn.execute("UPDATE custodians SET state = ? WHERE id = ?", (new.value, custodian.id))
            self._audit(actor, "custodian.state", custodian.id,
                        {"name": custodian.name, "from": custodian.state.value,
                         "to": new.value, "reason": reason})
            return self.get_custodian(custodian.id)

    # -- tokens --------------------------------------------------------------------
    def add_token(self, custodian_id: str, kind: TokenKind | str, label: str, recipient: str,
                  facts: Mapping[str, Any], actor: str, remote: bool = False,
                  token_id: str | None = None) -> TokenInfo:
        """Enrol a token; refused when its recipient is already enrolled to anyone."""
        try:
            token_kind = TokenKind(kind)
        except ValueError:
            raise InputError(f"unknown token kind {kind!r}") from None
        label = clean_text(label, "token label", MAX_NAME, required=True)
        recipient = check_recipient(token_kind, recipient)
        pq = check_pq_fact(token_kind, recipient, facts)
        facts_text = json_object(facts, "token facts", MAX_FACTS)
        with self.transaction() as conn:
            custodian = self.get_custodian(custodian_id)
            if custodian.state is not CustodianState.ACTIVE:
                raise PolicyError(f"{custodian.name} is retired; tokens cannot be enrolled")
            self._refuse_enrolled(conn, recipient)
            if pq is not None:
                self._refuse_enrolled(conn, pq)
            token_id = token_id or str(uuid.uuid4())
            conn.execute("INSERT INTO tokens (id, custodian_id, kind, label, recipient, facts,"
                         " remote, state, enrolled_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?)",
                         (token_id, custodian.id, token_kind.value, label, recipient, facts_text,
                          int(bool(remote)), self.now()))
            self._audit(actor, "token.enrol", token_id,
                        {"custodian_id": custodian.id, "custodian": custodian.name,
                         "kind": token_kind.value, "label": label, "recipient": recipient,
                         "remote": bool(remote)})
            return self.get_token(token_id)

    def _refuse_enrolled(self, conn: sqlite3.Connection, recipient: str) -> None:
        row = conn.execute("SELECT c.name FROM tokens t JOIN custodians c ON c.id = t.custodian_id"
                           " WHERE t.recipient = ? OR json_extract(t.facts, '$.pq_recipient') = ?",
                           (recipient, recipient)).fetchone()
        if row is not None:
            raise Conflict(f"this key is already enrolled for {row['name']}")

    def list_token_records(self, custodian_id: str | None = None,
                           include_inactive: bool = False) -> list[TokenRecord]:
        """Tokens with their enrolment and drill dates."""
        clauses: list[str] = []
        args: list[str] = []
        if custodian_id is not None:
            clauses.append("t.custodian_id = ?")
            args.append(custodian_id)
        if not include_inactive:
            clauses.append("t.state = 'active'")
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        with self.reading() as conn:
            rows = conn.execute(_TOKEN_SELECT + where + " ORDER BY c.name_key, t.enrolled_at",
                                args).fetchall()
        return [token_from_row(r) for r in rows]

    def list_tokens(self, custodian_id: str | None = None,
                    include_inactive: bool = False) -> list[TokenInfo]:
        return [t.info for t in self.list_token_records(custodian_id, include_inactive)]

    def get_token_record(self, token_id: str) -> TokenRecord:
        with self.reading() as conn:
            row = conn.execute(_TOKEN_SELECT + " WHERE t.id = ?", (token_id,)).fetchone()
        if row is None:
            raise NotFound(f"there is no token {token_id!r} in this vault")
        return token_from_row(row)

    def get_token(self, token_id: str) -> TokenInfo:
        return self.get_token_record(token_id).info

    def token_for_recipient(self, recipient: str) -> TokenInfo | None:
        """The token named by ``recipient``: its main one or its post-quantum one."""
        with self.reading() as conn:
            row = conn.execute(_TOKEN_SELECT + " WHERE t.recipient = ?"
                               " OR json_extract(t.facts, '$.pq_recipient') = ?",
                               (recipient, recipient)).fetchone()
        return None if row is None else token_from_row(row).info

    def set_token_state(self, token_id: str, state: TokenState | str, actor: str,
                        reason: str) -> TokenInfo:
        """Retire a token or report it lost. A lost or retired token never becomes
        active again: a key that was out of sight is enrolled afresh."""
        new = TokenState(state)
        reason = clean_text(reason, "reason")
        with self.transaction() as conn:
            token = self.get_token(token_id)
            old = token.state
            if old is new:
                return token
            if new is TokenState.ACTIVE or old is TokenState.LOST:
                raise PolicyError(f"a {old.value} token cannot become {new.value}; "
                                  "enrol the key again instead")
            conn.execute("UPDATE tokens SET state = ?, state_reason = ? WHERE id = ?",
                         (new.value, reason, token.id))
            self._audit(actor, "token.state", token.id,
                        {"custodian_id": token.custodian_id, "label": token.label,
                         "from": old.value, "to": new.value, "reason": reason})
            return self.get_token(token.id)
