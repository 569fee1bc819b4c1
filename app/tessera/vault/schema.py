"""The vault's SQL schema as an ordered list of migrations.

``PRAGMA user_version`` is the number of migrations applied. Opening an older vault
applies the missing ones in one transaction; a vault whose number is higher than the
length of :data:`MIGRATIONS` was written by a newer Tessera and is refused.
Migrations are append-only: a released migration is never edited.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

# 'TSRA': marks the SQLite file as a Tessera vault, so another program's database
# is refused instead of being "migrated" into one.
APPLICATION_ID = 0x54535241

Migration = Callable[[sqlite3.Connection], None]

_V1 = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE custodians (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL UNIQUE,          -- NFC + casefold: names are unique ignoring case
    contact    TEXT NOT NULL DEFAULT '',
    role       TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('active', 'retired'))
);

CREATE TABLE tokens (
    id            TEXT PRIMARY KEY,
    custodian_id  TEXT NOT NULL REFERENCES custodians(id),
    kind          TEXT NOT NULL CHECK (kind IN ('fido2', 'piv', 'software')),
    label         TEXT NOT NULL,
    recipient     TEXT NOT NULL UNIQUE,
    facts         TEXT NOT NULL,              -- canonical JSON object, public facts only
    remote        INTEGER NOT NULL CHECK (remote IN (0, 1)),
    state         TEXT NOT NULL CHECK (state IN ('active', 'retired', 'lost')),
    state_reason  TEXT NOT NULL DEFAULT '',
    enrolled_at   TEXT NOT NULL,
    last_drill_at TEXT
);
CREATE INDEX tokens_custodian ON tokens(custodian_id);

CREATE TABLE records (
    id               TEXT PRIMARY KEY,        -- the manifest's record_id
    label            TEXT NOT NULL,
    label_key        TEXT NOT NULL UNIQUE,
    system           TEXT NOT NULL DEFAULT '',
    account          TEXT NOT NULL DEFAULT '',
    owner            TEXT NOT NULL DEFAULT '',
    environment      TEXT NOT NULL DEFAULT '',
    policy_overrides TEXT NOT NULL DEFAULT '{}',
    allow_software   INTEGER NOT NULL CHECK (allow_software IN (0, 1)),
    state            TEXT NOT NULL CHECK (state IN
                         ('sealed', 'released', 'superseded', 'retired', 'rotation_required')),
    state_reason     TEXT NOT NULL DEFAULT '',
    state_since      TEXT NOT NULL,
    current_version  INTEGER NOT NULL,
    created_at       TEXT NOT NULL,
    last_release_at  TEXT,
    last_drill_at    TEXT,
    FOREIGN KEY (id, current_version) REFERENCES versions(record_id, version)
        DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE versions (
    record_id         TEXT NOT NULL REFERENCES records(id) DEFERRABLE INITIALLY DEFERRED,
    version           INTEGER NOT NULL,
    epoch             INTEGER NOT NULL,
    fingerprint       TEXT NOT NULL,
    digest            TEXT NOT NULL,          -- hex SHA-256 of the canonical manifest
    manifest          BLOB NOT NULL,
    ciphertext        BLOB NOT NULL,
    ciphertext_sha256 TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    superseded_at     TEXT,
    PRIMARY KEY (record_id, version)
);

CREATE TABLE envelopes (
    record_id    TEXT NOT NULL,
    version      INTEGER NOT NULL,
    share_key    TEXT NOT NULL,
    custodian_id TEXT NOT NULL REFERENCES custodians(id),
    age          BLOB NOT NULL,
    age_sha256   TEXT NOT NULL,
    PRIMARY KEY (record_id, version, share_key),
    FOREIGN KEY (record_id, version) REFERENCES versions(record_id, version)
);
CREATE INDEX envelopes_custodian ON envelopes(custodian_id);

CREATE TABLE releases (
    id             TEXT PRIMARY KEY,
    record_id      TEXT NOT NULL,
    version        INTEGER NOT NULL,
    request        BLOB NOT NULL,             -- canonical request; tokens sign its SHA-256
    request_sha256 TEXT NOT NULL,
    reason         TEXT NOT NULL,
    ticket         TEXT NOT NULL,
    requested_by   TEXT NOT NULL,
    requested_at   TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('open', 'released', 'aborted')),
    finished_at    TEXT,
    FOREIGN KEY (record_id, version) REFERENCES versions(record_id, version)
);
CREATE INDEX releases_record ON releases(record_id);

CREATE TABLE approvals (
    id           INTEGER PRIMARY KEY,
    release_id   TEXT NOT NULL REFERENCES releases(id),
    custodian_id TEXT NOT NULL REFERENCES custodians(id),
    token_id     TEXT REFERENCES tokens(id),
    method       TEXT NOT NULL CHECK (method IN ('fido2', 'piv', 'software', 'paper')),
    evidence     TEXT NOT NULL,               -- canonical JSON
    at           TEXT NOT NULL
);
CREATE INDEX approvals_release ON approvals(release_id);

CREATE TABLE drills (
    id           INTEGER PRIMARY KEY,
    record_id    TEXT NOT NULL,
    version      INTEGER NOT NULL,
    custodian_id TEXT NOT NULL REFERENCES custodians(id),
    token_id     TEXT REFERENCES tokens(id),
    method       TEXT NOT NULL CHECK (method IN ('fido2', 'piv', 'software', 'paper')),
    ok           INTEGER NOT NULL CHECK (ok IN (0, 1)),
    at           TEXT NOT NULL,
    evidence     TEXT,                        -- canonical JSON or NULL
    FOREIGN KEY (record_id, version) REFERENCES versions(record_id, version)
);
CREATE INDEX drills_record ON drills(record_id, version);

CREATE TABLE sheets (
    serial            TEXT PRIMARY KEY,
    record_id         TEXT NOT NULL,
    version           INTEGER NOT NULL,
    custodian_id      TEXT NOT NULL REFERENCES custodians(id),
    share_key         TEXT NOT NULL,
    envelope_no       TEXT,
    printed_at        TEXT NOT NULL,
    sealed_by         TEXT,
    witness           TEXT,
    state             TEXT NOT NULL CHECK (state IN ('printed', 'sealed', 'opened', 'destroyed')),
    state_since       TEXT NOT NULL,
    reprint_of        TEXT REFERENCES sheets(serial),
    destroyed_by      TEXT,
    destroyed_witness TEXT,
    FOREIGN KEY (record_id, version, share_key) REFERENCES envelopes(record_id, version, share_key)
);
CREATE INDEX sheets_record ON sheets(record_id, version);

CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    details   TEXT NOT NULL,                  -- canonical JSON object, never secret
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX audit_subject ON audit(subject);

-- The log is append-only for the application. This stops mistakes, not an attacker
-- with the file: against that the hash chain and the printed head are the defence.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


def _v1_initial(conn: sqlite3.Connection) -> None:
    """All tables of the first release."""
    for statement in _split(_V1):
        conn.execute(statement)


def _split(script: str) -> list[str]:
    """Split a DDL script into statements (``executescript`` would commit our transaction)."""
    statements: list[str] = []
    current: list[str] = []
    for line in script.splitlines():
        stripped = line.split("--", 1)[0].rstrip()
        if not stripped:
            continue
        current.append(stripped)
        if sqlite3.complete_statement("\n".join(current)):
            statements.append("\n".join(current))
            current = []
    if current:
        raise ValueError("incomplete SQL statement in the schema")
    return statements


_V2 = """
ALTER TABLE envelopes ADD COLUMN recipients TEXT;   -- NULL: as the manifest lists them
ALTER TABLE envelopes ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;

CREATE TABLE rewraps (
    id             INTEGER PRIMARY KEY,
    record_id      TEXT NOT NULL,
    version        INTEGER NOT NULL,
    share_key      TEXT NOT NULL,
    custodian_id   TEXT NOT NULL REFERENCES custodians(id),
    token_id       TEXT REFERENCES tokens(id),
    method         TEXT NOT NULL CHECK (method IN ('fido2', 'piv', 'software', 'paper')),
    request        BLOB NOT NULL,             -- canonical 'rewrap' request the token signed
    evidence       TEXT NOT NULL,             -- canonical JSON
    old_recipients TEXT NOT NULL,             -- canonical JSON list
    new_recipients TEXT NOT NULL,             -- canonical JSON list
    revision       INTEGER NOT NULL,
    at             TEXT NOT NULL,
    FOREIGN KEY (record_id, version, share_key) REFERENCES envelopes(record_id, version, share_key)
);
CREATE INDEX rewraps_record ON rewraps(record_id, version);

CREATE TABLE record_hooks (
    record_id       TEXT PRIMARY KEY REFERENCES records(id),
    command         TEXT NOT NULL,            -- canonical JSON list: argv, no shell
    timeout_seconds INTEGER NOT NULL CHECK (timeout_seconds BETWEEN 1 AND 600),
    set_at          TEXT NOT NULL,
    set_by          TEXT NOT NULL
);
"""


def _v2_lifecycle(conn: sqlite3.Connection) -> None:
    """Re-wrapped envelopes (their own recipient list, the signed re-wrap evidence) and
    per-record revocation hooks."""
    for statement in _split(_V2):
        conn.execute(statement)


_V_SHEET_CONFIRM = """
ALTER TABLE sheets ADD COLUMN confirmed_at  TEXT;  -- the custodian re-entered words of it
ALTER TABLE sheets ADD COLUMN confirmed_how TEXT;  -- e.g. 'words 4, 17, 29'
"""


def _v3_sheet_confirmations(conn: sqlite3.Connection) -> None:
    """A custodian confirms their new sheet (words re-entered while they still exist on
    screen), so a version's backups count only once each share is known to be on paper."""
    for statement in _split(_V_SHEET_CONFIRM):
        conn.execute(statement)


def _v4_sealing_index(conn: sqlite3.Connection) -> None:
    """A partial index of the entries that seal a secret (creation, new versions), so
    the access review finds each record's "secret since" without reading the whole log."""
    conn.execute("CREATE INDEX audit_sealing ON audit(subject, seq)"
                 " WHERE action IN ('record.create', 'record.version')")


_V5_RELEASE_OWNER = """
ALTER TABLE releases ADD COLUMN owner TEXT;   -- canonical JSON process stamp; NULL: unknown
"""


def _v5_release_owner(conn: sqlite3.Connection) -> None:
    """Each open quorum names the process running it (host, boot id, pid, start time),
    so one left open by a killed process can be expired safely."""
    for statement in _split(_V5_RELEASE_OWNER):
        conn.execute(statement)


_V3 = """
CREATE TABLE statements (
    seq        INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('change', 'migrate', 'genesis')),
    body       TEXT NOT NULL,                 -- canonical JSON (FORMAT 7.1)
    hash       TEXT NOT NULL,
    signatures TEXT NOT NULL                  -- canonical JSON list of evidence
);
CREATE TRIGGER statements_no_update BEFORE UPDATE ON statements
BEGIN SELECT RAISE(ABORT, 'the statement log is append-only'); END;
CREATE TRIGGER statements_no_delete BEFORE DELETE ON statements
BEGIN SELECT RAISE(ABORT, 'the statement log is append-only'); END;
"""


def _v6_statements(conn: sqlite3.Connection) -> None:
    """The signed statement log the tables are a projection of. The vault records a
    ``migrate`` statement listing every existing row in the same transaction."""
    for statement in _split(_V3):
        conn.execute(statement)


MIGRATIONS: list[Migration] = [_v1_initial, _v2_lifecycle, _v3_sheet_confirmations,
                              _v4_sealing_index, _v5_release_owner, _v6_statements]
# The schema version that introduced the statement log (tests make "older" vaults).
STATEMENTS_SCHEMA = MIGRATIONS.index(_v6_statements) + 1


def schema_version() -> int:
    """The schema version this code writes."""
    return len(MIGRATIONS)
