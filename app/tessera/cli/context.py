"""What every ``tessera`` command shares: the per-invocation context (vault, actor,
token drivers, prompts), output helpers, and the steps several commands take (finding
a token, plugging in a virtual key, collecting a quorum, delivering a secret).

Command modules import this module and nothing else of the CLI; :mod:`tessera.cli.main`
assembles them under the root group and holds the one error handler.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tessera.cli.prompts import TerminalPrompts, read_line
from tessera.cli.terminal import secho as secho
from tessera.core.errors import InputError, NotFound, TesseraError, UserCancelled
from tessera.core.private_file import write_private
from tessera.core.text import visible
from tessera.custody.drivers import TokenDrivers
from tessera.custody.key_wait import run_with_key
from tessera.tokens.base import TokenKind
from tessera.vault import Vault

if TYPE_CHECKING:
    from tessera.custody.release import ReleaseCeremony
    from tessera.custody.reshare import ReshareCeremony


class Context:
    """Per-invocation state: where the vault is and who is acting."""

    def __init__(self, vault_path: Path | None, actor: str | None) -> None:
        self.vault_path = vault_path or Vault.default_path()
        self.typed_actor = actor  # --actor as typed (None: not given)
        self.actor = actor or os.environ.get("TESSERA_ACTOR") or getpass.getuser()
        self.prompts = TerminalPrompts()
        self.virtual_touch = "delay:0.3"
        self.virtual = False
        self._virtual_devices: Any = None
        self._drivers: TokenDrivers | None = None
        self.sign_with: str | None = None

    @contextmanager
    def vault(self, *, check: bool = True, check_pins: bool = True,
              snapshot: bool = False) -> Iterator[Vault]:
        """The vault, refused if it is not what this computer pinned of it (an older copy,
        another vault) and checked against its signed log (``check``): a command refuses
        to act on a vault whose tables differ from what its custodians signed; only what
        is new since this computer last verified it is replayed (custody/log_check.py).
        `audit verify` and `audit export` open it unchecked, to report. Its newest head
        is pinned again when the command is done.

        ``snapshot``: a command that only reads (the review) reads in the very read
        transaction the check ran in, so what it reads is what was checked (no write,
        of this process or another, shows in it), and the tables as the check read
        them are reused (``Vault.checked_tables``) instead of read and hashed again."""
        if not self.vault_path.exists():
            raise NotFound(f"no vault at {self.vault_path}; create one with `tessera init`")
        vault = Vault.open(self.vault_path)
        try:
            with vault.reading() if snapshot else contextlib.nullcontext():
                yield from self._checked(vault, check=check, check_pins=check_pins)
        finally:
            vault.close()

    def _checked(self, vault: Vault, *, check: bool, check_pins: bool) -> Iterator[Vault]:
        from tessera.vault.workstation_pins import WorkstationPins

        pins = WorkstationPins()
        if check_pins:
            pins.check(vault)
        if check:
            from tessera.custody.log_check import check_vault
            from tessera.custody.signing import StateNotVerified

            # Checking against the pins is skipped only to accept or show a vault that
            # differs from them: then its whole log is verified, and nothing is kept.
            state = check_vault(vault, pins if check_pins else None, opening=True)
            if not state.ok:
                raise StateNotVerified(state.problem, acting=False)
        if check_pins:
            from tessera.vault.outline_cache import OutlineCache

            # Outlines kept by the SHA-256 of the manifest bytes they were made from,
            # beside this workstation's store of the vault (vault/outline_cache.py).
            vault.outline_cache = OutlineCache.beside(pins.directory, vault.vault_id)
        if self.sign_with:
            with vault.signed_by(self.signer(vault, self.sign_with)):
                yield vault
        else:
            yield vault
        if check_pins:
            pins.remember(vault)

    def signer(self, vault: Vault, ref: str) -> Any:
        """The token that signs this command's changes; its custodian becomes the actor
        (who signed, not free text)."""
        from tessera.custody.signing import TokenSigner, require_operator_token

        token = find_token(vault, ref)
        require_operator_token(vault, token)
        if self.typed_actor is not None and self.typed_actor != token.custodian_name:
            # Free text cannot say who acted where a token signs (#9 item 2).
            raise InputError(f"--actor {self.typed_actor!r} is not who signs: the audit log "
                             f"names the custodian whose token signs ({token.custodian_name}, "
                             "with --sign-with); drop --actor")
        self.actor = token.custodian_name
        return TokenSigner(self.drivers(vault), token, self.prompts)

    def virtual_devices(self) -> Any:
        """The virtual keys of this vault (loaded once per command)."""
        if self._virtual_devices is None:
            from tessera.tokens.virtual.devices import VirtualDevices

            self._virtual_devices = VirtualDevices.for_vault(self.vault_path,
                                                             touch=self.virtual_touch)
        return self._virtual_devices

    def drivers(self, vault: Vault) -> TokenDrivers:
        if self._drivers is None:
            devices: dict[str, Any] = {}
            if self.virtual or vault.is_demo:
                devices = self.virtual_devices().providers()
            self._drivers = TokenDrivers.for_vault(self.vault_path, demo=vault.is_demo,
                                                   **devices)
        return self._drivers


pass_ctx = click.make_pass_decorator(Context)


def echo(text: str = "") -> None:
    click.echo(text)


def warn(text: str) -> None:
    secho(f"warning: {text}", fg="yellow", err=True)


def plug_in_virtual_key(ctx: Context, vault: Vault, kind: TokenKind, owner: str) -> Any:
    """A fresh virtual key for ``owner`` (what plugging in a new key is, in demo mode)."""
    devices = ctx.virtual_devices()
    number = 1 + sum(1 for k in devices.keys if k.name.startswith(f"{owner}'s"))
    key = devices.add(kind, f"{owner}'s virtual {kind.display_name} {number}")
    echo(f"Plugged in {key.name}.")
    if kind is TokenKind.PIV:
        from tessera.tokens.piv import PivDriver

        piv = ctx.drivers(vault).driver(TokenKind.PIV)
        if isinstance(piv, PivDriver):
            return piv.find_device(key.device.card.serial)
    return key.device


def find_token(vault: Vault, ref: str) -> Any:
    """A token by id, id prefix (as `token list` shows it) or label."""
    matches = [t for t in vault.list_tokens(include_inactive=True)
               if t.id == ref or t.id.startswith(ref.lower()) or t.label.lower() == ref.lower()]
    if len(matches) != 1:
        raise NotFound(f"no single token matches {ref!r}" if matches == [] else
                       f"{ref!r} matches several tokens; give more of the id")
    return matches[0]


def collect_quorum(ctx: Context, vault: Vault, ceremony: ReleaseCeremony | ReshareCeremony,
                   approvers: tuple[str, ...], paper: tuple[str, ...]) -> None:
    """Custodians approve one at a time (a release, or the quorum of a reshare/revoke)."""
    what = {"release": "Release", "reshare": "Reshare (new share set)"}.get(
        ceremony.request.purpose, ceremony.request.purpose.capitalize())
    echo(f"{what} of {ceremony.manifest.label} — {ceremony.manifest.describe_quorum()}")
    echo(f"Fingerprint {ceremony.fingerprint}: compare it with your sheets.")
    queue: list[tuple[str, str]] = [("token", a) for a in approvers] + \
        [("paper", p) for p in paper]
    interactive = not queue
    while not ceremony.complete:
        if queue:
            method, name = queue.pop(0)
        elif interactive:
            answer = read_line("Next custodian (name, or 'name paper'; empty to stop): ",
                               secret=False)
            if not answer:
                raise UserCancelled()
            parts = answer.rsplit(" ", 1)
            method, name = ("paper", parts[0]) if len(parts) == 2 and parts[1] == "paper" \
                else ("token", answer)
        else:
            p = ceremony.progress()
            raise InputError(f"the quorum is not met: {p.describe()} — add more --approve "
                             "or --paper custodians")
        try:
            contribute(ctx, vault, ceremony, method, name)
        except UserCancelled:
            raise
        except TesseraError as exc:
            if not interactive:
                raise
            secho(f"✗ {exc}", fg="red", err=True)
            continue
        echo(f"  progress {ceremony.progress().describe()}")


def contribute(ctx: Context, vault: Vault, ceremony: ReleaseCeremony | ReshareCeremony,
               method: str,
               name: str) -> None:
    person = vault.get_custodian(name)
    if method == "paper":
        words = read_line(f"{person.name}, type the 33 words of your sheet: ", secret=True)
        if words is None:
            raise UserCancelled()
        ceremony.contribute_paper(person.id, words)
        echo(f"✓ {person.name}: paper share accepted")
        return
    slot = next((s for s in ceremony.slots() if s.custodian_id == person.id), None)
    if slot is None:
        raise InputError(f"{person.name} holds no share of this record")
    if not slot.tokens:
        raise InputError(f"{person.name} has no active token for this record; use --paper")
    last: TesseraError | None = None
    for tok in slot.tokens:
        try:
            if len(slot.tokens) == 1:  # one key to wait for: "Insert Carol's key", then on
                cancel = threading.Event()
                run_with_key(ceremony.drivers, tok, ctx.prompts, cancel,
                             functools.partial(ceremony.contribute_token, tok.id,
                                               ctx.prompts, cancel))
            else:
                ceremony.contribute_token(tok.id, ctx.prompts, threading.Event())
            echo(f"✓ {person.name}: approved with {tok.label}")
            return
        except TesseraError as exc:
            if len(slot.tokens) == 1:
                raise
            last = exc
            secho(f"  {tok.label}: {exc}", fg="yellow", err=True)
    raise last or InputError(f"no token of {person.name}'s could approve")


def deliver_secret(secret: bytearray, encoding: str, out: Path | None, reveal: bool) -> None:
    if out:
        write_private(out, bytes(secret))
        warn(f"the secret is in {out}: delete it (shred) once it has been used.")
    if reveal:
        if encoding == "utf-8":
            shown = secret.decode("utf-8")
            if visible(shown, keep_newlines=True) != shown:
                warn("the secret holds control or invisible characters; they are shown as "
                     "\\uXXXX below. Use --out FILE for its exact bytes.")
            click.echo(shown)
        else:
            click.echo(secret.hex())
