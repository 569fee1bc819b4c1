"""Write a file only its owner can read, atomically: temporary file, fsync, rename.

Used for everything Tessera writes outside the vault that must not be read by others
or left half-written: a released secret the operator asked for, sheet and transcript
PDFs, exports, software key files, virtual device state.

The file is 0600 whatever the umask, and a symbolic link at ``path`` is replaced,
never followed (a rename replaces the link itself). On Linux the data is first
written to an anonymous ``O_TMPFILE`` that only gets a name when it is complete, so
a process killed while writing (even with SIGKILL) leaves no ``.tmp`` file behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

PRIVATE_DIR_MODE = 0o700


def private_folder(path: Path) -> Path:
    """Create ``path`` (and missing parents) 0700 whatever the umask; a folder that
    exists already is made 0700 if it was created by us just now or is ours."""
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    for created in missing:
        with contextlib.suppress(OSError):
            os.chmod(created, PRIVATE_DIR_MODE)  # mkdir's mode is filtered by the umask
    return path


def _anonymous(folder: Path) -> int | None:
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag:
        return None
    try:
        return os.open(folder, flag | os.O_WRONLY, 0o600)
    except OSError:  # a file system without O_TMPFILE support
        return None


def write_private(path: Path, data: bytes | bytearray, *, replace: bool = True) -> None:
    """Write ``data`` to ``path`` with mode 0600. With ``replace=False`` an existing
    file is never overwritten (``FileExistsError``)."""
    path = Path(path)
    if not replace and (path.exists() or path.is_symlink()):
        raise FileExistsError(f"{path} already exists")
    folder = path.parent
    fd = _anonymous(folder)
    if fd is not None:
        try:
            os.fchmod(fd, 0o600)
            _write_all(fd, data)
            os.fsync(fd)
            # Give it a name only now; the name exists for the instant before the rename.
            tmp = folder / f".{path.name}.{secrets.token_hex(6)}.tmp"
            os.link(f"/proc/self/fd/{fd}", tmp, follow_symlinks=True)
        except OSError:
            os.close(fd)
            fd = None
        else:
            os.close(fd)
            _into_place(tmp, path, replace)
            return
    with private_writer(path, replace=replace) as write:  # no O_TMPFILE here
        write(data)


@contextlib.contextmanager
def private_writer(
    path: Path, *, replace: bool = True
) -> Iterator[Callable[[bytes | bytearray], None]]:
    """Stream into ``path``: the block gets a ``write(bytes)`` function; the file is 0600,
    a symbolic link at ``path`` is replaced, and the file appears, complete, only when
    the block ends without an error (an error removes the temporary file; for data that
    must not survive even a SIGKILL, use :func:`write_private`)."""
    path = Path(path)
    if not replace and (path.exists() or path.is_symlink()):
        raise FileExistsError(f"{path} already exists")
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        os.fchmod(handle, 0o600)
        yield lambda data: _write_all(handle, data)
        os.fsync(handle)
    except BaseException:
        os.close(handle)
        tmp.unlink(missing_ok=True)
        raise
    os.close(handle)
    _into_place(tmp, path, replace)


def _write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _into_place(tmp: Path, path: Path, replace: bool) -> None:
    try:
        if replace:
            tmp.replace(path)
        else:
            os.link(tmp, path, follow_symlinks=False)  # fails if the name was taken meanwhile
            tmp.unlink()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
