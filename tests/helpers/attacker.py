"""The attacker of #9: write access to the vault file, no token."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def raw(path: Path) -> sqlite3.Connection:
    """The attacker: plain SQLite on the file, the append-only triggers dropped."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS statements_no_update")
    conn.execute("DROP TRIGGER IF EXISTS statements_no_delete")
    conn.execute("DROP TRIGGER IF EXISTS audit_no_update")
    conn.execute("DROP TRIGGER IF EXISTS audit_no_delete")
    return conn
