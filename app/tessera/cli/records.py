"""``tessera record …``: create, list and show custody records."""

from __future__ import annotations

import secrets as pysecrets
import sys
from pathlib import Path
from typing import Any

import click

from tessera.cli.context import Context, echo, pass_ctx, warn
from tessera.cli.prompts import read_line
from tessera.core.errors import InputError
from tessera.core.memory import wipe
from tessera.core.policy import SplitPlan
from tessera.custody.create import create_record
from tessera.vault import Vault


@click.group()
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
@click.option("--allow-lookalike", is_flag=True,
              help="Create it even though the label looks like another record's "
                   "(recorded in the audit log).")
@pass_ctx
def record_create(ctx: Context, label: str, custodians: tuple[str, ...], threshold: int,
                  secret_file: Path | None, generate_bytes: int | None, binary: bool,
                  system: str, account: str, owner: str, environment: str,
                  allow_software: bool, sheets_dir: Path | None, paper: str,
                  hand_copy: bool, allow_lookalike: bool) -> None:
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
                    allow_lookalike=allow_lookalike, encoding="binary" if binary else "utf-8",
                    on_mnemonics=keeper.collect if sheets_dir else None)
                for w in created.warnings:
                    warn(w.text)
                echo(f"Created record {created.label} ({created.record_id})")
                echo(f"  {created.sealed.manifest.describe_quorum()} · version 1")
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
    from tessera.core.private_file import private_folder
    from tessera.custody.sheets import log_printed, sheets_at_creation
    from tessera.sheets.model import Paper
    from tessera.sheets.render import write_pdf

    private_folder(folder)  # it will hold shares; 0700 whatever the umask
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
    echo("Or each custodian confirms their sheet by typing its words: "
         "tessera sheet confirm RECORD --custodian NAME")


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
        else:  # one write, not one per record
            echo("\n".join(f"{r.label:<28} {r.state.display:<28} v{r.current_version}  {r.id}"
                           for r in records))


@record.command("show")
@click.argument("record_ref")
@pass_ctx
def record_show(ctx: Context, record_ref: str) -> None:
    """Show a record: facts, quorum, custodians and tokens."""
    from tessera.custody.release import custodian_slots
    from tessera.custody.sheet_backup import backup_status

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
        echo(f"  sheets       {backup_status(vault, r.id).describe()}")
        echo("  custodians:")
        for slot in custodian_slots(vault, data):
            tokens = ", ".join(f"{t.label} ({t.kind.value})" for t in slot.tokens) or \
                "no active token (paper only)"
            echo(f"    {slot.name:<18} share {', '.join(slot.share_keys):<10} {tokens}")
