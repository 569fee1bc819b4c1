"""Tessera on the command line: the same custody operations as the GUI, headless.

One handler (:func:`main`) turns every expected error into a message for a person
and a distinct exit code; nothing prints a traceback.
"""

from __future__ import annotations

import getpass
import logging
import os
import secrets as pysecrets
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from tessera.cli_lifecycle import COMMANDS as LIFECYCLE_COMMANDS
from tessera.cli_lifecycle import report_hook, show_drills_due
from tessera.cli_prompts import TerminalPrompts, read_line
from tessera.core.errors import InputError, NotFound, TesseraError, UserCancelled
from tessera.core.memory import wipe
from tessera.core.policy import SplitPlan
from tessera.core.private_file import write_private
from tessera.custody.create import create_record
from tessera.custody.drivers import TokenDrivers
from tessera.custody.release import ReleaseCeremony, drill
from tessera.tokens.base import TokenKind
from tessera.vault import Vault

if TYPE_CHECKING:
    from tessera.custody.reshare import ReshareCeremony

log = logging.getLogger("tessera")
EXIT_USAGE = 2
EXIT_INTERNAL = 70


class Context:
    """Per-invocation state: where the vault is and who is acting."""

    def __init__(self, vault_path: Path | None, actor: str | None) -> None:
        self.vault_path = vault_path or Vault.default_path()
        self.actor = actor or os.environ.get("TESSERA_ACTOR") or getpass.getuser()
        self.prompts = TerminalPrompts()
        self.virtual_touch = "delay:0.3"
        self.virtual = False
        self._virtual_devices: Any = None
        self._drivers: TokenDrivers | None = None

    @contextmanager
    def vault(self) -> Iterator[Vault]:
        if not self.vault_path.exists():
            raise NotFound(f"no vault at {self.vault_path}; create one with `tessera init`")
        vault = Vault.open(self.vault_path)
        try:
            yield vault
        finally:
            vault.close()

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
    click.secho(f"warning: {text}", fg="yellow", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--vault", "vault_path", type=click.Path(path_type=Path), envvar="TESSERA_VAULT",
              help="Vault file (default: the platform data directory; env TESSERA_VAULT).")
@click.option("--actor", help="Who is operating (recorded in the audit log; env TESSERA_ACTOR).")
@click.option("--virtual", is_flag=True, help="Use virtual FIDO2 and PIV devices (demo/testing).")
@click.option("--virtual-touch", default="delay:0.3", show_default=True,
              help="How virtual keys are touched: immediate, never, delay:SECONDS.")
@click.version_option(package_name="tessera")
@click.pass_context
def cli(ctx: click.Context, vault_path: Path | None, actor: str | None, virtual: bool,
        virtual_touch: str) -> None:
    """Tessera: fallback credential custody.

    Recovery secrets split K-of-N among custodians, each share locked to the
    custodian's own token; released only by a quorum, every step on the audit record.
    `tessera gui` opens the desktop application; `tessera demo` shows a ceremony.
    """
    obj = Context(vault_path, actor)
    obj.virtual = virtual
    obj.virtual_touch = virtual_touch
    ctx.obj = obj


# -- vault ----------------------------------------------------------------------------

@cli.command()
@click.option("--demo", is_flag=True, help="A demo vault: software keys allowed, threshold 1 "
              "allowed with a warning. Never for real secrets.")
@pass_ctx
def init(ctx: Context, demo: bool) -> None:
    """Create a new, empty vault."""
    if ctx.vault_path.exists():
        raise InputError(f"a vault already exists at {ctx.vault_path}")
    vault = Vault.open(ctx.vault_path, create=True, demo=demo)
    vault.close()
    echo(f"Created {'demo ' if demo else ''}vault {ctx.vault_path}")
    if demo:
        warn("this is a demo vault: software keys and a threshold of 1 are allowed.")


# -- custodians -----------------------------------------------------------------------

@cli.group()
def custodian() -> None:
    """Add and list custodians."""


@custodian.command("add")
@click.argument("name")
@click.option("--contact", default="", help="How to reach them (e-mail, phone).")
@click.option("--role", default="", help="Their role, e.g. 'SRE lead'.")
@pass_ctx
def custodian_add(ctx: Context, name: str, contact: str, role: str) -> None:
    """Add a custodian."""
    with ctx.vault() as vault:
        c = vault.add_custodian(name, contact=contact, role=role, actor=ctx.actor)
    echo(f"Added custodian {c.name} ({c.id})")


@custodian.command("list")
@pass_ctx
def custodian_list(ctx: Context) -> None:
    """List custodians and their tokens."""
    with ctx.vault() as vault:
        people = vault.list_custodians()
        if not people:
            echo("No custodians yet. Add one with `tessera custodian add NAME`.")
            return
        for c in people:
            tokens = vault.list_tokens(c.id)
            kinds = ", ".join(f"{t.label} [{t.kind.value}{', remote' if t.remote else ''}]"
                              for t in tokens) or "no token"
            echo(f"{c.name:<20} {c.role or '-':<16} {kinds}")


# -- tokens ---------------------------------------------------------------------------

@cli.group()
def token() -> None:
    """Enrol, list and export tokens."""


@token.command("enroll")
@click.argument("custodian_name")
@click.option("--kind", type=click.Choice([k.value for k in TokenKind]), default=None,
              help="Token kind to enrol (fido2, piv, software).")
@click.option("--recipient", help="Enrol remotely from an age1… or age1yubikey1… recipient.")
@click.option("--label", help="A name for the token, e.g. 'blue YubiKey'.")
@pass_ctx
def token_enroll(ctx: Context, custodian_name: str, kind: str | None, recipient: str | None,
                 label: str | None) -> None:
    """Enrol a token for a custodian."""
    from tessera.custody.enroll import enroll_device, enroll_remote

    with ctx.vault() as vault:
        person = vault.get_custodian(custodian_name)
        if recipient:
            info = enroll_remote(vault, person.id, recipient, label=label, actor=ctx.actor)
        else:
            if kind is None:
                raise InputError("say which kind of token to enrol: --kind fido2|piv|software, "
                                 "or --recipient for remote enrolment")
            token_kind = TokenKind(kind)
            device = None
            if token_kind is not TokenKind.SOFTWARE and (ctx.virtual or vault.is_demo):
                device = plug_in_virtual_key(ctx, vault, token_kind, person.name)
            info = enroll_device(vault, ctx.drivers(vault), person.id, token_kind,
                                 ctx.prompts, threading.Event(), label=label, actor=ctx.actor,
                                 device=device)
    echo(f"Enrolled {info.label} for {person.name}")
    echo(f"  recipient: {info.recipient}")


@token.command("list")
@pass_ctx
def token_list(ctx: Context) -> None:
    """List enrolled tokens and the hardware tokens plugged in now."""
    from tessera.custody.enroll import connected_devices

    with ctx.vault() as vault:
        tokens = vault.list_tokens(include_inactive=True)
        echo("Enrolled tokens:")
        if not tokens:
            echo("  none yet — `tessera token enroll NAME --kind fido2|piv|software`")
        for t in tokens:
            remote = " (remote)" if t.remote else ""
            echo(f"  {t.id[:8]}  {t.custodian_name:<16} {t.kind.value:<9} {t.state.value:<8} "
                 f"{t.label}{remote}")
        devices = connected_devices(ctx.drivers(vault))
    echo("Connected now:")
    if not devices:
        echo("  no security key or YubiKey found")
    for d in devices:
        echo(f"  {d.kind.display_name:<12} {d.label}{' (virtual)' if d.virtual else ''}")


@token.command("retire")
@click.argument("token_ref")
@click.option("--lost", is_flag=True, help="The token was lost (not just replaced).")
@click.option("--reason", required=True, help="Why, for the audit log.")
@pass_ctx
def token_retire(ctx: Context, token_ref: str, lost: bool, reason: str) -> None:
    """Retire a token (or record it lost); it no longer approves or receives shares."""
    from tessera.tokens.base import TokenState

    with ctx.vault() as vault:
        info = find_token(vault, token_ref)
        vault.set_token_state(info.id, TokenState.LOST if lost else TokenState.RETIRED,
                              ctx.actor, reason)
        holding = vault.records_of_recipient(info.recipient)
    echo(f"{info.label} is now {'lost' if lost else 'retired'}.")
    if holding:
        names = ", ".join(r.label for r in holding)
        warn(f"its stanza stays in the current envelopes of: {names}. Re-wrap or reshare "
             "those records so the old token can no longer open a share.")


@token.command("drill")
@click.argument("token_ref")
@pass_ctx
def token_drill(ctx: Context, token_ref: str) -> None:
    """Prove one token still opens every share it holds (nothing is revealed)."""
    with ctx.vault() as vault:
        info = find_token(vault, token_ref)
        records = vault.records_of_recipient(info.recipient)
        if not records:
            echo(f"{info.label} holds no share of any current record.")
            return
        drivers = ctx.drivers(vault)
        for rec in records:
            result = drill(vault, drivers, rec.id, info.id, ctx.prompts, threading.Event(),
                           actor=ctx.actor)
            echo(f"✓ {rec.label}: {result.token_label} opens share {result.share_key}")


@token.command("export-identity")
@click.argument("token_ref")
@pass_ctx
def token_export_identity(ctx: Context, token_ref: str) -> None:
    """Print a software token's AGE-SECRET-KEY (for a backup, or stock `age -d -i`)."""
    from tessera.tokens.software import SoftwareDriver

    with ctx.vault() as vault:
        info = find_token(vault, token_ref)
        if info.kind is not TokenKind.SOFTWARE:
            raise InputError("only software tokens have an identity to export; a hardware "
                             "token's key never leaves the device")
        driver = ctx.drivers(vault).driver(TokenKind.SOFTWARE)
        if not isinstance(driver, SoftwareDriver):
            raise InputError("this token kind has no exportable identity")
        text = driver.export_identity(info, ctx.prompts)
        vault.append_audit(ctx.actor, "token.export-identity", info.id,
                           {"custodian": info.custodian_name})
    warn("this is a private key: anyone holding it can open this custodian's shares.")
    echo(text)


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


# -- records --------------------------------------------------------------------------

@cli.group()
def record() -> None:
    """Create, list and show custody records."""


@record.command("create")
@click.option("--label", required=True, help="What the secret is, e.g. 'AWS root (prod)'.")
@click.option("--custodian", "custodians", multiple=True, required=True,
              help="A custodian to hold one share (repeat for each).")
@click.option("--threshold", "-k", type=int, required=True, help="How many must meet (K).")
@click.option("--secret-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read the secret from this file.")
@click.option("--generate", "generate_bytes", type=click.IntRange(16, 1024),
              help="Generate a random secret of this many bytes (shown once at the end).")
@click.option("--binary", is_flag=True, help="The secret is binary, not text.")
@click.option("--system", default="", help="System the identity belongs to.")
@click.option("--account", default="", help="Account or identity name.")
@click.option("--owner", default="", help="Owning team or person.")
@click.option("--environment", default="", help="prod, staging, …")
@click.option("--allow-software", is_flag=True,
              help="Allow software keys on this record (recorded in the audit log).")
@click.option("--sheets", "sheets_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write every custodian's sealed recovery sheet (PDF) to this folder.")
@click.option("--paper", type=click.Choice(["a4", "letter"]), default="a4", show_default=True,
              help="Paper size of the sheets.")
@click.option("--hand-copy", is_flag=True,
              help="Sheets with empty word boxes; each custodian copies their words by hand "
                   "from the terminal, one custodian at a time.")
@pass_ctx
def record_create(ctx: Context, label: str, custodians: tuple[str, ...], threshold: int,
                  secret_file: Path | None, generate_bytes: int | None, binary: bool,
                  system: str, account: str, owner: str, environment: str,
                  allow_software: bool, sheets_dir: Path | None, paper: str,
                  hand_copy: bool) -> None:
    """Split a secret among custodians. The secret comes from stdin unless --secret-file
    or --generate is given."""
    if secret_file and generate_bytes:
        raise InputError("give either --secret-file or --generate, not both")
    if generate_bytes:
        secret = bytearray(pysecrets.token_bytes(generate_bytes))
        binary = True
    elif secret_file:
        secret = bytearray(secret_file.read_bytes())
    else:
        if sys.stdin.isatty():
            line = read_line("Secret (not shown): ", secret=True)
            secret = bytearray((line or "").encode("utf-8"))
        else:
            secret = bytearray(sys.stdin.buffer.read())
    if not binary and secret.endswith(b"\n") and not secret_file:
        del secret[-1:]
    try:
        if not secret:
            raise InputError("the secret is empty")
        if not binary:
            try:
                secret.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError("the secret is not UTF-8 text; use --binary") from None
        from tessera.custody.sheets import WordsKeeper

        keeper = WordsKeeper()
        try:
            with ctx.vault() as vault:
                created = create_record(
                    vault, secret, label=label, plan=SplitPlan.simple(threshold, custodians),
                    nhi={"system": system, "account": account, "owner": owner,
                         "environment": environment},
                    actor=ctx.actor, allow_software=allow_software,
                    encoding="binary" if binary else "utf-8",
                    on_mnemonics=keeper.collect if sheets_dir else None)
                for w in created.warnings:
                    warn(w.text)
                echo(f"Created record {created.label} ({created.record_id})")
                echo(f"  {created.sealed.manifest.describe_quorum()} · version 1 · epoch 1")
                echo(f"  fingerprint {created.fingerprint}")
                if sheets_dir:
                    write_creation_sheets(vault, created.sealed, keeper, sheets_dir, paper,
                                          hand_copy, ctx.actor)
        finally:
            keeper.wipe()
        if generate_bytes:
            echo("A secret was generated; nobody has seen it. Release it with a quorum "
                 "when you need to install it.")
    finally:
        wipe(secret)


def write_creation_sheets(vault: Vault, sealed: Any, keeper: Any, folder: Path, paper: str,
                          hand_copy: bool, actor: str) -> None:
    """Every custodian's sheet at creation, the only moment all the words exist."""
    from tessera.custody.sheets import log_printed, sheets_at_creation
    from tessera.sheets.model import Paper
    from tessera.sheets.render import write_pdf

    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    sheets = sheets_at_creation(vault, sealed, keeper.words, hand_copy=hand_copy)
    for made in sheets:
        who = made.custodian
        path = folder / f"{made.serial}-{who.lower().replace(' ', '-')}.pdf"
        write_pdf([made], path, Paper(paper))
        log_printed(vault, [made], actor=actor, hand_copy=hand_copy)
        echo(f"  sheet {made.serial} for {who} → {path}")
        if hand_copy:
            show_words_for_copying(who, keeper.words[made.share_key])
    if not hand_copy:
        warn(f"the PDFs in {folder} each hold a share: print them, then delete the files.")
    echo("Seal each sheet in its envelope, then record it: "
         "tessera sheet seal SERIAL --envelope NO --sealed-by NAME --witness NAME")


def show_words_for_copying(who: str, words: str) -> None:
    """Hand-copy mode: one custodian's words on screen, then the screen is cleared."""
    if not sys.stdout.isatty() or not sys.stdin.isatty():
        raise InputError("hand-copy mode shows the words on a terminal only; run it "
                         "interactively (or print the sheets with words)")
    read_line(f"Only {who} should look at the screen now. Press Enter to show the words… ",
              secret=False)
    grid = words.split()
    for row in range(11):
        click.echo("   ".join(f"{row + 1 + 11 * col:>2}. {grid[row + 11 * col]:<9}"
                              for col in range(3)))
    read_line(f"{who}: copy the words onto your sheet, check them, then press Enter… ",
              secret=False)
    click.clear()


@record.command("list")
@pass_ctx
def record_list(ctx: Context) -> None:
    """List custody records."""
    with ctx.vault() as vault:
        records = vault.list_records()
        if not records:
            echo("No records yet. Create one with `tessera record create`.")
        for r in records:
            echo(f"{r.label:<28} {r.state.display:<28} v{r.current_version}  {r.id}")


@record.command("show")
@click.argument("record_ref")
@pass_ctx
def record_show(ctx: Context, record_ref: str) -> None:
    """Show a record: facts, quorum, custodians and tokens."""
    from tessera.custody.release import custodian_slots

    with ctx.vault() as vault:
        r = vault.get_record(record_ref)
        data = vault.get_version(r.id)
        m = data.manifest
        echo(f"{r.label}")
        echo(f"  id           {r.id}")
        echo(f"  state        {r.state.display}")
        for key in ("system", "account", "owner", "environment"):
            if getattr(r, key):
                echo(f"  {key:<12} {getattr(r, key)}")
        echo(f"  version      {m.version} (epoch {m.epoch}), created {m.created_at} by "
             f"{m.created_by}")
        echo(f"  quorum       {m.describe_quorum()}")
        echo(f"  fingerprint  {m.fingerprint}")
        echo("  custodians:")
        for slot in custodian_slots(vault, data):
            tokens = ", ".join(f"{t.label} ({t.kind.value})" for t in slot.tokens) or \
                "no active token (paper only)"
            echo(f"    {slot.name:<18} share {', '.join(slot.share_keys):<10} {tokens}")


# -- release --------------------------------------------------------------------------

@cli.command()
@click.argument("record_ref")
@click.option("--reason", required=True, help="Why the secret is needed.")
@click.option("--ticket", required=True, help="Change or incident ticket reference.")
@click.option("--approve", "approvers", multiple=True,
              help="A custodian approving with their token (repeat).")
@click.option("--paper", "paper", multiple=True,
              help="A custodian approving with the words of their sheet (repeat).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the secret to this file (mode 0600).")
@click.option("--reveal", is_flag=True, help="Print the secret (only on a terminal).")
@pass_ctx
def release(ctx: Context, record_ref: str, reason: str, ticket: str, approvers: tuple[str, ...],
            paper: tuple[str, ...], out: Path | None, reveal: bool) -> None:
    """Release a secret with a quorum of custodians."""
    if not out and not reveal:
        raise InputError("say where the secret goes: --out FILE, or --reveal on a terminal")
    if reveal and not sys.stdout.isatty():
        raise InputError("--reveal prints only to a terminal; use --out FILE instead")
    with ctx.vault() as vault:
        ceremony = ReleaseCeremony(vault, ctx.drivers(vault), record_ref, reason=reason,
                                   ticket=ticket, requested_by=ctx.actor)
        try:
            collect_quorum(ctx, vault, ceremony, approvers, paper)
            secret = ceremony.finish()
        except BaseException:
            ceremony.abort()
            raise
        try:
            deliver_secret(secret, ceremony.manifest.payload_encoding, out, reveal)
        finally:
            wipe(secret)
        echo(f"Released {ceremony.manifest.label}: {ceremony.progress().describe()} approvals.")
        echo("The record is now marked released — rotation due. Rotate the credential "
             "once it has served its purpose.")
        echo(f"Ceremony transcript for signatures: tessera transcript {ceremony.release_id} "
             "--out release-transcript.pdf")
        report_hook(ctx, vault, ceremony.record.id, ceremony.release_id)


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
            click.secho(f"✗ {exc}", fg="red", err=True)
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
            ceremony.contribute_token(tok.id, ctx.prompts, threading.Event())
            echo(f"✓ {person.name}: approved with {tok.label}")
            return
        except TesseraError as exc:
            if len(slot.tokens) == 1:
                raise
            last = exc
            click.secho(f"  {tok.label}: {exc}", fg="yellow", err=True)
    raise last or InputError(f"no token of {person.name}'s could approve")


def deliver_secret(secret: bytearray, encoding: str, out: Path | None, reveal: bool) -> None:
    if out:
        write_private(out, bytes(secret))
        warn(f"the secret is in {out}: delete it (shred) once it has been used.")
    if reveal:
        if encoding == "utf-8":
            click.echo(secret.decode("utf-8"))
        else:
            click.echo(secret.hex())


# -- drill ----------------------------------------------------------------------------

@cli.command("drill")
@click.argument("record_ref", required=False)
@click.argument("custodian_name", required=False)
@pass_ctx
def drill_cmd(ctx: Context, record_ref: str | None, custodian_name: str | None) -> None:
    """A custodian proves their token still opens their share (nothing is revealed).

    Without arguments, lists the drills that are overdue."""
    if record_ref is None:
        show_drills_due(ctx)
        return
    if custodian_name is None:
        raise click.UsageError("give the record and the custodian who drills")
    with ctx.vault() as vault:
        person = vault.get_custodian(custodian_name)
        rec = vault.get_record(record_ref)
        from tessera.custody.release import custodian_slots

        slot = next((s for s in custodian_slots(vault, vault.get_version(rec.id))
                     if s.custodian_id == person.id), None)
        if slot is None:
            raise InputError(f"{person.name} holds no share of {rec.label}")
        if not slot.tokens:
            raise InputError(f"{person.name} has no active token for {rec.label}")
        drivers = ctx.drivers(vault)
        for tok in slot.tokens:
            result = drill(vault, drivers, rec.id, tok.id, ctx.prompts, threading.Event(),
                           actor=ctx.actor)
            echo(f"✓ {result.custodian}: {result.token_label} opens share {result.share_key}")


# -- audit ----------------------------------------------------------------------------

@cli.group()
def audit() -> None:
    """Verify and export the audit log."""


@audit.command("verify")
@click.option("--head", help="The head printed on a transcript, as SEQ:HASH, to detect "
              "truncation.")
@pass_ctx
def audit_verify(ctx: Context, head: str | None) -> None:
    """Check the audit hash chain (and approval signatures)."""
    expected = None
    if head:
        seq, _, digest = head.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise InputError("--head takes SEQ:HASH, e.g. 42:3f1a…(64 hex digits)")
        expected = (int(seq), digest.lower())
    with ctx.vault() as vault:
        verdict = vault.verify_audit(expected_head=expected)
        from tessera.custody.evidence import verify_approvals

        bad = verify_approvals(vault, ctx.drivers(vault))
    if verdict.ok:
        echo(f"Audit chain intact: {verdict.entries} entries, head {verdict.head_seq}:"
             f"{verdict.head_hash}")
    else:
        click.secho(f"Audit chain BROKEN at entry {verdict.first_bad_seq}: {verdict.problem}",
                    fg="red", err=True)
    for problem in bad:
        click.secho(f"Approval signature problem: {problem}", fg="red", err=True)
    if not verdict.ok or bad:
        sys.exit(3)
    echo("All approval signatures verify.")


@audit.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of stdout.")
@pass_ctx
def audit_export(ctx: Context, fmt: str, out: Path | None) -> None:
    """Export the audit log."""
    with ctx.vault() as vault:
        text = vault.export_audit(fmt)
    if out:
        out.write_text(text, encoding="utf-8")
        echo(f"Wrote {out}")
    else:
        click.echo(text, nl=False)


# -- exchange -------------------------------------------------------------------------

@cli.command("export")
@click.argument("record_ref")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--version", "version", type=int, help="Which version (default: current).")
@pass_ctx
def export_cmd(ctx: Context, record_ref: str, file: Path, version: int | None) -> None:
    """Export a record version as a .tessera file (ciphertext and public data only)."""
    from tessera.vault.exchange import export_version

    with ctx.vault() as vault:
        rec = vault.get_record(record_ref)
        data = export_version(vault, rec.id, version, actor=ctx.actor)
    write_private(file, data)
    echo(f"Wrote {file}: ciphertext and public data only; no share or secret is in it.")


@cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
def import_cmd(ctx: Context, file: Path) -> None:
    """Import a .tessera file (validated completely before anything is written)."""
    from tessera.vault.exchange import import_version

    data = file.read_bytes()
    with ctx.vault() as vault:
        result = import_version(vault, data, ctx.actor)
    echo(str(result))


# -- demo -----------------------------------------------------------------------------

@cli.command()
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the demo vault in this folder instead of a temporary one.")
def demo(keep: Path | None) -> None:
    """Run a complete scripted ceremony in a temporary demo vault."""
    from tessera.custody.demo import run_demo

    run_demo(echo, keep)


# -- commands from their own modules ------------------------------------------------

def _register() -> None:
    from tessera.cli_sheets import sheet, transcript

    cli.add_command(sheet)
    cli.add_command(transcript)


_register()


# -- lifecycle (tessera/cli_lifecycle.py) ------------------------------------------------

for _command in LIFECYCLE_COMMANDS:
    cli.add_command(_command)


# -- entry point ----------------------------------------------------------------------

def main(argv: list[str] | None = None) -> NoReturn:
    """The one error handler: every expected error becomes a message and an exit code."""
    logging.basicConfig(level=os.environ.get("TESSERA_LOG", "WARNING").upper(),
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        cli.main(args=argv, prog_name="tessera", standalone_mode=False)
    except UserCancelled:
        click.echo("Cancelled; nothing was changed.", err=True)
        sys.exit(UserCancelled.exit_code)
    except TesseraError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Cancelled; nothing was changed.", err=True)
        sys.exit(UserCancelled.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code)
    except (KeyboardInterrupt, EOFError):
        click.echo("\nCancelled.", err=True)
        sys.exit(UserCancelled.exit_code)
    except OSError as exc:
        click.secho(f"error: {exc.strerror or exc} ({exc.filename or 'system'})", fg="red",
                    err=True)
        sys.exit(74)
    except Exception as exc:  # the last line of defence: no traceback, no secret
        log.debug("unexpected error", exc_info=True)
        click.secho(f"internal error: {type(exc).__name__}. Nothing secret was written. "
                    "Run with TESSERA_LOG=debug for details and report it.", fg="red", err=True)
        sys.exit(EXIT_INTERNAL)
    sys.exit(0)


if __name__ == "__main__":
    main()
