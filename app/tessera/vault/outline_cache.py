"""What this workstation remembers of the manifests it has outlined, by their SHA-256.

Outlining a record's current version for the access review (:mod:`tessera.vault.outline`)
takes its manifest apart: 7 KB of JSON, most of it three post-quantum recipients of
2 KB; at 5,000 records that parse was most of the review's reading. What the outline
takes from a manifest depends on the manifest's bytes alone, so it is kept here, keyed
by the SHA-256 of those bytes as the outline read them from the vault, and used again
only for bytes with that same SHA-256: a vault whose manifest was edited, swapped or
replaced has another key, misses, and is taken apart again. Everything that binds the
manifest to its row (the row's digest and fingerprint, its record, version and epoch,
every envelope) is still checked against the row on every read, cached or not.

One SQLite file per vault beside its workstation store (``<vault id>.outlines``,
0600 in the store's 0700 directory): what someone who can write only the vault file
cannot change. It is a cache and nothing else: a file that cannot be read, or an entry
of the wrong form, is passed over (the manifest is parsed as before) and written anew;
nothing in it is ever trusted for bytes it was not made from. A manifest's entry is
its record, version and epoch and the name of its *shape* (quorum, groups, shares,
their custodians and the recipients each share was sealed to: the bulk of an outline,
and the same few for thousands of records), kept once and named by the SHA-256 of its
text, which is checked when it is read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

_HEX64 = re.compile(r"[0-9a-f]{64}")
_SAFE_ID = re.compile(r"[0-9A-Za-z-]{1,64}")
_FORMAT = 1
_SCHEMA = (
    "CREATE TABLE outlines (digest TEXT PRIMARY KEY, record_id TEXT NOT NULL,"
    " version INTEGER NOT NULL, epoch INTEGER NOT NULL, shape TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE shapes (digest TEXT PRIMARY KEY, shape TEXT NOT NULL) WITHOUT ROWID",
)
_DECODE = json.JSONDecoder().decode
# Below this many wanted, entries are looked up by key; above it, every entry is read.
_BY_KEY = 32


class Derived(NamedTuple):
    """What an outline takes from a manifest's bytes (nothing from its row)."""

    record_id: str
    version: int
    epoch: int
    group_threshold: int
    groups: tuple[tuple[int, int], ...]
    shares: tuple[tuple[str, str, int, tuple[str, ...]], ...]  # key, custodian, group, sealed to


class OutlineCache:
    """The outlines kept for one vault (a file; tests give their own)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def beside(cls, directory: Path, vault_id: str) -> OutlineCache | None:
        """The cache of ``vault_id`` in a workstation store's ``directory`` (None: an id
        that cannot name a file)."""
        if not _SAFE_ID.fullmatch(vault_id):
            return None
        return cls(directory / f"{vault_id}.outlines")

    @contextlib.contextmanager
    def _open(self, *, write: bool) -> Iterator[sqlite3.Connection | None]:
        if not write and not self.path.exists():
            yield None
            return
        if write and not self.path.exists():
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=0.2)
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version != _FORMAT:
                if not write:
                    yield None
                    return
                for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                            ).fetchall():
                    conn.execute(f'DROP TABLE "{name}"')
                for sql in _SCHEMA:
                    conn.execute(sql)
                conn.execute(f"PRAGMA user_version = {_FORMAT}")
            yield conn
            conn.execute("COMMIT")
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()

    def lookup(self, digests: Iterable[str]) -> dict[str, Derived]:
        """The kept outlines of the manifests with these SHA-256 digests (hex); those
        missing, unreadable or of the wrong form are left out."""
        wanted = set(digests)
        found: dict[str, Derived] = {}
        if not wanted:
            return found
        try:
            with self._open(write=False) as conn:
                if conn is None:
                    return found
                if len(wanted) <= _BY_KEY:
                    rows = [row for d in sorted(wanted) for row in conn.execute(
                        "SELECT digest, record_id, version, epoch, shape FROM outlines"
                        " WHERE digest = ?", (d,))]
                else:
                    rows = conn.execute("SELECT digest, record_id, version, epoch, shape"
                                        " FROM outlines").fetchall()
                shapes = _shapes(conn.execute("SELECT digest, shape FROM shapes"))
        except (sqlite3.Error, OSError):
            return {}  # a damaged cache is no cache: every manifest is parsed
        for digest, rid, version, epoch, shape in rows:
            made = shapes.get(shape)
            if (digest in wanted and made is not None and type(rid) is str
                    and type(version) is int and type(epoch) is int):
                found[digest] = Derived(rid, version, epoch, *made)
        return found

    def keep(self, fresh: Mapping[str, Derived], *, only: Iterable[str] | None = None) -> None:
        """Add ``fresh`` outlines (each under the SHA-256 of the bytes it was made from);
        with ``only``, drop every entry whose digest is not in it (the manifests of the
        vault's older versions). A file that cannot be read is replaced by a new one;
        failing to write changes nothing and is not an error."""
        only = None if only is None else set(only)
        for _ in range(2):
            try:
                self._keep(fresh, only)
                return
            except OSError:
                return
            except (sqlite3.DatabaseError, ValueError, TypeError) as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    return  # another command writes it: left to that one
                with contextlib.suppress(OSError):
                    self.path.unlink()  # not a cache file any more: written afresh

    def _keep(self, fresh: Mapping[str, Derived], only: set[str] | None) -> None:
        with self._open(write=True) as conn:
            assert conn is not None  # noqa: S101 (write=True makes it)
            if only is not None:
                keep = only | set(fresh)
                gone = [(d,) for (d,) in conn.execute("SELECT digest FROM outlines")
                        if d not in keep]
                conn.executemany("DELETE FROM outlines WHERE digest = ?", gone)
            shapes: dict[str, str] = {}
            named: dict[tuple[Any, ...], str] = {}  # thousands of manifests, a few shapes
            rows = []
            for digest, derived in fresh.items():
                shape = (derived.group_threshold, derived.groups, derived.shares)
                ref = named.get(shape)
                if ref is None:
                    text = json.dumps(shape, separators=(",", ":"))
                    ref = named[shape] = hashlib.sha256(text.encode("utf-8")).hexdigest()
                    shapes[ref] = text
                rows.append((digest, derived.record_id, derived.version, derived.epoch, ref))
            conn.executemany("INSERT OR REPLACE INTO shapes (digest, shape) VALUES (?, ?)",
                             list(shapes.items()))
            conn.executemany("INSERT OR REPLACE INTO outlines (digest, record_id, version,"
                             " epoch, shape) VALUES (?, ?, ?, ?, ?)", rows)
            if only is not None and gone:  # shapes no entry names now
                conn.execute("DELETE FROM shapes WHERE digest NOT IN"
                             " (SELECT shape FROM outlines)")


def _shapes(rows: Iterable[tuple[Any, Any]]) -> dict[str, tuple[Any, ...]]:
    """(group threshold, groups, shares) by the SHA-256 of their text; one whose text
    does not hash to its name, or is not of that form, is left out (the entries naming
    it then miss)."""
    found: dict[str, tuple[Any, ...]] = {}
    for digest, text in rows:
        if not (isinstance(digest, str) and isinstance(text, str)
                and hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest() == digest):
            continue
        try:
            group_threshold, groups, shares = _DECODE(text)
            found[digest] = (
                _count(group_threshold), tuple((_count(t), _count(c)) for t, c in groups),
                tuple((_text(key), _text(custodian_id), _count(group),
                       tuple(_text(r) for r in sealed))
                      for key, custodian_id, group, sealed in shares))
        except (ValueError, TypeError):
            continue
    return found


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not text")
    return value


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not a whole number")
    return value
