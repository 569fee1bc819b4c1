"""Write a file only its owner can read, atomically: temporary file, fsync, rename.

Used for everything Tessera writes outside the vault that must not be read by others
or left half-written: a released secret the operator asked for, software key files,
virtual device state.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_private(path: Path, data: bytes | bytearray, *, replace: bool = True) -> None:
    """Write ``data`` to ``path`` with mode 0600. With ``replace=False`` an existing
    file is never overwritten (``FileExistsError``)."""
    if not replace and path.exists():
        raise FileExistsError(f"{path} already exists")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            tmp.replace(path)
        else:
            os.link(tmp, path)  # fails if the name was taken meanwhile
            tmp.unlink()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
