"""Who holds each record's current version, read for the access review in bulk.

:meth:`Vault.current_versions` builds every version in full (the manifest parsed and
validated field by field, every ciphertext and envelope re-hashed): what a release
needs, and about a millisecond per record. The review reads only the custody outline —
quorum, shares, holders and the recipients each envelope is wrapped to now — so this
reads only the columns it needs in two queries, takes the manifest apart with the C
JSON parser, and keeps the checks that bind what it reports to the row: the manifest's
SHA-256 is the row's digest, the fingerprint is that digest's, the manifest names the
row's record, version and epoch, and every envelope is a share of the manifest held by
the custodian it is filed under. The manifest's full validation (canonical form, every
field) happened when it was written and is part of what the signed log proves on open.
What an outline takes from a manifest can be kept on this workstation by the SHA-256 of
the manifest's bytes (:mod:`tessera.vault.outline_cache`): then only the manifests not
outlined before are parsed, and the others are hashed, looked up and checked against
their rows as above.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from operator import itemgetter
from typing import Any, NamedTuple

from tessera.core.errors import IntegrityError
from tessera.core.manifest import describe_quorum, format_fingerprint
from tessera.core.turns import give_way

from .outline_cache import Derived, OutlineCache
from .records import _envelope_recipients
from .statements import SeenTable
from .store import Vault

_DECODE = json.JSONDecoder().decode  # the C scanner, built once


# Named tuples, not frozen dataclasses: a review of 5,000 records makes 20,000 of them,
# and a named tuple is made (and hashed, as a cache key) in C.
class ShareOutline(NamedTuple):
    key: str  # g<group>m<member>
    custodian_id: str
    group: int
    recipients: tuple[str, ...]  # what its envelope is wrapped to now (after re-wraps)


class VersionOutline(NamedTuple):
    """The custody outline of a record's current version."""

    record_id: str
    version: int
    epoch: int
    fingerprint: str
    created_at: str
    group_threshold: int
    groups: tuple[tuple[int, int], ...]  # (threshold, count) per SLIP-39 group
    shares: tuple[ShareOutline, ...]  # in manifest order

    @property
    def quorum(self) -> str:
        return describe_quorum(self.groups, self.group_threshold)


# (current versions, their envelopes) of every record, and of one record by its key.
_ALL = ("SELECT r.id, r.label, v.version, v.epoch, v.fingerprint, v.digest, v.manifest,"
        " v.created_at FROM records r JOIN versions v ON v.record_id = r.id"
        " AND v.version = r.current_version",
        "SELECT e.record_id, e.share_key, e.custodian_id, e.recipients FROM records r"
        " JOIN envelopes e ON e.record_id = r.id AND e.version = r.current_version")
_ONE = tuple(f"{sql} WHERE r.id = ?" for sql in _ALL)
# From this many manifests to parse, they are read in one pass, not each by its key.
_ONE_PASS = 64


def current_outlines(vault: Vault, record_id: str | None = None) -> dict[str, VersionOutline]:
    """Every record's (or one record's) current version, outlined, by record id.

    With an :class:`~tessera.vault.outline_cache.OutlineCache` on the vault
    (``vault.outline_cache``), a manifest whose bytes were outlined before is not parsed
    again: its outline is looked up by the SHA-256 of the bytes just read (and checked
    against its row as a parsed one is); the ones parsed are kept for the next time."""
    # One record is looked up by its key: "? IS NULL OR r.id = ?" would scan every
    # record and every envelope (the record pane's read, 40 ms at 5,000 records).
    versions_sql, envelopes_sql = _ALL if record_id is None else _ONE
    args = () if record_id is None else (record_id,)
    cache: OutlineCache | None = vault.outline_cache
    outlines: dict[str, VersionOutline] = {}
    with vault.reading() as conn:
        checked = None if cache is None else _as_checked(vault.checked_tables(conn), record_id)
        if checked is not None:
            rows, envelopes = checked
        else:
            rows, envelopes = _read(conn, versions_sql, envelopes_sql, args, keep=cache is None)
        known = {} if cache is None else cache.lookup(r[6] for r in rows)
        # A recipient list met before is kept once: thousands of records name the same
        # few tokens, whose post-quantum recipients are 2 KB of text each.
        same: dict[tuple[str, ...], tuple[str, ...]] = {}
        made: dict[Any, tuple[ShareOutline, ...]] = {}
        fresh: dict[str, Derived] = {}
        # Manifests not found kept (all of them the first time) are read in one pass and
        # taken apart as they are read (7 KB each, not all held at once).
        parsed = _parse_unread(conn, [r for r in rows if r[7] is None and r[6] not in known],
                               same)
        for row in rows:
            envelopes_of = envelopes.get(row[0], {})
            derived = known.get(row[6])
            if derived is not None:
                try:
                    outlines[row[0]] = _outline(row, derived, envelopes_of, made)
                    continue
                except IntegrityError:
                    pass  # a kept outline that does not fit its row: the manifest decides
            derived = parsed.get(row[0])
            if derived is None:
                if row[7] is None:  # not read yet (a cache was asked first): read it now
                    row = (*row[:7], _manifest(conn, row), row[8])
                derived = _derive(row, same)
            fresh[row[6]] = derived
            outlines[row[0]] = _outline(row, derived, envelopes_of, made)
    if cache is not None and (fresh or (record_id is None and len(known) != len(rows))):
        cache.keep(fresh, only=None if record_id is not None else {r[6] for r in rows})
    return outlines


Envelopes = dict[str, dict[str, tuple[str, str | None]]]


def _read(conn: Any, versions_sql: str, envelopes_sql: str, args: tuple[str, ...], *,
          keep: bool) -> tuple[list[tuple[Any, ...]], Envelopes]:
    """The rows to outline and their envelopes, read: each manifest hashed as it is
    read (7 KB each, not all held at once), kept only with ``keep``."""
    cursor = conn.cursor()
    cursor.row_factory = None  # plain tuples: thousands of rows
    envelopes: Envelopes = {}
    for rid, key, custodian_id, recipients in cursor.execute(envelopes_sql, args):
        envelopes.setdefault(rid, {})[key] = (custodian_id, recipients)
    rows: list[tuple[Any, ...]] = []
    cursor.execute(versions_sql, args)
    while batch := cursor.fetchmany(256):
        for row in batch:
            give_way()  # thousands of manifests, each hashed (core/turns.py)
            data = row[6]
            actual = hashlib.sha256(data).hexdigest() if isinstance(data, bytes) else ""
            rows.append((*row[:6], actual, data if keep else None, row[7]))
    return rows, envelopes


def _as_checked(tables: Mapping[str, SeenTable] | None, record_id: str | None
                ) -> tuple[list[tuple[Any, ...]], Envelopes] | None:
    """The rows to outline and their envelopes as the check on open read them in this
    same transaction (every manifest's SHA-256 from the bytes it hashed), or None."""
    if tables is None:
        return None
    try:
        records, versions, envelopes = (tables[t] for t in ("records", "versions", "envelopes"))
        record = itemgetter(*(records.columns.index(c) for c in ("id", "label",
                                                                 "current_version")))
        version_of = itemgetter(*(versions.columns.index(c) for c in (
            "record_id", "version", "epoch", "fingerprint", "digest", "created_at")))
        manifest = versions.blobs.index("manifest")
        envelope = itemgetter(*(envelopes.columns.index(c) for c in (
            "record_id", "version", "share_key", "custodian_id", "recipients")))
    except (KeyError, ValueError, TypeError):
        return None
    wanted = {rid: (label, current) for rid, label, current in map(record, records.rows)
              if record_id is None or rid == record_id}
    rows = []
    for (rid, version, epoch, fingerprint, digest, created_at), blobs in zip(
            map(version_of, versions.rows), versions.blob_digests, strict=True):
        named = wanted.get(rid)
        if named is not None and named[1] == version:
            kind, hashed = blobs[manifest]
            actual = hashed.hex() if kind == "blob" and hashed is not None else ""
            rows.append((rid, named[0], version, epoch, fingerprint, digest, actual, None,
                         created_at))
    found: Envelopes = {}
    for rid, version, key, custodian_id, recipients in map(envelope, envelopes.rows):
        named = wanted.get(rid)
        if named is not None and named[1] == version:
            found.setdefault(rid, {})[key] = (custodian_id, recipients)
    return rows, found


def _manifest(conn: Any, row: tuple[Any, ...], data: Any = None) -> Any:
    """The row's manifest read again (``data``: as already read again), in the same
    transaction: the bytes just hashed, or the check's hash, must be its hash."""
    if data is None:
        found = conn.execute("SELECT manifest FROM versions WHERE record_id = ? AND"
                             " version = ?", (row[0], row[2])).fetchone()
        data = None if found is None else found[0]
    if not isinstance(data, bytes) or hashlib.sha256(data).hexdigest() != row[6]:
        raise IntegrityError(f"{_where(row)}: the stored manifest was changed or damaged")
    return data


def _parse_unread(conn: Any, rows: list[tuple[Any, ...]],
                  same: dict[tuple[str, ...], tuple[str, ...]]) -> dict[str, Derived]:
    """What the manifests of many ``rows`` (not read yet) say, by record id: read in one
    pass over the current versions, each checked as :func:`_manifest` checks one and
    taken apart as it is read (a few: none here, each is read by its key)."""
    if len(rows) < _ONE_PASS:
        return {}
    wanted = {r[0]: r for r in rows}
    cursor = conn.cursor()
    cursor.row_factory = None
    found: dict[str, Derived] = {}
    cursor.execute("SELECT r.id, v.version, v.manifest FROM records r JOIN versions v"
                   " ON v.record_id = r.id AND v.version = r.current_version")
    while batch := cursor.fetchmany(256):
        for rid, version, data in batch:
            row = wanted.get(rid)
            if row is not None and row[2] == version:
                found[rid] = _derive((*row[:7], _manifest(conn, row, data), row[8]), same)
    return found


def _where(row: tuple[Any, ...]) -> str:
    return f"record {row[1]!r} version {row[2]}"


def _derive(row: tuple[Any, ...], same: dict[tuple[str, ...], tuple[str, ...]]) -> Derived:
    """What the outline takes from the row's manifest, whose SHA-256 must be the row's
    digest (``row``: id, label, version, epoch, fingerprint, digest, the SHA-256 of the
    manifest's bytes as read, those bytes, created at)."""
    give_way()  # thousands of manifests, each parsed (core/turns.py)
    data, digest, actual = row[7], row[5], row[6]
    if not isinstance(data, bytes) or actual != digest:
        raise IntegrityError(f"{_where(row)}: the stored manifest was changed or damaged")
    try:
        obj = _DECODE(data.decode("utf-8"))
        slip39 = obj["slip39"]
        return Derived(
            obj["record_id"], obj["version"], obj["epoch"], _count(slip39["group_threshold"]),
            tuple((_count(g["threshold"]), _count(g["count"])) for g in slip39["groups"]),
            tuple((f"g{s['group']}m{s['member']}", s["custodian_id"], _count(s["group"]),
                   _once(same, tuple(s["recipients"]))) for s in obj["shares"]))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise IntegrityError(f"{_where(row)}: the stored manifest is damaged: {exc}") from None


def _outline(row: tuple[Any, ...], derived: Derived,
             envelopes: Mapping[str, tuple[str, str | None]],
             made: dict[Any, tuple[ShareOutline, ...]]) -> VersionOutline:
    """The outline of ``row`` from what its manifest says (parsed now or kept by its
    SHA-256), every fact that binds the manifest to the row checked against it.
    ``made``: the shares of each shape (quorum, groups, shares) met and found sound, as
    sealed (most envelopes are not re-wrapped)."""
    rid, _, version, epoch, fingerprint, digest, actual, _, created_at = row
    if actual != digest:
        raise IntegrityError(f"{_where(row)}: the stored manifest was changed or damaged")
    groups, group_threshold, shares = derived.groups, derived.group_threshold, derived.shares
    names = (derived.record_id, derived.version, derived.epoch)
    if names != (rid, version, epoch) or format_fingerprint(bytes.fromhex(digest)) != fingerprint:
        raise IntegrityError(f"{_where(row)}: the stored manifest does not match its row")
    shape = (group_threshold, groups, shares)
    sealed = made.get(shape)
    if sealed is None:  # a shape met for the first time: its groups checked once
        if (not 1 <= group_threshold <= len(groups)
                or any(not 0 <= group < len(groups) for _, _, group, _ in shares)):
            raise IntegrityError(f"{_where(row)}: the stored manifest is damaged: its groups")
        sealed = made[shape] = tuple(ShareOutline(*share) for share in shares)
    if len(envelopes) != len(sealed) or any(s.key not in envelopes for s in sealed):
        raise IntegrityError(f"{_where(row)}: envelopes are missing")
    rewrapped = False
    for share in sealed:
        filed_under, stored = envelopes[share.key]
        if filed_under != share.custodian_id:
            raise IntegrityError(f"{_where(row)}: the envelope of share {share.key} is filed "
                                 "under the wrong custodian")
        rewrapped = rewrapped or stored is not None
    if rewrapped:
        sealed = tuple(share if envelopes[share.key][1] is None else share._replace(
            recipients=_envelope_recipients(envelopes[share.key][1], share.recipients,
                                            f"{_where(row)} share {share.key}"))
                       for share in sealed)
    return VersionOutline(rid, version, epoch, fingerprint, created_at, group_threshold,
                          groups, sealed)


def _once(same: dict[tuple[str, ...], tuple[str, ...]],
          recipients: tuple[str, ...]) -> tuple[str, ...]:
    return same.setdefault(recipients, recipients)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("a count is not a whole number")
    return value
