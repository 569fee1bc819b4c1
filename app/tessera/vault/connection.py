"""The vault's SQLite connection, its transactions and the audit hook every write uses.

Every public write runs inside :meth:`VaultConnection.transaction`: ``BEGIN IMMEDIATE``
… ``COMMIT``, rolled back on any exception, so the data rows and their audit entry
land together or not at all. Nested calls become savepoints of the outer transaction,
which lets lifecycle code compose writes (add a version, flag the record, log it)
into one atomic step.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import audit, ceremony_key, statements
from .codec import utc_text
from .errors import Unsigned, VaultBusy
from .models import AuditEntry

if TYPE_CHECKING:
    from .outline_cache import OutlineCache

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class VaultConnection:
    """Owns the connection; shared base of the vault's parts."""

    def __init__(self, conn: sqlite3.Connection, path: Path, clock: Clock) -> None:
        self._conn = conn
        self._path = path
        self._clock = clock
        self._lock = threading.RLock()
        self._depth = 0
        self._reading_depth = 0
        # Test seam: called inside the outermost write transaction just before COMMIT,
        # to prove that a failure at that point leaves the previous state.
        self._before_commit: Callable[[], None] | None = None
        # Signed statements (FORMAT 7.1): on once the schema has them.
        self._capturing = False
        self._signers: list[statements.StatementSigner] = []
        self._statement_kind = "change"
        self._statement_trust: tuple[str, ...] = ()
        # Imported tokens' signed enrolments, carried by the statement of the write
        # in progress (statements.emit).
        self._statement_proofs: dict[str, dict[str, Any]] = {}
        # A ceremony key the next statement authorises (FORMAT 7.1, ``ceremony``).
        self._ceremony_grant: dict[str, str] | None = None
        # Ceremony key (signer id) -> the token whose signature authorised it.
        self._ceremony_actors: dict[str, str] = {}
        self._audit_head_at_begin: tuple[int, str] | None = None
        # The last replay that verified in this process: later checks resume from it.
        self.verified_state: statements.Replay | None = None
        # What this workstation keeps of the manifests it outlined (vault/outline_cache.py):
        # set by whoever opened the vault with a workstation store; None, none kept.
        self.outline_cache: OutlineCache | None = None
        # The statement log's head and the genesis found at it (Vault.genesis_fingerprint).
        self._genesis_seen: tuple[tuple[int, str], str | None] | None = None
        # The tables as the last check that verified read them, and the read transaction
        # it read them in (each outermost transaction on the main connection is counted).
        self._snapshot = 0
        self._checked: tuple[int, dict[str, statements.SeenTable]] | None = None
        # While a commit waits for its signatures (a person's PIN and touch), other
        # threads read the last committed state on a second, read-only connection
        # instead of waiting for the person: a window stays responsive, and can show
        # the "Touch your key" the signature waits for.
        self._signing_thread: int | None = None
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.RLock()
        self._reader_depth = 0

    @property
    def path(self) -> Path:
        return self._path

    def now(self) -> str:
        """The current time in the vault's format (ISO UTC seconds, ``Z``)."""
        return utc_text(self._clock())

    # -- transactions ------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write; nested calls join the outer one as a savepoint.

        Refused with :class:`VaultBusy` (nothing written) while another thread's commit
        waits for its signatures: that wait lasts until a person touches a key, and
        the window asking for the touch must not freeze waiting for it."""
        while not self._lock.acquire(timeout=0.05):
            if self._signing_elsewhere():
                raise VaultBusy()
        try:
            with self._locked_transaction() as conn:
                yield conn
        finally:
            self._lock.release()

    @contextmanager
    def _locked_transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._reading_depth:
                raise RuntimeError("a vault write cannot start inside a read snapshot")
            if self._depth:
                yield from self._savepoint()
                return
            self._checked = None
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise VaultBusy() from None
                raise
            self._depth = 1
            try:
                self._statement_proofs = {}
                if self._capturing:
                    statements.clear(self._conn)
                    self._audit_head_at_begin = audit.head(self._conn)
                yield self._conn
                if self._capturing:
                    self._emit_statement()
                if self._before_commit is not None:
                    self._before_commit()
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0

    def _emit_statement(self) -> None:
        conn = self._conn
        kind = self._statement_kind
        if (kind == "change" and not statements.pending(conn)
                and audit.head(conn) == self._audit_head_at_begin):
            return
        if not self._signers and kind != "migrate" and statements.genesis(conn) is not None:
            raise Unsigned()
        self._signing_thread = threading.get_ident()
        try:
            statements.emit(conn, at=self.now(), kind=kind, signers=self._signers,
                            trust=self._statement_trust, proofs=self._statement_proofs,
                            ceremony=self._ceremony_grant)
        finally:
            self._signing_thread = None

    def _start_capture(self) -> None:
        """Install the per-connection triggers that note changed rows."""
        statements.install_capture(self._conn)
        self._capturing = True

    @contextmanager
    def signed_by(self, *signers: statements.StatementSigner,
                  replace: bool = False) -> Iterator[None]:
        """Every write inside is signed by ``signers`` (the first is the actor; an
        enrolment adds the new token itself). ``replace``: by ``signers`` only, not
        also by the session's or an outer block's (a quorum's ceremony key: the
        operator's token signed its request once and is not asked again)."""
        with self._lock:
            saved = self._signers
            self._signers = list(signers) if replace else [
                *saved, *(s for s in signers if s.token_id not in {x.token_id for x in saved})]
            try:
                yield
            finally:
                self._signers = saved

    @contextmanager
    def authorising(self, grant: dict[str, str]) -> Iterator[None]:
        """The write inside (a quorum's request) authorises a ceremony key:
        ``{"release": id, "key": Ed25519 public key hex}`` goes into its statement.
        It must be a transaction of its own: inside another one the grant would miss
        the statement, which is written when the outer one commits."""
        with self._lock:
            if self._depth:
                raise RuntimeError("a ceremony key is authorised by a transaction of its own")
            self._ceremony_grant = dict(grant)
            if self._signers:  # who acts through the key: the token that authorises it
                self._ceremony_actors[ceremony_key.signer_id(grant["release"])] = \
                    self._signers[0].token_id
            try:
                yield
            finally:
                self._ceremony_grant = None

    def sign_session_with(self, *signers: statements.StatementSigner) -> None:
        """Sign every later write with ``signers`` (none: unsigned again), from any thread.

        For a desktop session's operator: unlike :meth:`signed_by` it does not hold the
        vault's lock until it ends, so the token worker can write while it is in force.
        Writes inside :meth:`signed_by` add their signers to these."""
        with self._lock:
            self._signers = list(signers)

    def carry_enrolment(self, token_id: str, proof: Mapping[str, Any]) -> None:
        """The write in progress imports ``token_id`` with its signed enrolment from
        another vault: the statement carries it, and replay re-checks it."""
        self._require_write()
        self._statement_proofs[token_id] = dict(proof)

    @property
    def signer_ids(self) -> tuple[str, ...]:
        return tuple(s.token_id for s in self._signers)

    def _savepoint(self) -> Iterator[sqlite3.Connection]:
        name = f"tessera_sp{self._depth}"
        self._conn.execute(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield self._conn
        except BaseException:
            self._conn.execute(f"ROLLBACK TO {name}")
            self._conn.execute(f"RELEASE {name}")
            raise
        finally:
            self._depth -= 1
        self._conn.execute(f"RELEASE {name}")

    def _signing_elsewhere(self) -> bool:
        signing = self._signing_thread
        return signing is not None and signing != threading.get_ident()

    @contextmanager
    def _committed_snapshot(self) -> Iterator[sqlite3.Connection]:
        """The last committed state, on the read-only second connection (WAL: readers
        never wait for the writer)."""
        with self._reader_lock:
            if self._reader is None:
                self._reader = sqlite3.connect(f"file:{self._path}?mode=ro", uri=True,
                                               isolation_level=None, check_same_thread=False)
                self._reader.row_factory = sqlite3.Row
                self._reader.execute("PRAGMA trusted_schema = OFF")
            reader = self._reader
            if self._reader_depth:
                self._reader_depth += 1
                try:
                    yield reader
                finally:
                    self._reader_depth -= 1
                return
            reader.execute("BEGIN")
            self._reader_depth = 1
            try:
                yield reader
            finally:
                self._reader_depth = 0
                reader.execute("COMMIT")

    def _close_reader(self) -> None:
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for reads of several rows (joins an open transaction)."""
        while not self._lock.acquire(timeout=0.05):
            if self._signing_elsewhere():
                with self._committed_snapshot() as reader:
                    yield reader
                return
        try:
            with self._locked_reading() as conn:
                yield conn
        finally:
            self._lock.release()

    @contextmanager
    def _locked_reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._depth:
                yield self._conn  # a write transaction is already a consistent view
                return
            if self._reading_depth:
                self._reading_depth += 1
                try:
                    yield self._conn
                finally:
                    self._reading_depth -= 1
                return
            self._conn.execute("BEGIN")
            self._snapshot += 1
            self._reading_depth = 1
            try:
                yield self._conn
            finally:
                self._reading_depth = 0
                self._checked = None
                if self._conn.in_transaction:
                    self._conn.execute("COMMIT")

    def _holding_snapshot(self) -> bool:
        """This thread's caller holds a read transaction on the main connection."""
        return bool(self._reading_depth) and not self._depth and not self._signing_elsewhere()

    def _keep_checked(self, conn: sqlite3.Connection,
                      seen: dict[str, statements.SeenTable]) -> None:
        """Keep the tables as a check that verified read them in ``conn``'s current read
        transaction (:meth:`checked_tables`)."""
        if conn is self._conn and self._reading_depth and not self._depth:
            self._checked = (self._snapshot, seen)

    def checked_tables(self, conn: sqlite3.Connection) -> dict[str, statements.SeenTable] | None:
        """The tables as the check on open read them, found equal to the signed log —
        only while ``conn`` is still in the read transaction that check ran in (no write
        can start inside it, and no other process's write shows in it); None otherwise.
        A command that holds one snapshot from its check on (:meth:`reading` around both)
        reads them from here instead of reading and hashing the same rows again."""
        checked = self._checked
        if (checked is None or conn is not self._conn or not self._reading_depth
                or self._depth or checked[0] != self._snapshot):
            return None
        return checked[1]

    def append_audit(self, actor: str, action: str, subject: str,
                  details: Mapping[str, Any]) -> AuditEntry:
        """Append an audit entry for a custody action whose data lives outside the vault
        (a sheet printed, a secret revealed, a file exported). Joins an open transaction."""
        with self.transaction():
            return self._audit(actor, action, subject, details)

    def _require_write(self) -> sqlite3.Connection:
        if not self._depth:
            raise RuntimeError("vault writes must run inside vault.transaction()")
        return self._conn

    def _audit(self, actor: str, action: str, subject: str,
               details: Mapping[str, Any]) -> AuditEntry:
        """Append the audit entry of the write in progress.

        In a signed vault the entry names who signs the write, whatever ``actor`` the
        caller passed: replay holds every entry a signed statement covers to the
        custodians of its signers (FORMAT §7.1)."""
        conn = self._require_write()
        return audit.append(conn, at=self.now(), actor=self._acting_custodian(conn) or actor,
                            action=action, subject=subject, details=details)

    def _acting_custodian(self, conn: sqlite3.Connection) -> str | None:
        """The custodian whose token signs the write in progress (the first signer: the
        operator; an enrolment adds the new token after it), once the vault has a
        genesis; ``None`` before it, and for the genesis and unsigned migrations."""
        if not self._signers or self._statement_kind != "change":
            return None
        if statements.genesis(conn) is None:
            return None
        first = self._signers[0].token_id
        token_id = self._ceremony_actors.get(first, first)  # a ceremony key acts for its grantor
        row = conn.execute("SELECT c.name FROM tokens t JOIN custodians c ON c.id = t.custodian_id"
                           " WHERE t.id = ?", (token_id,)).fetchone()
        return None if row is None else str(row[0])
