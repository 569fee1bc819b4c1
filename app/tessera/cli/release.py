"""``tessera release`` and ``tessera drill``: the quorum ceremonies."""

from __future__ import annotations

import functools
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import click

from tessera.cli.context import (
    Context,
    collect_quorum,
    deliver_secret,
    echo,
    pass_ctx,
    secho,
)
from tessera.core.errors import InputError, NotFound
from tessera.core.memory import wipe
from tessera.core.wording import share_label
from tessera.custody.key_wait import run_with_key
from tessera.custody.release import ReleaseCeremony, drill
from tessera.vault import Vault

EXIT_HOOK_FAILED = 4  # the release succeeded; the revocation hook did not


class ReleaseGroup(click.Group):
    """``tessera release RECORD …`` runs a release; ``tessera release abort ID`` and
    ``tessera release list`` act on releases already recorded. (A record labelled
    "abort" or "list" is released by its id.)"""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands:
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group("release", cls=ReleaseGroup)
def release() -> None:
    """Release a secret with a quorum of custodians (see `tessera release run --help`),
    or abort a release left open: `tessera release abort RELEASE_ID`."""


@release.command("abort")
@click.argument("release_ref")
@click.option("--force", is_flag=True,
              help="Abort even if a live process on this machine is still running it.")
@pass_ctx
def release_abort(ctx: Context, release_ref: str, force: bool) -> None:
    """Abort an open release or reshare quorum, e.g. one left by a closed terminal.

    RELEASE_REF is the release id the refusal message names, or a record (its one
    open quorum). The abort is in the audit log with the process that had it open."""
    with ctx.vault() as vault:
        target = _open_quorum(vault, release_ref)
        done = vault.abort_release(target, ctx.actor, force=force)
        label = vault.get_record(done.record_id).label
    echo(f"Aborted {done.purpose} {done.id} of {label} ({len(done.approvals)} approval(s) "
         "discarded). A new one can be started.")


@release.command("list")
@click.argument("record_ref", required=False)
@pass_ctx
def release_list(ctx: Context, record_ref: str | None) -> None:
    """Releases and reshare quorums (open ones first), with who has an open one."""
    with ctx.vault() as vault:
        items = vault.list_releases(record_ref)
        items.sort(key=lambda r: (r.state.value != "open", r.requested_at))
        for r in items:
            owner = vault.release_owner(r.id) if r.state.value == "open" else None
            where = f"  ({owner.describe()})" if owner else ""
            echo(f"{r.id}  {r.purpose:<8} {r.state.value:<9} {r.requested_at}  "
                 f"{r.requested_by}{where}")
    if not items:
        echo("No releases.")


def _open_quorum(vault: Vault, ref: str) -> str:
    try:
        return vault.get_release(ref).id
    except NotFound:
        pass
    record = vault.get_record(ref)
    open_ones = [r for r in vault.list_releases(record.id) if r.state.value == "open"]
    if not open_ones:
        raise NotFound(f"{record.label!r} has no open release")
    return open_ones[0].id


@release.command("run")
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
def release_run(ctx: Context, record_ref: str, reason: str, ticket: str, approvers: tuple[str, ...],
            paper: tuple[str, ...], out: Path | None, reveal: bool) -> None:
    """Release a secret with a quorum of custodians.

    A release left open (a closed terminal, a killed process) is listed by
    `tessera release list` and aborted with `tessera release abort RELEASE_ID`."""
    if not out and not reveal:
        raise InputError("say where the secret goes: --out FILE, or --reveal on a terminal")
    if reveal and not sys.stdout.isatty():
        raise InputError("--reveal prints only to a terminal; use --out FILE instead")
    with ctx.vault() as vault:
        ceremony = ReleaseCeremony(vault, ctx.drivers(vault), record_ref, reason=reason,
                                   ticket=ticket, requested_by=ctx.actor)
        try:
            collect_quorum(ctx, vault, ceremony, approvers, paper)
            # The key stays for the hook's audit entry below: no touch for it either.
            secret = ceremony.finish(keep_key=True)
        except BaseException:
            ceremony.abort()
            raise
        try:
            try:
                deliver_secret(secret, ceremony.manifest.payload_encoding, out, reveal)
            finally:
                wipe(secret)
            echo(f"Released {ceremony.manifest.label}: {ceremony.progress().describe()} "
                 "approvals.")
            echo("The record is now marked released — rotation due. Rotate the credential "
                 "once it has served its purpose.")
            echo(f"Ceremony transcript for signatures: tessera transcript "
                 f"{ceremony.release_id} --out release-transcript.pdf")
            with ceremony.signing():
                report_hook(ctx, vault, ceremony.record.id, ceremony.release_id)
        finally:
            ceremony.close()


@click.command("drill")
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
            cancel = threading.Event()
            result = run_with_key(  # a missing key: "Insert Carol's key", then on
                drivers, tok, ctx.prompts, cancel,
                functools.partial(drill, vault, drivers, rec.id, tok.id, ctx.prompts, cancel,
                                  actor=ctx.actor))
            echo(f"✓ {result.custodian}: {result.token_label} opens "
                 f"{share_label(result.share_key)} ({result.share_key})")


def report_hook(ctx: Context, vault: Vault, record_id: str, release_id: str) -> None:
    """Run the record's revocation hook after a completed release and say how it went.

    A failure is shown in red and makes the command exit with status 4: the secret
    was released, but the credential was not disabled automatically.
    """
    from tessera.custody.hooks import run_revocation_hook

    outcome = run_revocation_hook(vault, record_id, release_id, actor=ctx.actor)
    if outcome is None:
        return
    if outcome.ok:
        echo(f"✓ {outcome.describe()}")
        return
    secho(f"✗ {outcome.describe()}. Disable the released credential by hand.",
                fg="red", err=True)
    sys.exit(EXIT_HOOK_FAILED)


def show_drills_due(ctx: Context) -> None:
    """`tessera drill` without arguments: the drills that are overdue, per record."""
    from tessera.custody.review import overdue_drills

    with ctx.vault() as vault:
        due = overdue_drills(vault, datetime.now(UTC))
    if not due:
        echo("No drill is overdue.")
        return
    echo("Overdue drills (run `tessera drill RECORD CUSTODIAN`):")
    for d in due:
        last = d.last_drill_at[:10] if d.last_drill_at else "never"
        echo(f"  {d.label:<24} {d.custodian:<16} {d.token_label:<24} due {d.due_at[:10]} "
             f"(last {last})")
