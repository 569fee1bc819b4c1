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
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, NamedTuple

from tessera.core.errors import IntegrityError
from tessera.core.manifest import describe_quorum, format_fingerprint
from tessera.core.turns import give_way

from .records import _envelope_recipients
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


def current_outlines(vault: Vault, record_id: str | None = None) -> dict[str, VersionOutline]:
    """Every record's (or one record's) current version, outlined, by record id."""
    # One record is looked up by its key: "? IS NULL OR r.id = ?" would scan every
    # record and every envelope (the record pane's read, 40 ms at 5,000 records).
    versions_sql, envelopes_sql = _ALL if record_id is None else _ONE
    args = () if record_id is None else (record_id,)
    # The manifests are outlined as they are read, not all held at once (7 KB each),
    # and a recipient list met before is kept once: thousands of records name the same
    # few tokens, whose post-quantum recipients are 2 KB of text each.
    outlines: dict[str, VersionOutline] = {}
    same: dict[tuple[str, ...], tuple[str, ...]] = {}
    with vault.reading() as conn:
        cursor = conn.cursor()
        cursor.row_factory = None  # plain tuples: thousands of rows
        envelopes: dict[str, dict[str, tuple[str, str | None]]] = {}
        for rid, key, custodian_id, recipients in cursor.execute(envelopes_sql, args):
            envelopes.setdefault(rid, {})[key] = (custodian_id, recipients)
        cursor.execute(versions_sql, args)
        while rows := cursor.fetchmany(256):
            for row in rows:
                outlines[row[0]] = _outline(row, envelopes.get(row[0], {}), same)
    return outlines


def _outline(row: tuple[Any, ...], envelopes: Mapping[str, tuple[str, str | None]],
             same: dict[tuple[str, ...], tuple[str, ...]]) -> VersionOutline:
    give_way()  # thousands of manifests, each hashed (core/turns.py)
    rid, label, version, epoch, fingerprint, digest, data, created_at = row
    where = f"record {label!r} version {version}"
    if not isinstance(data, bytes) or hashlib.sha256(data).hexdigest() != digest:
        raise IntegrityError(f"{where}: the stored manifest was changed or damaged")
    try:
        obj = _DECODE(data.decode("utf-8"))
        slip39 = obj["slip39"]
        groups = tuple((_count(g["threshold"]), _count(g["count"])) for g in slip39["groups"])
        group_threshold = _count(slip39["group_threshold"])
        shares = [(f"g{s['group']}m{s['member']}", s["custodian_id"], _count(s["group"]),
                   _once(same, tuple(s["recipients"]))) for s in obj["shares"]]
        names = (obj["record_id"], obj["version"], obj["epoch"])
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise IntegrityError(f"{where}: the stored manifest is damaged: {exc}") from None
    if names != (rid, version, epoch) or format_fingerprint(bytes.fromhex(digest)) != fingerprint:
        raise IntegrityError(f"{where}: the stored manifest does not match its row")
    if (not 1 <= group_threshold <= len(groups)
            or any(not 0 <= group < len(groups) for _, _, group, _ in shares)):
        raise IntegrityError(f"{where}: the stored manifest is damaged: its groups")
    if len(envelopes) != len(shares) or any(key not in envelopes for key, *_ in shares):
        raise IntegrityError(f"{where}: envelopes are missing")
    outlined = []
    for key, custodian_id, group, sealed in shares:
        filed_under, stored = envelopes[key]
        if filed_under != custodian_id:
            raise IntegrityError(f"{where}: the envelope of share {key} is filed under the "
                                 "wrong custodian")
        outlined.append(ShareOutline(key, custodian_id, group, sealed if stored is None else
                                     _envelope_recipients(stored, sealed,
                                                          f"{where} share {key}")))
    return VersionOutline(rid, version, epoch, fingerprint, created_at, group_threshold,
                          groups, tuple(outlined))


def _once(same: dict[tuple[str, ...], tuple[str, ...]],
          recipients: tuple[str, ...]) -> tuple[str, ...]:
    return same.setdefault(recipients, recipients)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("a count is not a whole number")
    return value
