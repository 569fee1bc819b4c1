"""The vault: one SQLite file holding public data and ciphertext only.

:meth:`Vault.open` creates the file private to its owner (0600, parent 0700), turns
on WAL and foreign keys, and brings the schema up to date in one transaction. The
methods for custodians, tokens, records, releases, drills and lifecycle rows come from the mixins
named below; this module adds opening, closing and the audit log queries.
"""

from __future__ import annotations

import contextlib
import getpass
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from tessera.core import canonical
from tessera.core.errors import NotFound, PolicyError
from tessera.core.policy import Policy

from . import audit, paths, schema, statements
from .connection import Clock, system_clock
from .errors import NotAVault, VaultTooNew
from .lifecycle import LifecycleMixin
from .models import AuditEntry, AuditVerdict
from .schema import APPLICATION_ID, schema_version
from .settings import META_CREATED_AT, META_DEMO, META_POLICY, META_VAULT_ID

BUSY_TIMEOUT_MS = 5000


def _local_user() -> str:
    try:
        return getpass.getuser() or "tessera"
    except (OSError, KeyError, ImportError):
        return "tessera"


class Vault(LifecycleMixin):
    """A Tessera vault. Every public write is one transaction with its audit entry."""

    @staticmethod
    def default_path() -> Path:
        return paths.default_path()

    @classmethod
    def open(cls, path: Path | str, *, create: bool = False, demo: bool = False,
             actor: str | None = None, clock: Clock | None = None) -> Vault:
        """Open the vault at ``path`` (``create`` makes it if missing or empty).

        ``demo`` marks a newly created vault as a demo vault; asking for a demo vault
        at a path holding a real one is refused rather than silently ignored.
        """
        path = Path(path)
        created = False
        if path.is_dir():
            raise NotAVault(f"{path} is a folder, not a vault file")
        if not path.exists():
            if not create:
                raise NotFound(f"there is no vault at {path}")
            paths.create_private_file(path)
            created = True
        if paths.looks_like_vault(path):
            # Tightened before SQLite opens it (its -wal and -shm copy the mode). A file
            # that is not a vault is refused below and left exactly as it was.
            paths.tighten_permissions(path)
        try:
            conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise NotAVault(f"{path} cannot be opened as a vault ({exc})") from None
        try:
            vault = cls(conn, path, clock or system_clock)
            vault._prepare(create=create, demo=demo, actor=actor or _local_user())
        except BaseException:
            conn.close()
            if created:
                for suffix in ("", *paths.SIDE_FILES):
                    with contextlib.suppress(FileNotFoundError):
                        Path(str(path) + suffix).unlink()
            raise
        paths.tighten_permissions(path)
        return vault

    def _prepare(self, *, create: bool, demo: bool, actor: str) -> None:
        conn = self._conn
        conn.row_factory = sqlite3.Row
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            tables = int(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
        except sqlite3.DatabaseError:
            raise NotAVault(f"{self._path} is not a Tessera vault (not an SQLite "
                            "database, or damaged)") from None
        fresh = app_id == 0 and version == 0 and tables == 0
        if not fresh and app_id != APPLICATION_ID:
            raise NotAVault(f"{self._path} is an SQLite database of another program, "
                            "not a Tessera vault")
        if version > schema_version():
            raise VaultTooNew(version, schema_version())
        if fresh and not create:
            raise NotAVault(f"{self._path} is empty, not a vault")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise NotAVault(f"{self._path}: the vault cannot use write-ahead logging ({mode})")
        conn.execute("PRAGMA foreign_keys = ON")
        # FULL: a committed custody action survives a power cut, not just a crash.
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA trusted_schema = OFF")
        if version < schema_version():
            self._migrate(demo=demo, actor=actor)
        else:
            self._start_capture()
        if demo and not self.is_demo:
            raise PolicyError(f"{self._path} is a real vault, not a demo vault")

    def _migrate(self, *, demo: bool, actor: str) -> None:
        """Apply the missing migrations (and, for a new vault, its settings) atomically."""
        latest = schema_version()
        try:
            self._migrate_in_transaction(demo=demo, actor=actor, latest=latest)
        finally:
            self._statement_kind = "change"

    def _migrate_in_transaction(self, *, demo: bool, actor: str, latest: int) -> None:
        with self.transaction() as conn:
            found = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if found > latest:
                raise VaultTooNew(found, latest)
            for migration in schema.MIGRATIONS[found:]:
                migration(conn)
            conn.execute(f"PRAGMA user_version = {latest}")
            self._start_capture()
            self._audit_head_at_begin = audit.head(conn)
            if found:
                statements.mark_all(conn)
                self._statement_kind = "migrate"
            if found == 0:
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                vault_id = str(uuid.uuid4())
                conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [
                    (META_VAULT_ID, vault_id), (META_DEMO, "1" if demo else "0"),
                    (META_POLICY, canonical.dumps(Policy().to_json()).decode("utf-8")),
                    (META_CREATED_AT, self.now())])
                self._audit(actor, "vault.create", vault_id,
                            {"demo": demo, "schema": latest})
            elif found < latest:
                self._audit(actor, "vault.migrate", self.vault_id,
                            {"from": found, "to": latest})

    # -- lifetime --------------------------------------------------------------------
    @property
    def schema_version(self) -> int:
        with self.reading() as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the main file (before a backup or a copy)."""
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            self._close_reader()
            self._conn.close()

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- signed statements -------------------------------------------------------------
    def genesis_fingerprint(self) -> str | None:
        """The hash of the vault's genesis statement (hex), or ``None`` before it.

        Looked up again only when the statement log's head moved: finding the genesis
        scans the log (7 ms at 5,000 records, asked a dozen times a session on the GUI
        thread), and an append-only, hash-chained log with the same head (seq and hash)
        has the same genesis. A head that went back (a rolled-back transaction) differs
        from the one remembered too."""
        with self.reading() as conn:
            now = statements.head(conn)
            seen = self._genesis_seen
            if seen is not None and seen[0] == now:
                return seen[1]
            found = statements.genesis(conn)
        fingerprint = None if found is None else found[1]
        self._genesis_seen = (now, fingerprint)
        return fingerprint

    def statement_head(self) -> tuple[int, str]:
        with self.reading() as conn:
            return statements.head(conn)

    def verify_state(self, check: statements.Check | None, *,
                     start: statements.Replay | None = None,
                     until: int | None = None,
                     expected_audit_head: tuple[int, str] | None = None,
                     forms_checked: tuple[int, str] | None = None) -> statements.Replay:
        """Replay the signed log, check its signatures (with ``check``) and compare
        the projection with every table; the result names the first difference.
        ``start``: resume after an earlier verified replay (only newer statements are
        checked); ``until``: stop at that statement."""
        # The tables as the comparison reads them are kept only for a caller that holds
        # the read transaction on (what it reads next is then what was checked).
        seen: dict[str, statements.SeenTable] | None = {} if self._holding_snapshot() else None
        with self.reading() as conn:
            result = statements.replay(conn, check, start=start, until=until,
                                       expected_audit_head=expected_audit_head, seen=seen,
                                       forms_checked=forms_checked)
            if result.ok and until is None and seen:
                self._keep_checked(conn, seen)
            return result

    def record_genesis(self, trust: list[str], actor: str, details: dict[str, object]) -> str:
        """Write the genesis statement, signed by every signer in :meth:`signed_by`
        (each of ``trust``). Returns the genesis fingerprint."""
        with self._lock:
            if self.genesis_fingerprint() is not None:
                raise PolicyError("this vault already has a genesis")
            if set(trust) != set(self.signer_ids):
                raise PolicyError("every trusted token must sign the genesis")
            self._statement_kind, self._statement_trust = "genesis", tuple(trust)
            try:
                with self.transaction() as conn:
                    statements.mark_all(conn, only="tokens")
                    self._audit(actor, "vault.genesis", self.vault_id, details)
            finally:
                self._statement_kind, self._statement_trust = "change", ()
        fingerprint = self.genesis_fingerprint()
        assert fingerprint is not None  # noqa: S101 (written just above)
        return fingerprint

    # -- audit -----------------------------------------------------------------------
    def audit_head(self) -> tuple[int, str]:
        """(seq, hash) of the newest entry: what a ceremony transcript prints."""
        with self.reading() as conn:
            return audit.head(conn)

    def verify_audit(self, expected_head: tuple[int, str] | None = None, *,
                     verified_before: tuple[int, str] | None = None,
                     only_new: bool = False,
                     forms_checked: tuple[int, str] | None = None) -> AuditVerdict:
        """Recompute the chain; with a transcript's head, also detect removed entries;
        with the head verified before (and ``only_new``), check it and what follows;
        ``forms_checked``: see :func:`tessera.vault.audit.verify`."""
        with self.reading() as conn:
            return audit.verify(conn, expected_head, verified_before=verified_before,
                                only_new=only_new, forms_checked=forms_checked)

    def audit_hash(self, seq: int) -> str | None:
        """The stored hash of entry ``seq`` (entry 1's names the log: its genesis)."""
        with self.reading() as conn:
            return audit.entry_hash(conn, seq)

    def audit_entries(self, *, action: str | None = None, actor: str | None = None,
                      subject: str | None = None, since: str | None = None,
                      until: str | None = None, after_seq: int = 0,
                      limit: int | None = None, newest: int | None = None) -> list[AuditEntry]:
        with self.reading() as conn:
            return audit.entries(conn, action=action, actor=actor, subject=subject,
                                 since=since, until=until, after_seq=after_seq, limit=limit,
                                 newest=newest)

    def export_audit(self, fmt: str = "jsonl") -> str:
        """The log as JSON lines (verifiable) or CSV (spreadsheet-safe cells)."""
        with self.reading() as conn:
            return audit.export(conn, fmt)

    def write_audit(self, write: Callable[[str], object], fmt: str = "jsonl") -> int:
        """Hand the log to ``write`` in chunks as it is read (memory stays flat); the
        newest entry's number, read in the same transaction as the entries."""
        with self.reading() as conn:
            last, _ = audit.head(conn)
            for chunk in audit.export_chunks(conn, fmt):
                write(chunk)
            return last

