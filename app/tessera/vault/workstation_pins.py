"""What this workstation keeps of each vault, outside the vault file: one store per vault.

The store is this computer's witness of a vault, which someone who can write only the
vault file cannot change (SECURITY.md "Rollback and replacement"). Per vault it keeps:

- the vault's **identity** (its id and first audit entry, :func:`genesis.vault_identity`)
  and, once the vault is signed, its **genesis fingerprint** (the genesis statement's
  hash);
- the **highest audit head seen** and the **paths** the vault was opened from;
- what was last **verified**: the statement head, the audit head it signed and the
  projection of the signed log at that head (every row, as the statements set it), so
  opening the vault replays only newer statements (FORMAT §7.1 "Resuming").

Opening a vault is refused (:class:`VaultReplaced`, :class:`VaultRolledBack`) when the
file at a known path holds another vault, when the vault's identity or genesis differs
from the pinned one, or when its log is shorter than the pinned head (an older copy)
or holds the pinned entry with another hash (a rewritten log). Adopting (writing the
genesis) is a vault moving forward: the genesis is pinned when first seen. A person
who knows why (a backup restored on purpose) accepts the vault with :meth:`accept`:
audited in the vault, the store then starts afresh from it. Demo vaults are not pinned
(a demo vault rebuilt at the same path is not "replaced"); their stores keep only
what was verified.

One SQLite file per vault id in ``<user config dir>/tessera/vaults/`` (directory 0700,
file 0600); every change is one SQLite transaction, so a reader sees the old store or
the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs

from tessera.core import canonical
from tessera.core.errors import FormatError, InputError

from . import statements
from .errors import VaultReplaced, VaultRolledBack
from .genesis import format_fingerprint, vault_identity
from .store import Vault

STORE_FORMAT = 3
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SAFE_ID = re.compile(r"[0-9A-Za-z-]{1,64}")
# Format 2: the ceremony keys the verified statements authorised (a resumed replay
# checks a quorum's later statements against them).
_V2 = (
    "CREATE TABLE ceremony_keys (release TEXT PRIMARY KEY, key TEXT NOT NULL,"
    " token_id TEXT NOT NULL, statement INTEGER NOT NULL)",
)
# Format 3: the digest of the vault's tables when they last matched the projection
# (statements.tables_digest): an open with no new statement compares that, not each row.
_V3 = (
    "ALTER TABLE verified ADD COLUMN tables_digest TEXT NOT NULL DEFAULT ''",
)
_MIGRATIONS = {1: (*_V2, *_V3), 2: _V3}
_SCHEMA = (
    "CREATE TABLE pin (one INTEGER PRIMARY KEY CHECK (one = 1), vault_id TEXT NOT NULL,"
    " identity TEXT NOT NULL, genesis TEXT, seen_seq INTEGER NOT NULL,"
    " seen_hash TEXT NOT NULL, seen_at TEXT NOT NULL)",
    "CREATE TABLE paths (path TEXT PRIMARY KEY)",
    "CREATE TABLE verified (one INTEGER PRIMARY KEY CHECK (one = 1),"
    " statement_seq INTEGER NOT NULL, statement_hash TEXT NOT NULL,"
    " audit_seq INTEGER NOT NULL, audit_hash TEXT NOT NULL, statements INTEGER NOT NULL,"
    " genesis_seq INTEGER, genesis_hash TEXT, unsigned_before_genesis INTEGER NOT NULL,"
    " trusted TEXT NOT NULL, unproven TEXT NOT NULL, at TEXT NOT NULL)",
    "CREATE TABLE projection (t TEXT NOT NULL, k TEXT NOT NULL, row TEXT NOT NULL,"
    " seq INTEGER NOT NULL, PRIMARY KEY (t, k)) WITHOUT ROWID",
    *_V2,
    *_V3,
)


class PinsDamaged(FormatError):
    """A vault's store cannot be read; nothing is assumed about that vault."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"this computer's record of the vault ({path}) is damaged: {why}. "
                         "Move it aside to start afresh: the vault is then trusted as first "
                         "seen and its signed log verified in full.")
        self.path = path


@dataclass(frozen=True)
class VaultPin:
    """The identity, genesis and highest audit head this workstation has seen of a vault."""

    identity: str
    genesis: str | None  # the signed genesis statement's hash, once seen
    seq: int  # -1: not pinned (a demo vault whose verified state only is kept)
    hash: str
    seen_at: str = ""


def default_directory() -> Path:
    return Path(platformdirs.user_config_dir("tessera", appauthor=False)) / "vaults"


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class WorkstationPins:
    """The stores of this workstation (a directory; tests give their own)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else default_directory()

    # -- the files -------------------------------------------------------------------
    def path_for(self, vault_id: str) -> Path:
        if not _SAFE_ID.fullmatch(vault_id):
            raise FormatError(f"the vault id {vault_id!r} cannot name a store file")
        return self.directory / f"{vault_id}.sqlite3"

    @contextlib.contextmanager
    def _open(self, vault_id: str, *, write: bool) -> Iterator[sqlite3.Connection | None]:
        """The store of ``vault_id`` in one transaction (None: there is none, read only)."""
        path = self.path_for(vault_id)
        if not path.exists():
            if not write:
                yield None
                return
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        try:
            conn = sqlite3.connect(str(path), isolation_level=None)
        except sqlite3.Error as exc:
            raise PinsDamaged(path, f"it cannot be opened ({exc})") from None
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version == 0 and write and conn.execute(
                    "SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
                for sql in _SCHEMA:
                    conn.execute(sql)
                conn.execute(f"PRAGMA user_version = {STORE_FORMAT}")
            elif version in _MIGRATIONS and write:
                for sql in _MIGRATIONS[version]:
                    conn.execute(sql)
                conn.execute(f"PRAGMA user_version = {STORE_FORMAT}")
            elif version not in (*_MIGRATIONS, STORE_FORMAT):
                raise PinsDamaged(path, f"its format {version} is not known")
            yield conn
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            raise PinsDamaged(path, f"it cannot be read ({exc})") from None
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()

    def _stores(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.sqlite3")
                      if _SAFE_ID.fullmatch(p.stem))

    # -- pins ------------------------------------------------------------------------
    def pin_for(self, vault_id: str) -> VaultPin | None:
        with self._open(vault_id, write=False) as conn:
            return None if conn is None else _pin(conn, self.path_for(vault_id))

    def _claimed_by(self, path: Path) -> list[tuple[str, VaultPin]]:
        """The vaults this computer last saw at ``path`` (normally one)."""
        key = _path_key(path)
        found = []
        for vault_id in self._stores():
            with self._open(vault_id, write=False) as conn:
                if conn is not None and conn.execute("SELECT 1 FROM paths WHERE path = ?",
                                                     (key,)).fetchone():
                    pin = _pin(conn, self.path_for(vault_id))
                    if pin is not None:
                        found.append((vault_id, pin))
        return found

    def check(self, vault: Vault) -> None:
        """Refuse ``vault`` if it is not what this workstation pinned (changes nothing)."""
        identity = vault_identity(vault)
        genesis = vault.genesis_fingerprint()
        where = str(vault.path)
        for vault_id, other in self._claimed_by(vault.path):
            if vault_id != vault.vault_id or other.identity != identity:
                raise VaultReplaced(where, _known_as(vault_id, other),
                                    _known_as(vault.vault_id, None, genesis))
        pin = self.pin_for(vault.vault_id)
        if pin is None or pin.seq < 0:
            return  # never seen, or only a demo vault's verified state is kept
        if pin.identity != identity or (pin.genesis is not None and genesis is not None
                                        and pin.genesis != genesis):
            raise VaultReplaced(where, _known_as(vault.vault_id, pin),
                                _known_as(vault.vault_id, None, genesis))
        head_seq, _ = vault.audit_head()
        if head_seq < pin.seq:
            raise VaultRolledBack(where, pin.seq, head_seq, forked=False)
        if pin.seq and vault.audit_hash(pin.seq) != pin.hash:
            raise VaultRolledBack(where, pin.seq, head_seq, forked=True)
        if pin.genesis is not None and genesis is None:
            # The pinned head is later than the genesis: reaching here means the
            # genesis statement was removed while the audit log was kept.
            raise VaultRolledBack(where, pin.seq, head_seq, forked=True)

    def remember(self, vault: Vault, seen_at: str = "") -> None:
        """Move the pins forward to ``vault``'s head (call after :meth:`check` passed).

        Never moves a pin backwards: a head below the pin (another process saw more)
        leaves it. The genesis is pinned when first seen. Demo vaults are not pinned.
        """
        if vault.is_demo:
            return
        identity = vault_identity(vault)
        genesis = vault.genesis_fingerprint()
        seq, digest = vault.audit_head()
        key = _path_key(vault.path)
        with self._open(vault.vault_id, write=True) as conn:
            assert conn is not None  # noqa: S101 (write=True makes it)
            pin = _pin(conn, self.path_for(vault.vault_id))
            if pin is None or pin.identity != identity:
                _reset(conn, vault.vault_id, identity, genesis, seq, digest,
                       seen_at or vault.now())
            else:
                if seq >= pin.seq:
                    conn.execute("UPDATE pin SET seen_seq = ?, seen_hash = ?, seen_at = ?",
                                 (seq, digest, seen_at or vault.now()))
                if pin.genesis is None and genesis is not None:
                    conn.execute("UPDATE pin SET genesis = ?", (genesis,))
            conn.execute("INSERT OR IGNORE INTO paths (path) VALUES (?)", (key,))
        self._release_path(key, keep=vault.vault_id)

    def _release_path(self, key: str, keep: str) -> None:
        for vault_id in self._stores():
            if vault_id == keep:
                continue
            with self._open(vault_id, write=True) as conn:
                assert conn is not None  # noqa: S101
                conn.execute("DELETE FROM paths WHERE path = ?", (key,))

    def accept(self, vault: Vault, *, actor: str, reason: str) -> VaultPin:
        """Accept ``vault`` as it is, deliberately: audited in the vault; this computer's
        store of it starts afresh (the next open verifies its signed log in full)."""
        reason = reason.strip()
        if not reason:
            raise InputError("say why this vault is accepted (--reason), e.g. 'restored "
                             "from the backup of 1 December after disk failure'")
        identity = vault_identity(vault)
        genesis = vault.genesis_fingerprint()
        key = _path_key(vault.path)
        before = self.pin_for(vault.vault_id)
        at_path = [vid for vid, _ in self._claimed_by(vault.path)]
        head_seq, head_hash = vault.audit_head()
        vault.append_audit(actor, "vault.accept", vault.vault_id, {
            "reason": reason,
            "identity": identity,
            "genesis": genesis,
            "pinned_at_path": at_path,
            "pinned": None if before is None or before.seq < 0 else {
                "identity": before.identity, "genesis": before.genesis,
                "seq": before.seq, "hash": before.hash},
            "found": {"seq": head_seq, "hash": head_hash},
        })
        seq, digest = vault.audit_head()
        pin = VaultPin(identity, genesis, seq, digest, vault.now())
        with self._open(vault.vault_id, write=True) as conn:
            assert conn is not None  # noqa: S101
            _reset(conn, vault.vault_id, identity, genesis, seq, digest, pin.seen_at)
            conn.execute("INSERT OR IGNORE INTO paths (path) VALUES (?)", (key,))
        self._release_path(key, keep=vault.vault_id)
        return pin

    # -- what was verified -----------------------------------------------------------
    def verified(self, vault: Vault) -> statements.Replay | None:
        """The replay this computer last verified of ``vault`` (its projection), to resume
        from; None when there is none or it belongs to another identity."""
        identity = vault_identity(vault)
        path = self.path_for(vault.vault_id)
        with self._open(vault.vault_id, write=False) as conn:
            if conn is None:
                return None
            pin = _pin(conn, path)
            row = conn.execute("SELECT statement_seq, statement_hash, audit_seq, audit_hash,"
                               " statements, genesis_seq, genesis_hash,"
                               " unsigned_before_genesis, trusted, unproven FROM verified"
                               ).fetchone()
            if pin is None or pin.identity != identity or row is None:
                return None
            try:
                replay = statements.Replay(
                    ok=True, statements=int(row[4]), head=(int(row[0]), _hex(row[1])),
                    genesis=None if row[5] is None else (int(row[5]), _hex(row[6])),
                    unsigned_before_genesis=int(row[7]),
                    unproven_possession=[str(t) for t in json.loads(row[9])],
                    trusted={str(t) for t in json.loads(row[8])},
                    audit_head=(int(row[2]), _hex(row[3])))
                version = version_of(conn)
                if version >= 2:
                    for release, key, token_id, seq in conn.execute(
                            "SELECT release, key, token_id, statement FROM ceremony_keys"):
                        replay.ceremony_keys[str(release)] = statements.CeremonyGrant(
                            str(release), str(key), str(token_id), int(seq))
                if version >= 3:
                    digest = conn.execute("SELECT tables_digest FROM verified").fetchone()[0]
                    replay.tables_digest = "" if digest == "" else _hex(digest)
            except (TypeError, ValueError) as exc:
                raise PinsDamaged(path, f"its verified state cannot be read ({exc})") from None
        # The projection (thousands of rows at scale) is read only if the check needs it:
        # when new statements are replayed onto it, or the tables' digest has changed.
        replay.tables_later(lambda: self._projection(vault.vault_id, tuple(row[:4])))
        return replay

    def _projection(self, vault_id: str, head: tuple[Any, ...]) -> statements.Tables:
        """The projection kept with the verified ``head`` (statement and audit heads)."""
        path = self.path_for(vault_id)
        tables: statements.Tables = {}
        with self._open(vault_id, write=False) as conn:
            row = None if conn is None else conn.execute(
                "SELECT statement_seq, statement_hash, audit_seq, audit_hash FROM verified"
            ).fetchone()
            if conn is None or row is None or tuple(row) != head:
                raise statements.ProjectionMoved(f"{path} holds a newer verified state")
            try:
                for t, k, body, seq in conn.execute("SELECT t, k, row, seq FROM projection"):
                    value = json.loads(body)
                    if not isinstance(value, dict):
                        raise ValueError("a row is not an object")
                    tables.setdefault(str(t), {})[tuple(json.loads(k))] = (value, int(seq))
            except (TypeError, ValueError) as exc:
                raise PinsDamaged(path, f"its verified state cannot be read ({exc})") from None
        return tables

    def save_verified(self, vault: Vault, replay: statements.Replay,
                      resumed_from: statements.Replay | None) -> None:
        """Keep ``replay`` (verified) as what this computer verified of ``vault``.

        ``resumed_from`` is the stored replay it continued, if any: only the rows its
        newer statements touched are written. A store already past ``replay`` (another
        process verified more) is left as it is. Demo vaults are not kept."""
        if not replay.ok:
            return
        identity = vault_identity(vault)
        with self._open(vault.vault_id, write=True) as conn:
            assert conn is not None  # noqa: S101
            pin = _pin(conn, self.path_for(vault.vault_id))
            if pin is None or pin.identity != identity:
                # A demo vault's store keeps only what was verified (seen -1: not pinned).
                seq, digest = (-1, "") if vault.is_demo else vault.audit_head()
                _reset(conn, vault.vault_id, identity, vault.genesis_fingerprint(), seq,
                       digest, vault.now())
            current = conn.execute("SELECT statement_seq, statement_hash FROM verified"
                                   ).fetchone()
            if current is not None and int(current[0]) > replay.head[0]:
                return
            if (resumed_from is not None and current is not None
                    and (int(current[0]), str(current[1])) == resumed_from.head):
                touched = replay.touched
            elif not replay.tables_loaded:
                return  # the store moved on (another process): its newer state stays
            else:
                # Written afresh (a full check, or a store that was elsewhere): every row
                # in one statement — 25,000 rows at 5,000 records.
                conn.execute("DELETE FROM projection")
                conn.executemany("INSERT INTO projection (t, k, row, seq) VALUES (?, ?, ?, ?)",
                                 ((t, _key_text(k), _row_text(row), seq)
                                  for t, rows in replay.tables.items()
                                  for k, (row, seq) in rows.items()))
                touched = set()
            for t, k in touched:
                found = replay.tables.get(t, {}).get(k)
                key_text = _key_text(k)
                if found is None:
                    conn.execute("DELETE FROM projection WHERE t = ? AND k = ?", (t, key_text))
                else:
                    conn.execute("INSERT OR REPLACE INTO projection (t, k, row, seq)"
                                 " VALUES (?, ?, ?, ?)",
                                 (t, key_text, _row_text(found[0]), found[1]))
            conn.execute("DELETE FROM ceremony_keys")
            conn.executemany("INSERT INTO ceremony_keys (release, key, token_id, statement)"
                             " VALUES (?, ?, ?, ?)",
                             [(g.release, g.key, g.token_id, g.statement)
                              for g in replay.ceremony_keys.values()])
            genesis = replay.genesis
            conn.execute("DELETE FROM verified")
            conn.execute(
                "INSERT INTO verified (one, statement_seq, statement_hash, audit_seq,"
                " audit_hash, statements, genesis_seq, genesis_hash, unsigned_before_genesis,"
                " trusted, unproven, at, tables_digest)"
                " VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (replay.head[0], replay.head[1], replay.audit_head[0], replay.audit_head[1],
                 replay.statements, None if genesis is None else genesis[0],
                 None if genesis is None else genesis[1], replay.unsigned_before_genesis,
                 json.dumps(sorted(replay.trusted)), json.dumps(replay.unproven_possession),
                 _stamp(), replay.tables_digest))

    def forget_verified(self, vault_id: str) -> None:
        """Drop what was verified of ``vault_id`` (the next open verifies in full)."""
        with self._open(vault_id, write=False) as conn:
            if conn is None:
                return
        with self._open(vault_id, write=True) as conn:
            assert conn is not None  # noqa: S101
            conn.execute("DELETE FROM verified")
            conn.execute("DELETE FROM projection")


def _key_text(key: tuple[Any, ...]) -> str:
    return canonical.dumps(list(key)).decode("utf-8")


# A kept row as text: read back with json.loads, never hashed (the encoder built once).
_row_text: Callable[[Any], str] = json.JSONEncoder(sort_keys=True).encode


def _reset(conn: sqlite3.Connection, vault_id: str, identity: str, genesis: str | None,
           seq: int, digest: str, seen_at: str) -> None:
    for table in ("pin", "paths", "verified", "projection"):
        conn.execute(f"DELETE FROM {table}")  # noqa: S608 (fixed names)
    conn.execute("INSERT INTO pin (one, vault_id, identity, genesis, seen_seq, seen_hash,"
                 " seen_at) VALUES (1, ?, ?, ?, ?, ?, ?)",
                 (vault_id, identity, genesis, seq, digest, seen_at))


def version_of(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _hex(value: Any) -> str:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise ValueError("a hash has the wrong form")
    return value


def _pin(conn: sqlite3.Connection, path: Path) -> VaultPin | None:
    row = conn.execute("SELECT identity, genesis, seen_seq, seen_hash, seen_at FROM pin"
                       ).fetchone()
    if row is None:
        return None
    identity, genesis, seq, digest, seen_at = row
    if (not isinstance(identity, str) or not _HEX64.fullmatch(identity)
            or (genesis is not None and (not isinstance(genesis, str)
                                         or not _HEX64.fullmatch(genesis)))
            or type(seq) is not int or seq < -1 or not isinstance(digest, str)
            or not isinstance(seen_at, str)):
        raise PinsDamaged(path, "a field has the wrong form")
    return VaultPin(identity, genesis, seq, digest, seen_at)


def _known_as(vault_id: str, pin: VaultPin | None, genesis: str | None = None) -> str:
    """How a refusal names a vault to people: its id and its genesis fingerprint."""
    genesis = pin.genesis if pin is not None else genesis
    if genesis is None:
        return f"vault {vault_id} (not signed yet)"
    return f"vault {vault_id} with genesis fingerprint {format_fingerprint(genesis)}"


def _path_key(path: Path) -> str:
    return str(Path(path).expanduser().resolve())
