"""``tessera audit …``, ``tessera export`` and ``tessera import``: the record of
what happened, and records moving between vaults."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tessera.cli.context import Context, echo, pass_ctx, secho, warn
from tessera.core.errors import InputError
from tessera.core.private_file import private_writer, write_private


@click.group()
def audit() -> None:
    """Verify and export the audit log."""


@audit.command("verify")
@click.option("--head", help="The head printed on a transcript, as SEQ:HASH, to detect "
              "truncation.")
@click.option("--full", is_flag=True, help="Replay the whole signed log and recompute the "
              "whole chain, not only what was written since this computer last verified it.")
@pass_ctx
def audit_verify(ctx: Context, head: str | None, full: bool) -> None:
    """Check the signed log, the audit hash chain and the approval signatures.

    Only the statements and entries written since this computer last verified the vault
    are replayed (the head verified then must still be there, unchanged; every table is
    still compared); --full replays and recomputes everything."""
    expected = None
    if head:
        seq, _, digest = head.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise InputError("--head takes SEQ:HASH, e.g. 42:3f1a…(64 hex digits)")
        expected = (int(seq), digest.lower())
    from tessera.custody.evidence import verify_approvals
    from tessera.custody.log_check import check_vault
    from tessera.vault.genesis import describe_genesis
    from tessera.vault.workstation_pins import WorkstationPins

    with ctx.vault(check=False) as vault:
        state = check_vault(vault, WorkstationPins(), full=full, expected_head=expected)
        verdict = state.audit or vault.verify_audit(expected)
        bad = verify_approvals(vault, ctx.drivers(vault))
    scope = (f"{state.statements} statements" if state.resumed_from == 0 else
             f"{state.head[0] - state.resumed_from} new statements after statement "
             f"{state.resumed_from}, which this computer verified before")
    if state.ok and state.genesis is not None:
        echo(f"Signed state intact: {scope} replayed, every signature verifies, every "
             "table matches.")
        echo(describe_genesis(state.genesis[1]))
        for token_id in state.unproven_possession:
            warn(f"token {token_id} was enrolled remotely: possession of its key is not proven")
    elif state.ok:
        echo(f"Statements intact: {scope} replayed, every table matches.")
        echo(describe_genesis(None))
        warn("this vault's state is not signed yet (no genesis): anyone with write access "
             "to the file could have made these changes.")
    else:
        secho(f"Vault state does NOT verify: {state.problem}", fg="red", err=True)
    if verdict.ok:
        entries = (f"{verdict.entries} new entries after entry {verdict.from_seq}, which this "
                   "computer verified before" if verdict.from_seq else
                   f"{verdict.entries} entries")
        echo(f"Audit chain intact: {entries}; head {verdict.head_seq}:{verdict.head_hash}")
    else:
        secho(f"Audit chain BROKEN at entry {verdict.first_bad_seq}: {verdict.problem}",
              fg="red", err=True)
    for problem in bad:
        secho(f"Approval signature problem: {problem}", fg="red", err=True)
    if not verdict.ok or bad or not state.ok:
        sys.exit(3)
    echo("All approval signatures verify.")


@audit.command("adopt")
@click.option("--token", "tokens", multiple=True, required=True, metavar="TOKEN",
              help="A token that signs (repeat; more than half of the custodians).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the genesis sheet (PDF) to print and keep with the sheets.")
@click.option("--paper", type=click.Choice(["a4", "letter"]), default="a4", show_default=True)
@pass_ctx
def audit_adopt(ctx: Context, tokens: tuple[str, ...], out: Path | None, paper: str) -> None:
    """Sign the vault's current state once (its genesis): from now on every change is
    signed by the token of whoever makes it."""
    from tessera.cli.context import find_token
    from tessera.custody.signing import adopt
    from tessera.vault.genesis import describe_genesis

    with ctx.vault() as vault:
        ids = [find_token(vault, t).id for t in tokens]
        done = adopt(vault, ctx.drivers(vault), ids, ctx.prompts, actor=ctx.actor)
        if out is not None:
            from tessera.custody.sheets import genesis_transcript
            from tessera.sheets.model import Paper
            from tessera.sheets.render import write_transcript_pdf

            sheet = genesis_transcript(vault, done.fingerprint, done.signed_by, done.unproven,
                                       actor=ctx.actor)
            write_transcript_pdf(sheet, out, Paper(paper))
            echo(f"Wrote the genesis sheet to {out}.")
    echo(f"Vault signed by {', '.join(done.signed_by)}.")
    echo(describe_genesis(done.fingerprint))
    echo("Print it and keep it with the recovery sheets. What could not be proven:")
    for line in done.unproven:
        echo(f"  - {line}")


@audit.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of stdout.")
@pass_ctx
def audit_export(ctx: Context, fmt: str, out: Path | None) -> None:
    """Export the audit log."""
    with ctx.vault(check=False) as vault:
        if out:
            with private_writer(out) as write:
                vault.write_audit(lambda chunk: write(chunk.encode("utf-8")), fmt)
        else:
            vault.write_audit(lambda chunk: click.echo(chunk, nl=False), fmt)
    if out:
        echo(f"Wrote {out}")


@click.command("export")
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


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
def import_cmd(ctx: Context, file: Path) -> None:
    """Import a .tessera file (validated completely before anything is written)."""
    from tessera.custody.signing import SignatureCheck
    from tessera.vault.exchange import import_version

    data = file.read_bytes()
    with ctx.vault() as vault:
        result = import_version(vault, data, ctx.actor, SignatureCheck())
    echo(str(result))
