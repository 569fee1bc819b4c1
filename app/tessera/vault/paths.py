"""Where the vault file lives and how it is created private to its owner."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import platformdirs

ENV_VAR = "TESSERA_VAULT"
FILE_NAME = "vault.sqlite3"
SIDE_FILES = ("-wal", "-shm", "-journal")


def default_path() -> Path:
    """``$TESSERA_VAULT`` if set, else ``vault.sqlite3`` in the platform data directory."""
    override = os.environ.get(ENV_VAR, "").strip()
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("tessera", appauthor=False)) / FILE_NAME


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 (and its missing parents with 0700).

    The file is created by us before SQLite opens it, so it is never readable by
    others even for a moment. SQLite gives its -wal and -shm files the mode of the
    database file.
    """
    parent = path.parent
    if not parent.exists():
        parent.mkdir(mode=0o700, parents=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)


_SQLITE_MAGIC = b"SQLite format 3\x00"


def looks_like_vault(path: Path) -> bool:
    """An empty file, or an SQLite database whose header carries Tessera's
    application id (read from the 100-byte header; nothing else is touched)."""
    from .schema import APPLICATION_ID

    try:
        with path.open("rb") as f:
            header = f.read(100)
    except OSError:
        return False
    if not header:
        return True
    return (len(header) == 100 and header.startswith(_SQLITE_MAGIC)
            and int.from_bytes(header[68:72], "big") == APPLICATION_ID)


def tighten_permissions(path: Path) -> None:
    """Remove group and other access from the vault and its side files (POSIX only)."""
    if os.name != "posix":
        return
    for candidate in (path, *(Path(str(path) + suffix) for suffix in SIDE_FILES)):
        try:
            mode = stat.S_IMODE(candidate.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            candidate.chmod(mode & 0o700)
