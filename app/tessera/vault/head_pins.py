"""What this workstation has verified of each vault's audit log, kept outside the vault.

A pin is the newest audit entry (seq, hash) this computer has verified for a vault,
keyed by the vault's identity (its id, and the hash of its first entry so that a
different file claiming the same id is not mistaken for it). It lets opening a vault
recompute only the entries written since, and it is a witness the vault file cannot
change: a log that no longer holds the pinned entry, or holds it with another hash, was
rolled back or rewritten, and that is reported, never accepted.

One small JSON file per vault in the user's config directory (mode 0600, written to a
temporary file and moved into place). The record is a mapping with room to grow: a
later version may keep more per vault (the highest head ever seen, a signing key)
without changing how the verified head is read.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from tessera.core.errors import FormatError

PIN_FORMAT = 1
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SAFE_ID = re.compile(r"[0-9A-Za-z-]{1,64}")


class PinStoreDamaged(FormatError):
    """A pin file cannot be read: the workstation's witness of a vault is unusable."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"the record of what this computer verified of the vault ({path}) "
                         f"is damaged: {why}. Move it aside and run `tessera audit verify "
                         "--full` to check the whole log again.")
        self.path = path


@dataclass(frozen=True)
class HeadPin:
    """The newest entry of ``vault_id``'s log that this workstation verified."""

    vault_id: str
    genesis: str  # hash of entry 1: which log this is
    seq: int
    hash: str
    verified_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"format": PIN_FORMAT, "vault_id": self.vault_id, "genesis": self.genesis,
                "verified": {"seq": self.seq, "hash": self.hash, "at": self.verified_at}}


def default_directory() -> Path:
    return Path(platformdirs.user_config_dir("tessera", appauthor=False)) / "audit-pins"


class HeadPinStore:
    """The pins of one workstation (a directory; tests give their own)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else default_directory()

    def path_for(self, vault_id: str) -> Path:
        if not _SAFE_ID.fullmatch(vault_id):
            raise FormatError(f"the vault id {vault_id!r} cannot name a pin file")
        return self.directory / f"{vault_id}.json"

    def get(self, vault_id: str) -> HeadPin | None:
        """The pin of ``vault_id``, None if this computer never verified that vault."""
        path = self.path_for(vault_id)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise PinStoreDamaged(path, f"it cannot be read ({type(exc).__name__})") from None
        return _parse(path, data, vault_id)

    def put(self, pin: HeadPin) -> None:
        """Keep ``pin`` (atomically: the old pin or the new one, never half of one)."""
        path = self.path_for(pin.vault_id)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        text = json.dumps(pin.to_json(), sort_keys=True, indent=1) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=".pin-", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def forget(self, vault_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path_for(vault_id).unlink()


def _parse(path: Path, data: Any, vault_id: str) -> HeadPin:
    try:
        verified = data["verified"]
        pin = HeadPin(vault_id=data["vault_id"], genesis=data["genesis"],
                      seq=verified["seq"], hash=verified["hash"],
                      verified_at=verified.get("at", ""))
    except (KeyError, TypeError, AttributeError):
        raise PinStoreDamaged(path, "a field is missing") from None
    if data.get("format") != PIN_FORMAT:
        raise PinStoreDamaged(path, f"format {data.get('format')!r} is not known")
    if (pin.vault_id != vault_id or type(pin.seq) is not int or pin.seq < 1
            or not isinstance(pin.hash, str) or not _HEX64.fullmatch(pin.hash)
            or not isinstance(pin.genesis, str) or not _HEX64.fullmatch(pin.genesis)
            or not isinstance(pin.verified_at, str)):
        raise PinStoreDamaged(path, "a field has the wrong form")
    return pin
