"""What this workstation pins of each vault, outside the vault file: rollback and
replacement are noticed on open.

Per vault id: its genesis fingerprint and the highest audit head this computer has seen
(seq, hash). Per vault path: the genesis of the vault found there. Opening a vault is
refused (:class:`VaultReplaced`, :class:`VaultRolledBack`) when

- the file at a pinned path holds a vault with another genesis (the file was replaced
  by another vault, or by this vault with its history rewritten);
- the vault's id is pinned with another genesis (a forged vault reusing the id);
- its log is shorter than the pinned head (an older copy: a rollback), or holds the
  pinned entry with another hash (the log was rewritten from there).

A person who knows why (a backup restored on purpose) accepts the vault with
:func:`accept`: the acceptance and its reason go into the vault's audit log, and the
pins move to what was accepted. Demo vaults are not pinned (a demo vault is
throw-away), but a demo vault found at a pinned path is refused like any other.

One JSON file in the user's config directory (``platformdirs``), mode 0600, replaced
atomically. Independent of the file name the vault was opened by, and the vault file
cannot change it: an attacker who can write only the vault file cannot move the pins.
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

from tessera.core.errors import FormatError, InputError

from .errors import VaultReplaced, VaultRolledBack
from .genesis import display_genesis, genesis_fingerprint
from .head_pins import HeadPinStore
from .store import Vault

PINS_FORMAT = 1
FILE_NAME = "vault-pins.json"
_HEX64 = re.compile(r"[0-9a-f]{64}")


class PinsDamaged(FormatError):
    """The workstation's pin file cannot be read; nothing is assumed about any vault."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"this computer's record of the vaults it has seen ({path}) is "
                         f"damaged: {why}. Move it aside to start afresh (every vault is then "
                         "trusted as first seen).")
        self.path = path


@dataclass(frozen=True)
class VaultPin:
    """The genesis and highest head this workstation has seen of one vault."""

    genesis: str
    seq: int
    hash: str
    seen_at: str = ""


def default_path() -> Path:
    return Path(platformdirs.user_config_dir("tessera", appauthor=False)) / FILE_NAME


class WorkstationPins:
    """The pin file of this workstation (tests give their own path)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else default_path()

    # -- reading and writing the file ------------------------------------------------
    def _load(self) -> tuple[dict[str, VaultPin], dict[str, str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}, {}
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise PinsDamaged(self.path, f"it cannot be read ({type(exc).__name__})") from None
        return _parse(self.path, data)

    def _save(self, vaults: dict[str, VaultPin], paths: dict[str, str]) -> None:
        data = {"format": PINS_FORMAT,
                "vaults": {vid: {"genesis": p.genesis, "seq": p.seq, "hash": p.hash,
                                 "seen_at": p.seen_at} for vid, p in sorted(vaults.items())},
                "paths": dict(sorted(paths.items()))}
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".pins-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(data, sort_keys=True, indent=1) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def pin_for(self, vault_id: str) -> VaultPin | None:
        return self._load()[0].get(vault_id)

    def genesis_at(self, path: Path) -> str | None:
        return self._load()[1].get(_path_key(path))

    # -- the checks ------------------------------------------------------------------
    def check(self, vault: Vault) -> None:
        """Refuse ``vault`` if it is not what this workstation pinned (changes nothing)."""
        vaults, paths = self._load()
        genesis = genesis_fingerprint(vault)
        where = str(vault.path)
        at_path = paths.get(_path_key(vault.path))
        if at_path is not None and at_path != genesis:
            raise VaultReplaced(where, display_genesis(at_path), display_genesis(genesis))
        pin = vaults.get(vault.vault_id)
        if pin is None:
            return
        if pin.genesis != genesis:
            raise VaultReplaced(where, display_genesis(pin.genesis), display_genesis(genesis))
        head_seq, _ = vault.audit_head()
        if head_seq < pin.seq:
            raise VaultRolledBack(where, pin.seq, head_seq, forked=False)
        if _entry_hash(vault, pin.seq) != pin.hash:
            raise VaultRolledBack(where, pin.seq, head_seq, forked=True)

    def remember(self, vault: Vault, seen_at: str = "") -> None:
        """Move the pins forward to ``vault``'s head (call after :meth:`check` passed).

        Never moves a pin backwards: a head below the pin (another process saw more)
        leaves the pin as it is. Demo vaults are not pinned.
        """
        if vault.is_demo:
            return
        vaults, paths = self._load()
        genesis = genesis_fingerprint(vault)
        seq, digest = vault.audit_head()
        pin = vaults.get(vault.vault_id)
        key = _path_key(vault.path)
        if pin is not None and pin.genesis == genesis and pin.seq >= seq \
                and paths.get(key) == genesis:
            return
        if pin is None or pin.genesis != genesis or seq >= pin.seq:
            vaults[vault.vault_id] = VaultPin(genesis, seq, digest, seen_at or vault.now())
        paths[key] = genesis
        self._save(vaults, paths)

    def accept(self, vault: Vault, *, actor: str, reason: str) -> VaultPin:
        """Accept ``vault`` as it is, deliberately: audited in the vault, pins moved to it."""
        reason = reason.strip()
        if not reason:
            raise InputError("say why this vault is accepted (--reason), e.g. 'restored "
                             "from the backup of 1 December after disk failure'")
        vaults, paths = self._load()
        genesis = genesis_fingerprint(vault)
        key = _path_key(vault.path)
        before = vaults.get(vault.vault_id)
        details: dict[str, Any] = {
            "reason": reason,
            "genesis": genesis,
            "pinned_genesis_at_path": paths.get(key),
            "pinned": None if before is None else {
                "genesis": before.genesis, "seq": before.seq, "hash": before.hash},
        }
        head_seq, head_hash = vault.audit_head()
        details["found"] = {"seq": head_seq, "hash": head_hash}
        vault.append_audit(actor, "vault.accept", vault.vault_id, details)
        # The head `audit verify` pinned (head_pins.py) would still call the accepted
        # vault behind or rewritten: forget it, so the next verify checks the whole log
        # and pins the accepted head.
        HeadPinStore().forget(vault.vault_id)
        seq, digest = vault.audit_head()
        pin = VaultPin(genesis, seq, digest, vault.now())
        vaults[vault.vault_id] = pin
        paths[key] = genesis
        self._save(vaults, paths)
        return pin


def _entry_hash(vault: Vault, seq: int) -> str | None:
    with vault.reading() as conn:
        row = conn.execute("SELECT hash FROM audit WHERE seq = ?", (seq,)).fetchone()
    return None if row is None else str(row[0])


def _path_key(path: Path) -> str:
    return str(Path(path).expanduser().resolve())


def _parse(where: Path, data: Any) -> tuple[dict[str, VaultPin], dict[str, str]]:
    if not isinstance(data, dict) or data.get("format") != PINS_FORMAT:
        raise PinsDamaged(where, "its format is not known")
    raw_vaults, raw_paths = data.get("vaults"), data.get("paths")
    if not isinstance(raw_vaults, dict) or not isinstance(raw_paths, dict):
        raise PinsDamaged(where, "a field is missing")
    vaults: dict[str, VaultPin] = {}
    for vault_id, item in raw_vaults.items():
        try:
            pin = VaultPin(item["genesis"], item["seq"], item["hash"], item.get("seen_at", ""))
        except (KeyError, TypeError, AttributeError):
            raise PinsDamaged(where, "a field is missing") from None
        if (not isinstance(pin.genesis, str) or not _HEX64.fullmatch(pin.genesis)
                or type(pin.seq) is not int or pin.seq < 0
                or not isinstance(pin.hash, str) or not isinstance(pin.seen_at, str)):
            raise PinsDamaged(where, "a field has the wrong form")
        vaults[str(vault_id)] = pin
    paths: dict[str, str] = {}
    for key, genesis in raw_paths.items():
        if not isinstance(genesis, str) or not _HEX64.fullmatch(genesis):
            raise PinsDamaged(where, "a field has the wrong form")
        paths[str(key)] = genesis
    return vaults, paths
