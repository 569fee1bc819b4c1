"""Signed statements: the log the vault's tables are a projection of (FORMAT §7.1).

Per-connection TEMP triggers note the key of every row a transaction touches; just
before COMMIT :func:`emit` turns those keys into one statement (the rows as they now
are, or ``null`` for a deleted row), chains it, has the signers sign its hash and
stores it. :func:`replay` rebuilds every table from the statements, checks chain,
signatures and the enrolment rules, and compares the result with the tables.

The vault layer cannot check a token's signature itself (that is the token drivers'
job); :func:`replay` takes a ``check`` callback the custody layer supplies.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, NamedTuple, Protocol

from tessera.core import canonical
from tessera.core.errors import FormatError, IntegrityError
from tessera.core.turns import give_way

from . import audit, ceremony_key
from .models import AuditVerdict

ZERO = "00" * 32
DOMAIN = b"tessera/statement/v1\0"
NOT_PROJECTED = frozenset({"audit", "statements"})
# A token's identity: changing one of these re-enrols it, so it must sign again.
TOKEN_IDENTITY = ("kind", "recipient", "facts", "custodian_id")
FORMAT_VERSION = 1
_NAME = re.compile(r"[a-z][a-z0-9_]*")

class Check(Protocol):
    """What replay needs of the token layer, which the vault layer does not know: the
    custody layer supplies it (custody/signing.py ``SignatureCheck``)."""

    def __call__(self, row: Mapping[str, Any], challenge: bytes,
                 evidence: Mapping[str, Any]) -> bool:
        """Does ``evidence`` verify for the token of ``row`` over ``challenge``?"""
        ...

    def proven_hardware(self, row: Mapping[str, Any], *, demo_vault: bool) -> bool:
        """Is the token of ``row`` proven hardware: its attestation verifies against the
        trust store (the virtual keys' demo CA only in demo vaults)? A claimed kind
        proves nothing."""
        ...


class StatementSigner(Protocol):
    """A token that signs statements (the custody layer wraps a driver in one)."""

    token_id: str

    def sign(self, challenge: bytes) -> Mapping[str, Any]:
        """Evidence JSON (``token_id``, ``method``, ``algorithm``, ``signature`` hex,
        ``data``) over the 32-byte ``challenge``."""
        ...


# Who may be named as the actor of the audit entries a statement covers: the names of
# its signers' custodians, MIGRATION (an unsigned schema migration: one vault.migrate
# entry), or None (no rule: before and at the genesis).
MIGRATION = "migration"
Acting = frozenset[str] | str | None


# -- schema introspection ----------------------------------------------------------

@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]


def projected_tables(conn: sqlite3.Connection) -> list[Table]:
    """Every table of the vault that the statements project, from the live schema."""
    names = [str(r[0]) for r in conn.execute(
        "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " ORDER BY name")]
    tables: list[Table] = []
    for name in names:
        if name in NOT_PROJECTED:
            continue
        if not _NAME.fullmatch(name):
            # Names are spliced into trigger SQL: a planted table's odd name is refused.
            raise IntegrityError(f"the vault holds a table named {name!r} that Tessera "
                                 "never makes; it was changed by other software")
        info = conn.execute(f'PRAGMA main.table_info("{name}")').fetchall()
        columns = tuple(str(r[1]) for r in info)
        key = tuple(str(r[1]) for r in sorted((r for r in info if r[5]), key=lambda r: r[5]))
        tables.append(Table(name, columns, key or ("rowid",)))
    return tables


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def install_capture(conn: sqlite3.Connection) -> None:
    """(Re)create the TEMP change log and one trigger per table and operation."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS tessera_changed"
                 " (t TEXT NOT NULL, k TEXT NOT NULL)")
    for (name,) in conn.execute("SELECT name FROM temp.sqlite_master WHERE type = 'trigger'"
                                " AND name LIKE 'tessera_cap_%'").fetchall():
        conn.execute(f"DROP TRIGGER temp.{_q(str(name))}")
    for table in projected_tables(conn):
        for op, refs in (("INSERT", ("NEW",)), ("UPDATE", ("OLD", "NEW")), ("DELETE", ("OLD",))):
            inserts = " ".join(
                # No key on the change table: an outer UPSERT's conflict policy would override an
                # OR IGNORE here (SQLite), so duplicates are dropped when read.
                "INSERT INTO tessera_changed (t, k) VALUES "  # noqa: S608
                f"('{table.name}', json_array({', '.join(f'{ref}.{_q(c)}' for c in table.key)}));"
                for ref in refs)
            conn.execute(f"CREATE TEMP TRIGGER {_q('tessera_cap_' + op.lower() + '_' + table.name)}"
                         f" AFTER {op} ON main.{_q(table.name)} BEGIN {inserts} END")


def mark_all(conn: sqlite3.Connection, *, only: str | None = None) -> None:
    """Note every existing row as changed (the statement a migration records); ``only``:
    every row of that one table (the genesis lists the token rows, unchanged, so each
    token that signs it signs its own row — the enrolment it can carry to another vault,
    :func:`enrolment_proof`)."""
    for table in projected_tables(conn):
        if only is not None and table.name != only:
            continue
        keys = ", ".join(_q(c) for c in table.key)
        conn.execute(f"INSERT INTO temp.tessera_changed (t, k) "  # noqa: S608
                     f"SELECT '{table.name}', json_array({keys}) FROM main.{_q(table.name)}")


def pending(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM temp.tessera_changed LIMIT 1").fetchone() is not None


def clear(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM temp.tessera_changed")


def cell(value: Any) -> Any:
    """A stored value as the statement holds it (BLOBs by hash)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return {"sha256": hashlib.sha256(bytes(value)).hexdigest()}
    if isinstance(value, float):
        raise FormatError("the vault holds no floating-point cells")
    return value


def _changes(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    tables = {t.name: t for t in projected_tables(conn)}
    out: list[dict[str, Any]] = []
    for name, key_text in conn.execute("SELECT DISTINCT t, k FROM temp.tessera_changed ORDER BY t, k"
                                       ).fetchall():
        table = tables[str(name)]
        key = json.loads(str(key_text))
        where = " AND ".join(f"{_q(c)} IS ?" for c in table.key)
        cols = ", ".join(_q(c) for c in table.columns)
        found = conn.execute(f"SELECT {cols} FROM main.{_q(table.name)} WHERE {where}",  # noqa: S608
                             key).fetchone()
        row = None if found is None else {c: cell(v) for c, v in zip(table.columns, found,
                                                                      strict=True)}
        out.append({"t": table.name, "k": key, "row": row})
    return out


# -- the chain ---------------------------------------------------------------------

def statement_hash(prev: str, body: bytes) -> str:
    return hashlib.sha256(DOMAIN + bytes.fromhex(prev) + body).hexdigest()


def head(conn: sqlite3.Connection) -> tuple[int, str]:
    row = conn.execute("SELECT seq, hash FROM statements ORDER BY seq DESC LIMIT 1").fetchone()
    return (0, ZERO) if row is None else (int(row[0]), str(row[1]))


def genesis(conn: sqlite3.Connection) -> tuple[int, str] | None:
    row = conn.execute("SELECT seq, hash FROM statements WHERE kind = 'genesis'"
                       " ORDER BY seq LIMIT 1").fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


def emit(conn: sqlite3.Connection, *, at: str, kind: str, signers: Sequence[StatementSigner],
         trust: Sequence[str] = (),
         proofs: Mapping[str, Mapping[str, Any]] | None = None,
         ceremony: Mapping[str, str] | None = None) -> tuple[int, str]:
    """Append the statement of the transaction in progress; the caller holds it.

    ``proofs``: for a token imported with its signed enrolment from another vault, that
    enrolment (:func:`enrolment_proof`), carried in the body so that every replay
    re-checks it. ``ceremony`` (``{"release", "key"}``) authorises a ceremony key for
    that release."""
    seq, prev = head(conn)
    body_obj: dict[str, Any] = {
        "v": FORMAT_VERSION, "seq": seq + 1, "prev": prev, "at": at, "kind": kind,
        "audit": list(audit.head(conn)), "changes": _changes(conn),
        "signers": [s.token_id for s in signers]}
    if kind == "genesis":
        body_obj["trust"] = list(trust)
    if proofs:
        body_obj["proofs"] = {k: dict(v) for k, v in proofs.items()}
    if ceremony is not None:
        body_obj["ceremony"] = dict(ceremony)
    body = canonical.dumps(body_obj)
    digest = statement_hash(prev, body)
    signatures = [dict(s.sign(bytes.fromhex(digest))) for s in signers]
    conn.execute("INSERT INTO statements (seq, kind, body, hash, signatures) VALUES (?, ?, ?, ?, ?)",
                 (seq + 1, kind, body.decode("utf-8"), digest,
                  canonical.dumps(signatures).decode("utf-8")))
    clear(conn)
    return seq + 1, digest


# -- enrolment proofs (a token's signed enrolment, carried by a .tessera file) ------

MAX_PROOF_BODY = 256 * 1024
PROOF_KEYS = frozenset({"prev", "body", "signature"})


def enrolment_proof(conn: sqlite3.Connection, token_id: str,
                    identity: Mapping[str, Any]) -> dict[str, Any] | None:
    """The newest statement that set this token's row with ``identity`` (its current
    kind, recipient, facts and custodian) and that the token itself signed — its
    enrolment, or the genesis it signed — as ``{"prev", "body", "signature"}``;
    ``None`` when it never signed its own row (enrolled remotely, or before a genesis
    it did not sign)."""
    pattern = f'%"{token_id}"%'
    cursor = conn.cursor()
    cursor.row_factory = None
    for _, prev_hash, body_text, sig_text in cursor.execute(
            "SELECT s.seq, COALESCE(p.hash, ?), s.body, s.signatures FROM statements s"
            " LEFT JOIN statements p ON p.seq = s.seq - 1"
            " WHERE s.signatures LIKE ? AND s.body LIKE ? ORDER BY s.seq DESC",
            (ZERO, pattern, pattern)):
        if len(str(body_text)) > MAX_PROOF_BODY:
            continue
        body = json.loads(str(body_text))
        if token_id not in body.get("signers", []) or _proof_row(body, token_id, identity) is None:
            continue
        signatures = json.loads(str(sig_text))
        mine = next((e for e in signatures if isinstance(e, dict)
                     and e.get("token_id") == token_id), None)
        if mine is not None:
            return {"prev": str(prev_hash), "body": str(body_text), "signature": mine}
    return None


def _proof_row(body: Mapping[str, Any], token_id: str,
               identity: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for change in body.get("changes", []):
        if (isinstance(change, dict) and change.get("t") == "tokens"
                and change.get("k") == [token_id] and isinstance(change.get("row"), dict)):
            row = change["row"]
            same = all(row.get(c) == identity.get(c) for c in TOKEN_IDENTITY if c != "facts")
            try:
                same = same and json.loads(str(row.get("facts"))) == json.loads(
                    str(identity.get("facts")))
            except ValueError:
                return None
            return row if same else None
    return None


def check_enrolment_proof(row: Mapping[str, Any], proof: Any, check: Check) -> str:
    """Why ``proof`` does not prove that the key of token ``row`` signed its own enrolment
    (``""``: it does). The proof is a statement of another vault: its hash is computed
    here from ``prev`` and ``body`` (nothing in it is taken on trust), its changes must
    set this token's row with the same kind, recipient, facts and custodian, and the
    token's signature over that hash must verify with the key ``row`` enrols."""
    if not isinstance(proof, dict) or set(proof) != PROOF_KEYS:
        return "its signed enrolment is malformed"
    prev, body_text, signature = proof["prev"], proof["body"], proof["signature"]
    if not isinstance(prev, str) or not re.fullmatch(r"[0-9a-f]{64}", prev) \
            or not isinstance(body_text, str) or len(body_text) > MAX_PROOF_BODY \
            or not isinstance(signature, dict):
        return "its signed enrolment is malformed"
    token_id = str(row.get("id"))
    try:
        body_bytes = body_text.encode("utf-8")
        body = canonical.loads(body_bytes, what="signed enrolment")
    except (FormatError, UnicodeEncodeError):
        return "its signed enrolment is not canonical JSON"
    if not isinstance(body, dict) or token_id not in body.get("signers", []):
        return "its signed enrolment is not signed by the token"
    if _proof_row(body, token_id, row) is None:
        return "its signed enrolment enrols another key (kind, recipient, facts or custodian differ)"
    if signature.get("token_id") != token_id or not check(
            row, bytes.fromhex(statement_hash(prev, body_bytes)), signature):
        return "the token's signature on its enrolment does not verify"
    return ""


# -- replay ------------------------------------------------------------------------

@dataclass(frozen=True)
class Difference:
    """The first place where the tables and the signed log disagree."""

    table: str
    key: tuple[Any, ...]
    column: str | None  # None: the whole row is missing or extra
    expected: Any
    found: Any
    statement: int | None  # the statement that last set this row
    name: str = ""  # the signed row's label or name, for people

    def describe(self) -> str:
        where = f"{self.table} row {', '.join(map(str, self.key))}"
        if self.name:
            where += f" ({self.name})"
        said = (f" (statement {self.statement} says {self.expected!r})"
                if self.statement is not None else "")
        if self.column is None:
            if self.found is None:
                return f"{where} was deleted{said}: the signed log still has it"
            return f"{where} was inserted but no signed statement made it"
        return f"{where}: column {self.column} is {self.found!r}{said}"


@dataclass(frozen=True)
class CeremonyGrant:
    """A ceremony key a verified statement authorised for one release (FORMAT §7.1)."""

    release: str
    key: str  # Ed25519 public key, hex
    token_id: str  # the trusted token that signed the grant: its custodian acts
    statement: int  # the statement that authorised it (the release's request)


Tables = dict[str, dict[tuple[Any, ...], tuple[dict[str, Any], int]]]


class ProjectionMoved(Exception):
    """The projection a replay was to resume from is no longer kept (another process saved
    a newer one): the caller replays from the first statement instead."""


@dataclass
class Replay:
    """The result of replaying the statements (the projection and what was proven)."""

    ok: bool
    statements: int = 0
    head: tuple[int, str] = (0, ZERO)
    genesis: tuple[int, str] | None = None
    problem: str = ""
    bad_statement: int | None = None
    difference: Difference | None = None
    unsigned_before_genesis: int = 0
    unproven_possession: list[str] = field(default_factory=list)
    trusted: set[str] = field(default_factory=set)
    # The audit head the last statement signed (the chain's head when it verified).
    audit_head: tuple[int, str] = (0, audit.ZERO_HASH)
    # (table, key) of every row the statements replayed here set or deleted.
    touched: set[tuple[str, tuple[Any, ...]]] = field(default_factory=set)
    # The audit chain's verdict (recomputed after ``start``'s audit head when resuming).
    audit: AuditVerdict | None = None
    resumed_from: int = 0  # the statement a resumed replay continued after (0: from the first)
    # Ceremony keys by release id: who authorised each (for the actor of what it signs).
    ceremony_keys: dict[str, CeremonyGrant] = field(default_factory=dict)
    # The digest of the live tables (:func:`tables_digest`) when they were found equal to
    # this projection: a later check that replays no new statement and finds the same
    # digest needs no row-by-row comparison ("" : not known).
    tables_digest: str = ""
    # The projection, by table and key: the row and the statement that last set it.
    _tables: Tables = field(default_factory=dict, repr=False)
    # Reads the projection on first use (a workstation's store: most opens never need it).
    _load_tables: Callable[[], Tables] | None = field(default=None, repr=False, compare=False)

    @property
    def tables(self) -> Tables:
        if self._load_tables is not None:
            load, self._load_tables = self._load_tables, None
            self._tables.update(load())
        return self._tables

    @property
    def tables_loaded(self) -> bool:
        return self._load_tables is None

    def tables_later(self, load: Callable[[], Tables]) -> None:
        """Read the projection with ``load`` only when it is first used."""
        self._tables.clear()
        self._load_tables = load

    def acting_token(self, signer: str) -> str | None:
        """The token that acts through a ``signers`` entry: itself, or for a ceremony
        key the token that authorised it (None: a ceremony key nobody authorised)."""
        release = ceremony_key.release_of(signer)
        if release is None:
            return signer
        grant = self.ceremony_keys.get(release)
        return None if grant is None else grant.token_id

    def token_row(self, token_id: str) -> dict[str, Any] | None:
        found = self.tables.get("tokens", {}).get((token_id,))
        return None if found is None else found[0]


def _iter(conn: sqlite3.Connection, after: int, until: int | None
          ) -> Iterator[tuple[Any, ...]]:
    cursor = conn.cursor()
    cursor.row_factory = None
    if until is None:
        yield from cursor.execute("SELECT seq, kind, body, hash, signatures FROM statements"
                                  " WHERE seq > ? ORDER BY seq", (after,))
    else:
        yield from cursor.execute("SELECT seq, kind, body, hash, signatures FROM statements"
                                  " WHERE seq > ? AND seq <= ? ORDER BY seq", (after, until))


def genesis_quorum(eligible: int) -> int:
    """Custodians whose tokens must sign a genesis: more than half of the ``eligible``
    ones (custodians with a token that can sign)."""
    return eligible // 2 + 1


def _signing_custodians(tables: Mapping[str, Any]) -> set[str]:
    custodians = {k[0] for k, (row, _) in tables.get("custodians", {}).items()
                  if row.get("state") == "active"}
    return {row["custodian_id"] for (row, _) in tables.get("tokens", {}).values()
            if row.get("state") == "active" and row.get("remote") == 0
            and row.get("custodian_id") in custodians}


def replay(conn: sqlite3.Connection, check: Check | None, *, compare: bool = True,
           start: Replay | None = None, until: int | None = None,
           expected_audit_head: tuple[int, str] | None = None,
           seen: dict[str, SeenTable] | None = None,
           forms_checked: tuple[int, str] | None = None) -> Replay:
    """Replay every statement; with ``check`` verify every signature and rule.

    ``check`` ``None`` checks the chain and the projection only (the plain hash-chain
    level of assurance, for the benchmark's yardstick and for vaults' opening when no
    drivers are at hand).

    ``start`` resumes from an earlier, verified replay (its head must still be in the
    log): only the statements after it are read and checked, and only the audit entries
    after the audit head it verified — what a workstation that kept its last verified
    replay needs (the tables are still compared in full). ``until`` stops at that
    statement (and skips the comparison with the tables, which hold the newest state).
    ``expected_audit_head`` is a head printed on a transcript (``audit verify --head``).
    ``seen`` is filled with the tables as the comparison read them (:func:`tables_digest`);
    it describes tables that match the signed log only when the result is ok.
    ``forms_checked``: an audit head verified on this computer before, for a replay from
    the first statement (:func:`tessera.vault.audit.verify`).
    """
    result = Replay(ok=True)
    prev = ZERO
    expected_seq = 1
    if start is not None:
        if not start.ok:
            raise ValueError("resume only from a replay that verified")
        result.tables_later(lambda: {name: dict(rows) for name, rows in start.tables.items()})
        result.genesis = start.genesis
        result.trusted = set(start.trusted)
        result.unsigned_before_genesis = start.unsigned_before_genesis
        result.unproven_possession = list(start.unproven_possession)
        result.statements = start.statements
        result.audit_head = start.audit_head
        result.ceremony_keys = dict(start.ceremony_keys)
        result.resumed_from = start.head[0]
        expected_seq, prev = start.head[0] + 1, start.head[1]
        found = conn.execute("SELECT hash FROM statements WHERE seq = ?",
                             (start.head[0],)).fetchone()
        if start.head[0] and (found is None or found[0] != prev):
            result.ok = False
            result.bad_statement = start.head[0]
            result.problem = (
                f"the signed log ends before statement {start.head[0]}, which was verified "
                "before: this is an older copy of the vault (rolled back), or newer statements "
                "were removed" if found is None else
                f"statement {start.head[0]} is not the one verified before: the log was "
                "rewritten")
            return result
    if until is not None:
        compare = False

    def fail(seq: int | None, problem: str) -> Replay:
        result.ok = False
        result.problem = problem
        result.bad_statement = seq
        return result

    audit_heads: list[tuple[int, int, str]] = []
    # (statement, audit entries after, up to, who may be named as their actor)
    covered: list[tuple[int, int, int, Acting]] = []
    last_audit_seq = result.audit_head[0]
    newest = conn.execute("SELECT max(seq) FROM statements").fetchone()[0] or 0
    canonical.expect(min(newest, until or newest) - expected_seq + 1)  # bodies to judge
    for seq, kind, body_text, digest, sig_text in _iter(conn, expected_seq - 1, until):
        give_way()  # a full replay steps through thousands of statements (core/turns.py)
        if seq != expected_seq:
            return fail(expected_seq, f"statement {expected_seq} is missing")
        try:
            body_bytes = str(body_text).encode("utf-8")
            body = canonical.loads(body_bytes, what=f"statement {seq}")
            # Signatures are outside the hashed body: read only when they are checked.
            signatures = [] if check is None else canonical.loads(
                str(sig_text).encode("utf-8"), what=f"statement {seq} signatures")
        except (FormatError, UnicodeEncodeError):
            return fail(seq, f"statement {seq} is damaged (not canonical JSON)")
        if not isinstance(body, dict) or not isinstance(signatures, list):
            return fail(seq, f"statement {seq} is damaged")
        if body.get("seq") != seq or body.get("prev") != prev or body.get("kind") != kind:
            return fail(seq, f"statement {seq} does not follow statement {seq - 1}: statements "
                             "were removed, reordered or replaced")
        if statement_hash(prev, body_bytes) != digest:
            return fail(seq, f"statement {seq} was changed after it was written")
        head_seq, head_hash = body.get("audit", [0, audit.ZERO_HASH])
        if check is not None:
            problem, acting = _check_signatures(result, seq, body, signatures, digest, check)
            problem = (problem or _note_ceremony_grant(result, seq, body, check)
                       or _ceremony_audit_scope(conn, seq, body, last_audit_seq))
            if problem:
                return fail(seq, problem)
            if acting is not None:
                covered.append((seq, last_audit_seq, int(head_seq), acting))
        touched = result.touched
        tables = result.tables
        for change in body.get("changes", []):
            key = tuple(change["k"])
            name = str(change["t"])
            table = tables.setdefault(name, {})
            touched.add((name, key))
            if change["row"] is None:
                table.pop(key, None)
            else:
                table[key] = (change["row"], seq)
        if kind == "genesis" and result.genesis is None:
            result.genesis = (seq, str(digest))
            # The genesis vouches for the whole state it signs: every token then enrolled.
            result.trusted = {str(k[0]) for k in tables.get("tokens", {})}
        elif result.genesis is None:
            result.unsigned_before_genesis += 1
        audit_heads.append((seq, int(head_seq), str(head_hash)))
        last_audit_seq = int(head_seq)
        prev = str(digest)
        expected_seq += 1
        result.statements += 1
    result.head = (expected_seq - 1, prev)
    resumed_audit = start.audit_head if start is not None and start.audit_head[0] else None
    chain = audit.verify(conn, expected_audit_head,
                         verified_before=resumed_audit, only_new=resumed_audit is not None,
                         forms_checked=forms_checked)
    result.audit = chain
    if not chain.ok:
        return fail(None, f"audit log: {chain.problem}")
    mismatch = _audit_heads_differ(conn, audit_heads)
    if mismatch is not None:
        seq, head_seq = mismatch
        return fail(seq, f"audit entry {head_seq} is not the one statement {seq} signed: "
                         "the audit log was rewritten")
    wrong_actor = _actors_differ(conn, covered)
    if wrong_actor is not None:
        return fail(*wrong_actor)
    signed_any = bool(audit_heads) or (start is not None and start.head[0] > 0)
    last_audit = audit_heads[-1][1:] if audit_heads else result.audit_head
    if (chain.head_seq, chain.head_hash) != tuple(last_audit) and signed_any and until is None:
        return fail(None, f"audit entries after {last_audit[0]} are not covered by any "
                          "signed statement")
    result.audit_head = (int(last_audit[0]), str(last_audit[1]))
    if compare:
        digest = tables_digest(conn, seen)
        unchanged = (start is not None and result.statements == start.statements
                     and bool(start.tables_digest) and digest == start.tables_digest)
        if not unchanged:  # compared row by row: the first difference is named
            difference = compare_tables(conn, result.tables)
            if difference is not None:
                result.difference = difference
                return fail(difference.statement, difference.describe())
        result.tables_digest = digest
    return result


def _audit_heads_differ(conn: sqlite3.Connection, heads: list[tuple[int, int, str]]
                        ) -> tuple[int, int] | None:
    """(statement, audit seq) of the first statement whose signed audit head is not in the
    log. Heads only grow, so one ordered read of the audit range serves them all."""
    wanted = [(head_seq, seq, digest) for seq, head_seq, digest in heads if head_seq]
    if not wanted:
        return None
    if any(a[0] > b[0] for a, b in pairwise(wanted)):
        for head_seq, seq, digest in wanted:  # out of order: one look-up each
            if audit.entry_hash(conn, head_seq) != digest:
                return seq, head_seq
        return None
    cursor = conn.cursor()
    cursor.row_factory = None
    at = 0
    for audit_seq, audit_hash in cursor.execute(
            "SELECT seq, hash FROM audit WHERE seq BETWEEN ? AND ? ORDER BY seq",
            (wanted[0][0], wanted[-1][0])):
        while at < len(wanted) and wanted[at][0] <= audit_seq:
            head_seq, seq, digest = wanted[at]
            if head_seq != audit_seq or audit_hash != digest:
                return seq, head_seq
            at += 1
        if at == len(wanted):
            return None
    return (wanted[at][1], wanted[at][0]) if at < len(wanted) else None


def _actors_differ(conn: sqlite3.Connection, covered: list[tuple[int, int, int, Acting]]
                   ) -> tuple[int, str] | None:
    """(statement, problem) for the first audit entry whose actor is not who signed the
    statement that covers it: a signed change names one of its signers' custodians, an
    unsigned migration after the genesis covers exactly one ``vault.migrate`` entry.
    One ordered read of the audit range serves every statement."""
    ranges = [c for c in covered if c[2] > c[1]]
    if not ranges:
        return None
    cursor = conn.cursor()
    cursor.row_factory = None
    at = 0
    for audit_seq, actor, action in cursor.execute(
            "SELECT seq, actor, action FROM audit WHERE seq > ? AND seq <= ? ORDER BY seq",
            (ranges[0][1], ranges[-1][2])):
        while at < len(ranges) and ranges[at][2] < audit_seq:
            at += 1
        if at == len(ranges) or audit_seq <= ranges[at][1]:
            continue
        seq, after, _, acting = ranges[at]
        if acting == MIGRATION:
            if action != "vault.migrate" or audit_seq != after + 1 or ranges[at][2] != after + 1:
                return seq, (f"statement {seq} is an unsigned migration, but audit entry "
                             f"{audit_seq} ({action}) is not its one vault.migrate entry: "
                             "unsigned statements cannot add to the log")
        elif isinstance(acting, frozenset) and actor not in acting:
            who = " or ".join(sorted(acting)) or "nobody"
            return seq, (f"audit entry {audit_seq} ({action}) names {actor!r} as who acted, "
                         f"but statement {seq} that covers it is signed by {who}")
    return None


def _check_signatures(result: Replay, seq: int, body: Mapping[str, Any], signatures: list[Any],
                      digest: str, check: Check) -> tuple[str, Acting]:
    """The first rule the statement breaks (``""``: none), and who may be named as the
    actor of the audit entries it covers."""
    tables = result.tables
    challenge = bytes.fromhex(digest)
    names = body.get("signers", [])
    if len(names) != len(signatures):
        return (f"statement {seq} lists {len(names)} signer(s) but carries "
                f"{len(signatures)}"), None
    if any(ceremony_key.release_of(str(n)) is not None for n in names):
        problem = check_ceremony_statement(result, seq, body, signatures, challenge, check)
        return problem, None if problem else _ceremony_acting(result, body)
    changed_tokens: dict[str, dict[str, Any] | None] = {}
    for change in body.get("changes", []):
        if change.get("t") == "tokens":
            old = tables.get("tokens", {}).get(tuple(change["k"]))
            new = change["row"]
            if new is not None and (old is None or any(
                    old[0].get(c) != new.get(c) for c in TOKEN_IDENTITY)):
                changed_tokens[str(change["k"][0])] = new

    def row_for(token_id: str) -> dict[str, Any] | None:
        if token_id in changed_tokens:
            return changed_tokens[token_id]
        found = tables.get("tokens", {}).get((token_id,))
        return None if found is None else found[0]

    verified: set[str] = set()
    for token_id, evidence in zip(names, signatures, strict=True):
        row = row_for(str(token_id))
        if row is None or not isinstance(evidence, dict) or not check(row, challenge, evidence):
            return f"statement {seq}: the signature of token {token_id} does not verify", None
        verified.add(str(token_id))
    kind = body.get("kind")
    if kind == "genesis" and result.genesis is None:
        trust = [str(t) for t in body.get("trust", [])]
        if not trust or set(trust) != verified:
            return f"statement {seq}: the genesis is not signed by every token it trusts", None
        custodians = {str(r["custodian_id"]) for t in trust if (r := row_for(t)) is not None}
        if not _is_demo(tables) and any(
                (r := row_for(t)) is None or not check.proven_hardware(r, demo_vault=False)
                for t in trust):
            return (f"statement {seq}: a key not proven hardware (software, or without "
                    "valid attestation) signed the genesis of a vault that is not a demo "
                    "vault"), None
        eligible = _signing_custodians(tables)
        if len(custodians) < genesis_quorum(len(eligible)):
            return (f"statement {seq}: the genesis is signed by {len(custodians)} of "
                    f"{len(eligible)} custodians; more than half must sign"), None
        return "", None
    if result.genesis is None:
        return "", None
    if kind == "migrate" and not names:
        # A schema migration after genesis is unsigned (nobody is at the keyboard when
        # a newer Tessera opens the file); it may only add columns to existing rows.
        for change in body.get("changes", []):
            old = tables.get(str(change.get("t")), {}).get(tuple(change["k"]))
            new = change["row"]
            if old is None or new is None or any(
                    c not in new or new[c] != v for c, v in old[0].items()):
                return (f"statement {seq} is an unsigned migration that changes "
                        f"{change.get('t')} row {', '.join(map(str, change['k']))}"), None
        return "", MIGRATION
    hardware_needed = not _is_demo(tables)
    trusted_signers = [t for t in verified if t in result.trusted and t not in changed_tokens
                       and (r := row_for(t)) is not None and r.get("state") == "active"]
    if not trusted_signers:
        return f"statement {seq} is not signed by any trusted token", None
    if hardware_needed and not any((r := row_for(t)) is not None
                                   and check.proven_hardware(r, demo_vault=False)
                                   for t in trusted_signers):
        return (f"statement {seq} is signed only by keys not proven hardware (software, "
                "or without valid attestation); outside demo vaults people act through "
                "attested hardware tokens"), None
    proofs = body.get("proofs", {})
    for token_id, row in changed_tokens.items():
        if row is None:
            continue
        if row.get("remote") == 1:
            result.unproven_possession.append(token_id)
        elif token_id not in verified:
            # Or imported with its signed enrolment from another vault (FORMAT §8).
            if not isinstance(proofs, dict) or token_id not in proofs:
                return (f"statement {seq} enrols token {token_id} ({row.get('label')}) "
                        "without that token's own signature"), None
            why = check_enrolment_proof(row, proofs[token_id], check)
            if why:
                return (f"statement {seq} imports token {token_id} ({row.get('label')}) "
                        f"but {why}"), None
        result.trusted.add(token_id)
    return "", _custodian_names(tables, body, {str(r["custodian_id"]) for t in trusted_signers
                                               if (r := row_for(t)) is not None})


def _custodian_names(tables: Mapping[str, Any], body: Mapping[str, Any],
                     ids: set[str]) -> frozenset[str]:
    """The names of custodians ``ids`` before and after the statement (a statement that
    renames its own signer's custodian may name them either way)."""
    names = {str(row[0].get("name")) for cid in ids
             if (row := tables.get("custodians", {}).get((cid,))) is not None}
    names.update(str(change["row"].get("name")) for change in body.get("changes", [])
                 if change.get("t") == "custodians" and change.get("row") is not None
                 and change["k"] and str(change["k"][0]) in ids)
    return frozenset(names)


# -- ceremony keys (one operator touch per quorum) -------------------------------------

# What completing a release sets on its record (vault/releases.py finish_release).
_RELEASE_STATE_COLUMNS = frozenset({"state", "state_reason", "state_since", "last_release_at"})


def _is_demo(tables: Mapping[str, Any]) -> bool:
    demo = tables.get("meta", {}).get(("demo",))
    return demo is not None and demo[0].get("value") == "1"


def _ceremony_acting(result: Replay, body: Mapping[str, Any]) -> frozenset[str]:
    """Who acts through a ceremony key: the custodian of the token that authorised it."""
    token_id = result.acting_token(str(body.get("signers", [""])[0]))
    row = result.token_row(token_id) if token_id is not None else None
    return _custodian_names(result.tables, body,
                            {str(row["custodian_id"])} if row is not None else set())


def _note_ceremony_grant(result: Replay, seq: int, body: Mapping[str, Any],
                         check: Check) -> str:
    """Record the ceremony key a verified statement authorises (its ``ceremony`` field).

    The grant counts only after the genesis, in the statement that opens the release
    it names, and only with a trusted signer that may act here (hardware outside demo
    vaults): that token's custodian is who acts through the key."""
    grant = body.get("ceremony")
    if grant is None:
        return ""
    if (not isinstance(grant, dict) or set(grant) != {"release", "key"}
            or not isinstance(grant["release"], str) or not isinstance(grant["key"], str)
            or not re.fullmatch(r"[0-9a-f]{64}", grant["key"])):
        return f"statement {seq} authorises a ceremony key, but the grant is damaged"
    release = grant["release"]
    if result.genesis is None:
        return (f"statement {seq} authorises a ceremony key for release {release} before "
                "the vault's genesis")
    opened = [c for c in body.get("changes", []) if c.get("t") == "releases"
              and c.get("k") == [release] and isinstance(c.get("row"), dict)
              and c["row"].get("state") == "open"]
    if not opened or (release,) in result.tables.get("releases", {}) \
            or release in result.ceremony_keys:
        return (f"statement {seq} authorises a ceremony key for release {release}, which it "
                "does not open")
    demo = _is_demo(result.tables)
    actor = next((str(t) for t in body.get("signers", [])
                  if str(t) in result.trusted and (row := result.token_row(str(t))) is not None
                  and row.get("state") == "active"
                  and (demo or check.proven_hardware(row, demo_vault=False))), None)
    if actor is None:
        return (f"statement {seq} authorises a ceremony key for release {release} without "
                "a trusted hardware token's signature")
    result.ceremony_keys[release] = CeremonyGrant(release, grant["key"], actor, seq)
    return ""


def check_ceremony_statement(result: Replay, seq: int, body: Mapping[str, Any],
                             signatures: list[Any], challenge: bytes, check: Check) -> str:
    """A statement signed by a ceremony key: authorised earlier, its release open, and
    every change within that release's scope — approval rows of that release (each
    token approval verifying against the release's request and the approving token),
    the release's own state and finish time, and its record's release-state columns
    when it completes. After the release completed the key signs audit entries only."""
    names = [str(n) for n in body.get("signers", [])]
    release = ceremony_key.release_of(names[0]) or ""
    if len(names) != 1 or "ceremony" in body:
        return (f"statement {seq} is signed by the ceremony key of release {release} together "
                "with other signers or grants; a ceremony key signs alone")
    grant = result.ceremony_keys.get(release)
    if grant is None:
        return (f"statement {seq} is signed by a ceremony key for release {release} that no "
                "earlier statement authorised")
    if not isinstance(signatures[0], dict) or not ceremony_key.verifies(grant.key, challenge,
                                                                         signatures[0]):
        return f"statement {seq}: the signature of the ceremony key of release {release} " \
               "does not verify"
    tables = result.tables
    found = tables.get("releases", {}).get((release,))
    rel = found[0] if found is not None else {}
    changes = body.get("changes", [])

    def outside(change: Mapping[str, Any], why: str = "") -> str:
        return (f"statement {seq} is signed by the ceremony key of release {release} but "
                f"changes {change.get('t')} row {', '.join(map(str, change.get('k', [])))}"
                f"{why}")

    if rel.get("state") != "open":
        if rel.get("state") == "released" and not changes:
            return ""  # audit entries of the completed release (its hook's outcome)
        return (outside(changes[0], f" after release {release} was {rel.get('state')}")
                if changes else f"statement {seq} is signed by the ceremony key of release "
                f"{release} after that release was {rel.get('state')}")
    completes = any(c.get("t") == "releases" and c.get("k") == [release]
                    and isinstance(c.get("row"), dict) and c["row"].get("state") == "released"
                    for c in changes)
    request_challenge = _request_challenge(rel)
    for change in changes:
        table, key, new = change.get("t"), tuple(change.get("k", ())), change.get("row")
        old_found = tables.get(str(table), {}).get(key)
        old = old_found[0] if old_found is not None else None
        if table == "approvals" and old is None and isinstance(new, dict) \
                and new.get("release_id") == release:
            problem = _approval_problem(result, new, request_challenge, check)
            if problem:
                return outside(change, f": {problem}")
            continue
        sets_release = (table == "releases" and key == (release,) and isinstance(new, dict)
                        and _differs_only(old, new, {"state", "finished_at"})
                        and new.get("state") in ("released", "aborted"))
        sets_record = (table == "records" and key == (rel.get("record_id"),) and completes
                       and isinstance(new, dict) and new.get("state") == "released"
                       and _differs_only(old, new, _RELEASE_STATE_COLUMNS))
        if not (sets_release or sets_record):
            return outside(change)
    return ""


def _ceremony_audit_scope(conn: sqlite3.Connection, seq: int, body: Mapping[str, Any],
                          after: int) -> str:
    """Every audit entry a ceremony-key statement covers is about its release (the
    entry's subject, or its ``release_id``): the key cannot speak of anything else."""
    names = body.get("signers", [])
    release = ceremony_key.release_of(str(names[0])) if len(names) == 1 else None
    head = body.get("audit", [0])
    if release is None or not isinstance(head, list) or not head:
        return ""
    for entry, subject, action, details in conn.execute(
            "SELECT seq, subject, action, details FROM audit WHERE seq > ? AND seq <= ?"
            " ORDER BY seq", (after, int(head[0]))):
        try:
            named = json.loads(details).get("release_id")
        except (ValueError, AttributeError):
            named = None
        if release not in (subject, named):
            return (f"statement {seq} is signed by the ceremony key of release {release} but "
                    f"covers audit entry {entry} ({action}) about something else")
    return ""


def _request_challenge(release_row: Mapping[str, Any]) -> bytes | None:
    """The 32 bytes the approving tokens sign: the SHA-256 of the release's request
    (core/request.py), as its row states it twice (the BLOB's hash and the column)."""
    digest = release_row.get("request_sha256")
    if not isinstance(digest, str) or release_row.get("request") != {"sha256": digest} \
            or not re.fullmatch(r"[0-9a-f]{64}", digest):
        return None
    return bytes.fromhex(digest)


def _approval_problem(result: Replay, row: Mapping[str, Any], challenge: bytes | None,
                      check: Check) -> str:
    """Why an approval row a ceremony key inserts proves less than its token's own
    signature of the request ("" when it verifies; paper names no token)."""
    token_id = row.get("token_id")
    if token_id is None:
        return "" if row.get("method") == "paper" else "an approval without a token or paper"
    token = result.token_row(str(token_id))
    try:
        evidence = json.loads(str(row.get("evidence")))
    except ValueError:
        evidence = None
    if (token is None or challenge is None or not isinstance(evidence, dict)
            or token.get("custodian_id") != row.get("custodian_id")
            or token.get("state") != "active" or token.get("kind") != row.get("method")
            or evidence.get("token_id") != token_id or not check(token, challenge, evidence)):
        return f"the approval evidence of token {token_id} does not verify against the request"
    return ""


def _differs_only(old: Mapping[str, Any] | None, new: Mapping[str, Any],
                  allowed: frozenset[str] | set[str]) -> bool:
    return old is not None and set(old) == set(new) and all(
        old[c] == new[c] for c in old if c not in allowed)


def compare_tables(conn: sqlite3.Connection,
                   tables: Mapping[str, Mapping[tuple[Any, ...], tuple[dict[str, Any], int]]]
                   ) -> Difference | None:
    """The first cell (in table, key order) where the tables differ from the projection."""
    with _lenient_text(conn):  # a planted TEXT that is not UTF-8 is named, not fatal
        return _compare_tables(conn, tables)


def _lenient(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


@contextlib.contextmanager
def _lenient_text(conn: sqlite3.Connection, factory: Callable[[bytes], Any] = _lenient
                  ) -> Iterator[None]:
    """Read TEXT that is not UTF-8 (planted by other software) instead of failing on it
    (``factory``: ``str`` reads it strictly, in C, and fails on it)."""
    before = conn.text_factory
    conn.text_factory = factory
    try:
        yield
    finally:
        conn.text_factory = before


def _compare_tables(conn: sqlite3.Connection,
                    tables: Mapping[str, Mapping[tuple[Any, ...], tuple[dict[str, Any], int]]]
                    ) -> Difference | None:
    live = projected_tables(conn)
    for extra in sorted(set(tables) - {t.name for t in live}):
        if not tables[extra]:
            continue
        key, (row, seq) = min(tables[extra].items(), key=lambda kv: repr(kv[0]))
        return Difference(extra, key, None, row, None, seq)
    for table in live:
        expected = tables.get(table.name, {})
        cols = ", ".join(_q(c) for c in table.columns)
        seen: set[tuple[Any, ...]] = set()
        cursor = conn.cursor()
        cursor.row_factory = None
        key_at = [table.columns.index(c) if c in table.columns else None for c in table.key]
        sql = (f"SELECT {cols}{', rowid' if table.key == ('rowid',) else ''} "  # noqa: S608
               f"FROM main.{_q(table.name)}")
        for found in cursor.execute(sql):
            give_way()  # a row stepped to, one at a time (core/turns.py)
            key = tuple(found[i] if i is not None else found[-1] for i in key_at)
            seen.add(key)
            want = expected.get(key)
            if want is None:
                return Difference(table.name, key, None, None,
                                  dict(zip(table.columns, found, strict=False)), None)
            row, seq = want
            for column, value in zip(table.columns, found, strict=False):
                if column not in row or row[column] != cell(value):
                    return Difference(table.name, key, column, row.get(column), cell(value), seq,
                                      _name(row))
        for key in sorted(set(expected) - seen, key=repr):
            return Difference(table.name, key, None, expected[key][0], None, expected[key][1],
                              _name(expected[key][0]))
    return None


class SeenTable(NamedTuple):
    """A table as :func:`tables_digest` read it: its non-BLOB cells (``columns``, in key
    order), and per row each BLOB column's SQLite type and the SHA-256 of its bytes."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    blobs: tuple[str, ...]
    blob_digests: list[tuple[tuple[str, bytes | None], ...]]


def tables_digest(conn: sqlite3.Connection, seen: dict[str, SeenTable] | None = None) -> str:
    """SHA-256 over every projected table as it is stored: its name, columns and key,
    then its rows in key order, 2,048 at a time — the Python representation of their
    non-BLOB cells (unambiguous for the types SQLite returns), then per row each BLOB
    column's cell by its SQLite type and the SHA-256 of its bytes.

    Equal digests mean equal tables, so a vault whose digest is the one taken when its
    tables last matched the signed log, with no statement since, still matches it —
    without comparing each row with the projection (at 5,000 records that comparison,
    and reading the projection it needs, are most of a command's opening). One pass
    over each table: a second read of ``versions`` for each BLOB column would walk the
    large rows' overflow pages again.

    Text is decoded by SQLite's own strict UTF-8 decoder first (a Python call per text
    cell, 170,000 at 5,000 records, was a third of the digest's time); a planted TEXT
    that is not UTF-8 makes that fail, and the digest is then taken again decoding it
    leniently, so it is hashed, not fatal. For UTF-8 text both decode alike: the digest
    is the same either way, and a workstation's kept digests stay valid.

    ``seen``, when given, is filled with every table as it was read and hashed (only
    when all its text was UTF-8): what a caller that finds the digest is the verified
    one may read instead of reading those rows again in the same transaction."""
    try:
        return _tables_digest(conn, str, seen)
    except sqlite3.OperationalError:  # "Could not decode to UTF-8": read it leniently
        if seen is not None:
            seen.clear()
        return _tables_digest(conn, _lenient)


def _tables_digest(conn: sqlite3.Connection, text: Callable[[bytes], Any],
                   seen: dict[str, SeenTable] | None = None) -> str:
    with _lenient_text(conn, text):
        digest = hashlib.sha256(b"tessera/tables/v2\0")
        sha256 = hashlib.sha256
        for table in projected_tables(conn):
            columns = list(table.columns) + (["rowid"] if table.key == ("rowid",) else [])
            blob = sorted(str(r[1]) for r in conn.execute(
                f"PRAGMA main.table_info({_q(table.name)})") if str(r[2]).upper() == "BLOB")
            plain = [c for c in columns if c not in blob] or ["rowid"]
            digest.update(repr((table.name, columns, table.key, plain, blob)).encode("utf-8"))
            selected = [_q(c) for c in plain] + [
                f"typeof({_q(c)}), CAST({_q(c)} AS BLOB)" for c in blob]
            cursor = conn.cursor()
            cursor.row_factory = None
            cursor.execute(f"SELECT {', '.join(selected)} FROM main.{_q(table.name)} "  # noqa: S608
                           f"ORDER BY {', '.join(_q(c) for c in table.key)}")
            width = len(plain)
            kept = None if seen is None else seen.setdefault(table.name, SeenTable(
                tuple(plain), [], tuple(blob), []))
            while rows := cursor.fetchmany(2048):
                cells = [row[:width] for row in rows]
                digest.update(repr(cells).encode("utf-8", "surrogatepass"))
                if kept is not None:
                    kept.rows.extend(cells)
                for row in rows:
                    give_way()  # every BLOB hashed: the GIL let go and taken back
                    hashed = []
                    for at in range(width, len(row), 2):
                        value = row[at + 1]
                        found = sha256(value).digest() if value is not None else None
                        hashed.append((row[at], found))
                        digest.update(row[at].encode("ascii") + b"\0" + (found or b""))
                    if kept is not None:
                        kept.blob_digests.append(tuple(hashed))
        return digest.hexdigest()


def _name(row: Mapping[str, Any]) -> str:
    for column in ("label", "name"):
        if isinstance(row.get(column), str):
            return str(row[column])
    return ""
