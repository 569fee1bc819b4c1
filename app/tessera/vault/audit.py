"""The hash-chained audit log.

Entry ``n`` is ``{seq, at, actor, action, subject, details}`` in canonical JSON;
``hash_n = SHA-256(hash_{n-1} ‖ canonical(entry_n))`` with ``hash_0`` 32 zero bytes,
stored as hex. Editing, deleting or reordering rows breaks the chain; removing the
newest rows is caught against the head (seq, hash) printed on a ceremony transcript.

Details are public by construction: keys that name secret material are refused, and
so are oversized values, since a log is copied to places a secret must never go.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import json.encoder
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from tessera.core import canonical
from tessera.core.errors import FormatError, IntegrityError
from tessera.core.text import check as check_text
from tessera.core.text import csv_cell
from tessera.core.turns import give_way

from .errors import AuditDetailRefused
from .models import AuditEntry, AuditVerdict

_T = TypeVar("_T")

ZERO_HASH = "00" * 32
MAX_DETAIL_VALUE = 4096
MAX_ACTOR = 200
MAX_SUBJECT = 200
_ACTION = re.compile(r"[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+")
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_ISO_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")

# A detail key containing one of these words could carry a secret ("share_words",
# "pin", "dekHex"), so it is refused whatever the value holds.
_FORBIDDEN_WORDS = frozenset({
    "secret", "secrets", "share", "shares", "mnemonic", "mnemonics", "words", "pin", "pins",
    "puk", "dek", "passphrase", "password", "passwords", "seed", "plaintext", "privkey",
    "private",
})
# Names of public things that happen to contain "share": the share's position name
# ("g0m1") and counts.
_ALLOWED_KEYS = frozenset({"share_key", "share_keys", "share_count"})
_SELECT_AFTER = ("SELECT seq, at, actor, action, subject, details, prev_hash, hash FROM audit"
                 " WHERE seq > ? ORDER BY seq")
_COLUMNS = ("seq", "at", "actor", "action", "subject", "details", "prev_hash", "hash")


def _key_words(key: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(key)]


def _check_keys(value: Any, path: str) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise AuditDetailRefused(f"audit detail keys must be text ({path})")
            if key.lower() not in _ALLOWED_KEYS and _FORBIDDEN_WORDS.intersection(_key_words(key)):
                raise AuditDetailRefused(
                    f"the audit detail {path}{key!r} is named like secret material; "
                    "audit entries must never hold secrets")
            _check_keys(item, f"{path}{key}.")
    elif isinstance(value, list | tuple):
        for item in value:
            _check_keys(item, path)


def details_text(details: Mapping[str, Any]) -> str:
    """Check ``details`` and return its canonical JSON text."""
    if not isinstance(details, Mapping):
        raise AuditDetailRefused("audit details must be a JSON object")
    _check_keys(details, "")
    try:
        for key, value in details.items():
            size = len(canonical.dumps(value))
            if size > MAX_DETAIL_VALUE:
                raise AuditDetailRefused(
                    f"the audit detail {key!r} is {size} bytes; at most {MAX_DETAIL_VALUE} "
                    "bytes are kept per value")
        return canonical.dumps(dict(details)).decode("utf-8")
    except AuditDetailRefused:
        raise
    except FormatError as exc:
        raise AuditDetailRefused(f"audit details cannot be encoded: {exc}") from None


# The C encoder behind json.dumps(…, ensure_ascii=False): verifying a million entries
# calls it millions of times.
_jstr: Callable[[str], str] = json.encoder.encode_basestring




def entry_bytes(seq: int, at: str, actor: str, action: str, subject: str,
                details: str) -> bytes:
    """Canonical bytes of an entry whose details are already canonical JSON text.

    Assembled directly (keys in sorted order) so verifying 100 000 entries does not
    re-parse every details object; a test pins it to ``canonical.dumps``.
    """
    return (f'{{"action":{_jstr(action)},"actor":{_jstr(actor)},"at":{_jstr(at)},'
            f'"details":{details},"seq":{seq},"subject":{_jstr(subject)}}}').encode()


def link(prev_hash: str, entry: bytes) -> str:
    """``SHA-256(prev ‖ entry)`` in hex."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + entry).hexdigest()


def head(conn: sqlite3.Connection) -> tuple[int, str]:
    """(seq, hash) of the newest entry; (0, zero hash) for an empty log."""
    row = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    if row is None:
        return 0, ZERO_HASH
    return int(row[0]), str(row[1])


def append(conn: sqlite3.Connection, *, at: str, actor: str, action: str, subject: str,
           details: Mapping[str, Any]) -> AuditEntry:
    """Append one entry; the caller holds the write transaction it belongs to."""
    if not _ACTION.fullmatch(action):
        raise ValueError(f"audit action {action!r} must be dotted lowercase words")
    if not isinstance(actor, str) or not actor.strip() or len(actor) > MAX_ACTOR:
        raise AuditDetailRefused(f"an actor (1 to {MAX_ACTOR} characters) is required")
    # The actor comes from --actor, TESSERA_ACTOR or the login name: typed text.
    check_text(actor, "actor")
    if not isinstance(subject, str) or len(subject) > MAX_SUBJECT:
        raise AuditDetailRefused(f"the audit subject must be text of at most {MAX_SUBJECT} characters")
    text = details_text(details)
    last_seq, prev = head(conn)
    seq = last_seq + 1
    digest = link(prev, entry_bytes(seq, at, actor, action, subject, text))
    conn.execute("INSERT INTO audit (seq, at, actor, action, subject, details, prev_hash, hash)"
                 " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                 (seq, at, actor, action, subject, text, prev, digest))
    return AuditEntry(seq, at, actor, action, subject, json.loads(text), prev, digest)


def _canonical_details(text: Any) -> bool:
    """Whether ``text`` is a canonical JSON object (as ``canonical.loads`` decides)."""
    return type(text) is str and canonical.object_text(text)


def _row_problem(row: tuple[Any, ...], expected_seq: int, prev: str) -> tuple[int, str] | None:
    """The careful check of one row: (seq to name, problem), or None if it is sound."""
    seq = row[0]
    if not _well_formed(row):
        return (seq if isinstance(seq, int) else expected_seq,
                f"entry {seq} is damaged (a field has the wrong form)")
    if not canonical.object_text(row[5]):
        return seq, f"entry {seq} is damaged (its details are not canonical JSON)"
    if seq != expected_seq:
        missing = (f"entry {expected_seq} is missing" if seq == expected_seq + 1 else
                   f"entries {expected_seq} to {seq - 1} are missing")
        return expected_seq, f"{missing}: the log jumps from {expected_seq - 1} to {seq}"
    if row[6] != prev:
        return seq, (f"entry {seq} does not follow entry {seq - 1}: rows were removed, "
                     "reordered or replaced")
    if link(prev, entry_bytes(seq, row[1], row[2], row[3], row[4], row[5])) != row[7]:
        return seq, f"entry {seq} was changed after it was written"
    return None


def _well_formed(row: tuple[Any, ...]) -> bool:
    seq, at, actor, action, subject, details, prev_hash, digest = row
    return (isinstance(seq, int) and isinstance(at, str) and _ISO_UTC.fullmatch(at) is not None
            and isinstance(actor, str) and isinstance(action, str)
            and isinstance(subject, str) and isinstance(details, str)
            and isinstance(prev_hash, str) and _HEX64.fullmatch(prev_hash) is not None
            and isinstance(digest, str) and _HEX64.fullmatch(digest) is not None)


def entry_hash(conn: sqlite3.Connection, seq: int) -> str | None:
    """The stored hash of entry ``seq`` (None if there is no such entry)."""
    row = conn.execute("SELECT hash FROM audit WHERE seq = ?", (seq,)).fetchone()
    return None if row is None else str(row[0])


def verify(conn: sqlite3.Connection, expected_head: tuple[int, str] | None = None, *,
           verified_before: tuple[int, str] | None = None,
           only_new: bool = False,
           forms_checked: tuple[int, str] | None = None) -> AuditVerdict:
    """Recompute the chain, streaming rows; name the first bad entry.

    ``expected_head`` is the (seq, hash) printed on a transcript: the log must still
    contain that entry unchanged, which catches removal of the newest entries.
    ``verified_before`` is the newest entry this workstation verified earlier: it must
    still be there with the same hash (else the log was rolled back or rewritten).
    With ``only_new`` only the entries after it are recomputed; edits to older rows
    that leave the chain broken are then found only by a full verify (a rewritten
    chain changes that entry's hash and is found either way).

    ``forms_checked`` is an entry (seq, hash) up to which an earlier verify on this
    computer checked every entry, its details' canonical form included. Every hash and
    link is still recomputed; the form of the entries up to it is not judged again when
    the recomputed chain reaches that entry with that hash, which proves them the
    entries checked then (an entry's bytes frame its details, so equal hashes mean equal
    details). If the chain does not reach it with that hash, or anything is wrong, the
    log is verified again without it, so a verdict never rests on it unless it holds.
    """
    if forms_checked is not None and forms_checked[0] > 0:
        verdict = _verify(conn, expected_head, verified_before, only_new, forms_checked)
        if verdict is not None and verdict.ok:
            return verdict
    verdict = _verify(conn, expected_head, verified_before, only_new, None)
    assert verdict is not None  # noqa: S101 (only a trusted entry can be disowned)
    return verdict


def _verify(conn: sqlite3.Connection, expected_head: tuple[int, str] | None,
            verified_before: tuple[int, str] | None, only_new: bool,
            forms_checked: tuple[int, str] | None) -> AuditVerdict | None:
    """:func:`verify`; None when ``forms_checked`` turned out not to be in the log (the
    entries before it were then taken on trust, and the caller checks again without)."""
    want_seq, want_hash = expected_head if expected_head is not None else (0, "")
    want_hash = want_hash.lower()
    prev = ZERO_HASH
    expected_seq = 1
    from_seq = 0
    if verified_before is not None:
        pin_seq, pin_hash = verified_before[0], verified_before[1].lower()
        found = entry_hash(conn, pin_seq)
        if found != pin_hash:
            last, _ = head(conn)
            problem = (f"entry {pin_seq} differs from the one this computer verified before: "
                       "the log was rewritten" if found is not None else
                       f"the log ends at entry {last} but this computer verified it up to "
                       f"entry {pin_seq} before: newer entries were removed, or this is an "
                       "older copy of the vault")
            return AuditVerdict(False, 0, min(last, pin_seq), "",
                                pin_seq if found is not None else last + 1, problem)
        if only_new:
            from_seq, prev, expected_seq = pin_seq, pin_hash, pin_seq + 1
            if want_seq and want_seq <= from_seq and entry_hash(conn, want_seq) != want_hash:
                return AuditVerdict(False, 0, from_seq, prev, want_seq,
                                    f"entry {want_seq} differs from the head on the transcript: "
                                    "the log was rewritten from this entry on",
                                    from_seq=from_seq)
    trusted_seq, trusted_hash = forms_checked if forms_checked is not None else (0, "")
    trusted_hash = trusted_hash.lower()
    canonical.expect(head(conn)[0] - max(from_seq, trusted_seq))  # details to judge
    count = 0
    encode = _jstr
    sha256 = hashlib.sha256
    fromhex = bytes.fromhex
    iso = _ISO_UTC.fullmatch
    canonical_details = _canonical_details
    cursor = conn.cursor()
    cursor.row_factory = None
    cursor.arraysize = 512
    for row in cursor.execute(_SELECT_AFTER, (from_seq,)):
        if not count & 255:
            give_way()  # each row a step of SQLite's (core/turns.py)
        seq, at, actor, action, subject, details, prev_hash, digest = row
        # Fast path: a row is sound when its place, link and hash all match and its time
        # and details have their form (equal hashes imply the hex form). Anything else
        # goes to the careful check, which names the problem.
        try:
            sound = (seq == expected_seq and type(seq) is int and prev_hash == prev
                     and iso(at) is not None
                     and (seq <= trusted_seq or canonical_details(details))
                     and sha256(fromhex(prev) + (
                         f'{{"action":{encode(action)},"actor":{encode(actor)},"at":"{at}",'
                         f'"details":{details},"seq":{seq},"subject":{encode(subject)}}}'
                     ).encode()).hexdigest() == digest)
        except (TypeError, ValueError, UnicodeError):
            sound = False
        if not sound:
            fault = _row_problem(row, expected_seq, prev)
            if fault is not None:
                return AuditVerdict(False, count, expected_seq - 1, prev, fault[0],
                                    fault[1], from_seq=from_seq)
        if seq == trusted_seq and digest != trusted_hash:
            return None  # not the entry checked before: no entry's form is taken on trust
        if seq == want_seq and digest != want_hash:
            return AuditVerdict(False, count, expected_seq - 1, prev, seq,
                                f"entry {seq} differs from the head on the transcript: the "
                                "log was rewritten from this entry on", from_seq=from_seq)
        prev = digest
        count += 1
        expected_seq += 1
    last = expected_seq - 1
    if trusted_seq > last:
        return None
    if want_seq > last:
        return AuditVerdict(False, count, last, prev, last + 1,
                            f"the log ends at entry {last} but the transcript shows entry "
                            f"{want_seq}: newer entries were removed", from_seq=from_seq)
    return AuditVerdict(True, count, last, prev, from_seq=from_seq)


def _entry(row: sqlite3.Row | tuple[Any, ...]) -> AuditEntry:
    seq, at, actor, action, subject, details, prev_hash, digest = tuple(row)
    try:
        parsed = canonical.loads(str(details).encode("utf-8"), what=f"audit entry {seq}")
    except FormatError as exc:
        raise IntegrityError(str(exc)) from None
    return AuditEntry(int(seq), str(at), str(actor), str(action), str(subject),
                      parsed, str(prev_hash), str(digest))


def entries(conn: sqlite3.Connection, *, action: str | None = None, actor: str | None = None,
            subject: str | None = None, since: str | None = None, until: str | None = None,
            after_seq: int = 0, limit: int | None = None,
            newest: int | None = None) -> list[AuditEntry]:
    """Entries in order, filtered. ``action`` matches exactly or, ending in ".", as a
    prefix ("release."); ``since``/``until`` compare ISO times (inclusive); ``newest``
    keeps only the last that many matching entries (still in order)."""
    clauses = ["seq > ?"]
    args: list[Any] = [after_seq]
    if action is not None:
        if action.endswith("."):
            clauses.append("substr(action, 1, ?) = ?")
            args += [len(action), action]
        else:
            clauses.append("action = ?")
            args.append(action)
    for column, value, op in (("actor", actor, "="), ("subject", subject, "="),
                              ("at", since, ">="), ("at", until, "<=")):
        if value is not None:
            clauses.append(f"{column} {op} ?")
            args.append(value)
    # Only fixed fragments are joined; every value is a bound parameter.
    sql = ("SELECT seq, at, actor, action, subject, details, prev_hash, hash FROM audit"  # noqa: S608
           " WHERE " + " AND ".join(clauses) + " ORDER BY seq")
    if newest is not None:
        sql = sql.replace(" ORDER BY seq", " ORDER BY seq DESC LIMIT ?")
        args.append(int(newest))
        return [_entry(row) for row in reversed(conn.execute(sql, args).fetchall())]
    if limit is not None:
        sql += " LIMIT ?"
        args.append(int(limit))
    return [_entry(row) for row in _giving_way(conn.execute(sql, args))]


def _giving_way(rows: Iterable[_T]) -> Iterator[_T]:
    """``rows``, giving way every 256 (core/turns.py): each is a step of SQLite's."""
    for n, row in enumerate(rows):
        if not n & 255:
            give_way()
        yield row


def _iter_rows(conn: sqlite3.Connection, after: int = 0) -> Iterator[tuple[Any, ...]]:
    """Stream the entries after ``after`` in order as plain tuples (cheaper than Rows)."""
    cursor = conn.cursor()
    cursor.row_factory = None
    cursor.arraysize = 512
    yield from _giving_way(cursor.execute(_SELECT_AFTER, (after,)))


def export_chunks(conn: sqlite3.Connection, fmt: str = "jsonl") -> Iterator[str]:
    """The whole log as JSON lines (verifiable: each line is the canonical entry plus
    ``prev_hash`` and ``hash``) or CSV (for reading; cells are spreadsheet-safe), in
    chunks of a few hundred lines, so a million entries never sit in memory at once."""
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"unknown audit export format {fmt!r} (use 'jsonl' or 'csv')")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if fmt == "csv":
        writer.writerow(_COLUMNS)
    for n, row in enumerate(_iter_rows(conn), 1):
        if fmt == "jsonl":
            seq, at, actor, action, subject, details, prev_hash, digest = row
            buffer.write(f'{{"action":{_jstr(action)},"actor":{_jstr(actor)},"at":{_jstr(at)},'
                         f'"details":{details},"hash":{_jstr(digest)},'
                         f'"prev_hash":{_jstr(prev_hash)},"seq":{seq},'
                         f'"subject":{_jstr(subject)}}}\n')
        else:
            writer.writerow([row[0], *(csv_cell(v) for v in row[1:])])
        if n % 512 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def export(conn: sqlite3.Connection, fmt: str = "jsonl") -> str:
    """The whole log as one text (see :func:`export_chunks`)."""
    return "".join(export_chunks(conn, fmt))
