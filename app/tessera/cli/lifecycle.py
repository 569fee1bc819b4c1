"""Lifecycle commands: rotate, reshare, revoke, re-wrap, review, policy, revocation
hooks, and the drill schedule (sheet destruction is ``tessera sheet destroy``).

Thin front ends over ``tessera.custody``; errors go to the one handler in
:func:`tessera.cli.main.main`.
"""

from __future__ import annotations

import secrets as pysecrets
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tessera.cli.context import Context, collect_quorum, echo, find_token, secho, warn
from tessera.core.collector import collector_paused
from tessera.core.errors import InputError
from tessera.core.memory import wipe
from tessera.core.policy import Policy, SplitPlan
from tessera.core.private_file import write_private
from tessera.core.review import FindingKind, Severity, review_csv
from tessera.custody.lifecycle import NewVersion

if TYPE_CHECKING:
    from tessera.custody.sheets import WordsKeeper
    from tessera.vault import Vault



# -- secrets in -----------------------------------------------------------------------

def _read_secret(secret_file: Path | None, generate_bytes: int | None,
                 binary: bool) -> tuple[bytearray, bool]:
    """The new secret from a file, from stdin / a hidden prompt, or generated."""
    if secret_file and generate_bytes:
        raise InputError("give either --secret-file or --generate, not both")
    if generate_bytes:
        return bytearray(pysecrets.token_bytes(generate_bytes)), True
    if secret_file:
        secret = bytearray(secret_file.read_bytes())
    elif sys.stdin.isatty():
        from tessera.cli.prompts import read_line

        line = read_line("New secret (not shown): ", secret=True)
        secret = bytearray((line or "").encode("utf-8"))
    else:
        secret = bytearray(sys.stdin.buffer.read())
    if not secret:
        raise InputError("the new secret is empty")
    if not binary:
        try:
            secret.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("the secret is not UTF-8 text; use --binary") from None
    return secret, binary


# -- new sheets out ---------------------------------------------------------------------

@contextmanager
def _sheet_words(pdf: Path | None) -> Iterator[WordsKeeper | None]:
    """A keeper for the new words when sheets are to be printed (else ``None``); the
    words are dropped when the block ends."""
    if pdf is None:
        yield None
        return
    from tessera.custody.sheets import WordsKeeper

    keeper = WordsKeeper()
    try:
        yield keeper
    finally:
        keeper.wipe()


def _collector(keeper: WordsKeeper | None) -> Callable[[Mapping[str, str]], None] | None:
    return None if keeper is None else keeper.collect


def _write_sheets(vault: Vault, result: NewVersion, keeper: WordsKeeper | None,
                  pdf: Path | None, actor: str) -> None:
    if pdf is None or keeper is None:
        echo("Each custodian prints their new sheet with their token "
             "(`tessera sheet print`), or run again with --sheets-pdf.")
        return
    from tessera.custody.sheets import log_printed, sheets_at_creation
    from tessera.sheets.model import Paper
    from tessera.sheets.render import ensure_gui_application, write_pdf

    ensure_gui_application()
    sheets = sheets_at_creation(vault, result.sealed, keeper.words)
    pages = write_pdf(sheets, pdf, Paper.A4)
    log_printed(vault, sheets, actor=actor)
    warn(f"{pdf} holds every custodian's new share words ({pages} pages): print it, "
         "then shred the file.")


def _show_new_version(result: NewVersion, *, warnings: bool = True) -> None:
    for w in result.warnings if warnings else ():
        warn(w.text)
    echo(f"{result.label}: version {result.version} (epoch {result.epoch}), "
         f"{result.quorum}")
    echo(f"  fingerprint {result.fingerprint}")
    echo(f"  state       {result.state.display}")
    if result.state_reason and result.state.value != "sealed":
        echo(f"  why         {result.state_reason}")
    if result.sheets_to_destroy:
        echo("Sheets of the superseded version(s) to destroy before a witness "
             "(`tessera sheet destroy SERIAL --by NAME --witness NAME`):")
        for sheet in result.sheets_to_destroy:
            envelope = f", envelope {sheet.envelope_no}" if sheet.envelope_no else ""
            echo(f"  {sheet.serial}  v{sheet.version} {sheet.share_key}{envelope}")


# -- rotate ---------------------------------------------------------------------------

@click.command("rotate")
@click.argument("record_ref")
@click.option("--reason", required=True, help="Why (e.g. 'rotated after release INC-42').")
@click.option("--secret-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read the new secret from this file (default: stdin or a hidden prompt).")
@click.option("--generate", "generate_bytes", type=click.IntRange(16, 1024),
              help="Generate a random new secret of this many bytes.")
@click.option("--binary", is_flag=True, help="The new secret is binary, not text.")
@click.option("--sheets-pdf", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the new sheets (with words) to this PDF.")
@click.pass_obj
def rotate_cmd(ctx: Context, record_ref: str, reason: str, secret_file: Path | None,
               generate_bytes: int | None, binary: bool, sheets_pdf: Path | None) -> None:
    """Seal a new secret for the current custodians (no quorum); the old version is
    superseded."""
    from tessera.custody.rotate import rotate_record

    secret, binary = _read_secret(secret_file, generate_bytes, binary)
    try:
        with ctx.vault() as vault, _sheet_words(sheets_pdf) as keeper:
            result = rotate_record(vault, record_ref, secret, actor=ctx.actor, reason=reason,
                                   encoding="binary" if binary else "utf-8",
                                   on_mnemonics=_collector(keeper))
            echo(f"Rotated {result.label}.")
            _show_new_version(result)
            _write_sheets(vault, result, keeper, sheets_pdf, ctx.actor)
    finally:
        wipe(secret)


# -- reshare / revoke -------------------------------------------------------------------

def _plan(custodians: tuple[str, ...], threshold: int | None) -> SplitPlan | None:
    names = [n.strip() for item in custodians for n in item.split(",") if n.strip()]
    if not names and threshold is None:
        return None
    if not names or threshold is None:
        raise InputError("give both --custodians and --threshold for a new split, or "
                         "neither to keep the current one")
    return SplitPlan.simple(threshold, names)


def _run_quorum(ctx: Context, vault: Vault, ceremony: Any, approvers: tuple[str, ...],
                paper: tuple[str, ...], sheets_pdf: Path | None) -> NewVersion:
    """Collect the quorum like a release, then make the new set; abort on any failure."""
    try:
        with _sheet_words(sheets_pdf) as keeper:
            collect_quorum(ctx, vault, ceremony, approvers, paper)
            result: NewVersion = ceremony.finish(on_mnemonics=_collector(keeper))
            _show_new_version(result, warnings=False)  # shown before the quorum
            _write_sheets(vault, result, keeper, sheets_pdf, ctx.actor)
    except BaseException:
        ceremony.abort()
        raise
    return result


_quorum_options = [
    click.option("--reason", required=True, help="Why, for the audit log."),
    click.option("--ticket", required=True, help="Change ticket reference."),
    click.option("--approve", "approvers", multiple=True,
                 help="A custodian approving with their token (repeat)."),
    click.option("--paper", "paper", multiple=True,
                 help="A custodian approving with the words of their sheet (repeat)."),
    click.option("--sheets-pdf", type=click.Path(dir_okay=False, path_type=Path),
                 help="Write the new sheets (with words) to this PDF."),
]


def _with_quorum_options(f: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(_quorum_options):
        f = option(f)
    return f


@click.command("reshare")
@click.argument("record_ref")
@click.option("--custodians", "custodians", multiple=True,
              help="The new custodians (comma-separated or repeated); with --threshold.")
@click.option("--threshold", "-k", type=int, help="The new threshold K.")
@_with_quorum_options
@click.pass_obj
def reshare_cmd(ctx: Context, record_ref: str, custodians: tuple[str, ...],
                threshold: int | None, reason: str, ticket: str, approvers: tuple[str, ...],
                paper: tuple[str, ...], sheets_pdf: Path | None) -> None:
    """A quorum makes a new share set (new epoch) for the same secret; nothing is shown."""
    from tessera.custody.reshare import ReshareCeremony

    plan = _plan(custodians, threshold)
    with ctx.vault() as vault:
        ceremony = ReshareCeremony(vault, ctx.drivers(vault), record_ref, reason=reason,
                                   ticket=ticket, requested_by=ctx.actor, plan=plan)
        for w in ceremony.warnings:
            warn(w.text)
        _run_quorum(ctx, vault, ceremony, approvers, paper, sheets_pdf)
    echo("Reshared: sheets and keys of the earlier share set no longer open this record.")


@click.command("revoke")
@click.argument("record_ref")
@click.argument("custodian_name")
@_with_quorum_options
@click.pass_obj
def revoke_cmd(ctx: Context, record_ref: str, custodian_name: str, reason: str, ticket: str,
               approvers: tuple[str, ...], paper: tuple[str, ...],
               sheets_pdf: Path | None) -> None:
    """Reshare without a custodian; the record is flagged rotation required."""
    from tessera.custody.revoke import start_revoke

    with ctx.vault() as vault:
        ceremony = start_revoke(vault, ctx.drivers(vault), record_ref, custodian_name,
                                reason=reason, ticket=ticket, requested_by=ctx.actor)
        for w in ceremony.warnings:
            warn(w.text)
        result = _run_quorum(ctx, vault, ceremony, approvers, paper, sheets_pdf)
    echo(f"{ceremony.revoked_name} no longer holds a share of {result.label}.")
    warn(result.state_reason)


# -- re-wrap ----------------------------------------------------------------------------

@click.command("rewrap")
@click.argument("record_ref")
@click.argument("custodian_name")
@click.option("--token", "tokens", multiple=True,
              help="A token to wrap the share to (repeat; default: all the custodian's "
                   "active tokens except the one opening it).")
@click.option("--from-token", help="The old token that opens the share now.")
@click.option("--paper", is_flag=True, help="Type the words of the custodian's sheet instead.")
@click.option("--upgrade", is_flag=True,
              help="Re-wrap to all the custodian's active tokens, the opening one included: "
                   "post-quantum where the record's policy and every token allow it.")
@click.pass_obj
def rewrap_cmd(ctx: Context, record_ref: str, custodian_name: str, tokens: tuple[str, ...],
               from_token: str | None, paper: bool, upgrade: bool) -> None:
    """A custodian moves their own share to new token(s), without a quorum.

    With --upgrade the share stays with the same tokens and moves to a post-quantum
    (hybrid) envelope where possible.
    """
    from tessera.cli.prompts import read_line
    from tessera.core.errors import UserCancelled
    from tessera.custody.lifecycle import active_tokens_of
    from tessera.custody.rewrap import rewrap_with_paper, rewrap_with_token

    if paper == bool(from_token):
        raise InputError("say how the share is opened: --from-token OLD or --paper")
    with ctx.vault() as vault:
        person = vault.get_custodian(custodian_name)
        new_ids = [find_token(vault, t).id for t in tokens] or None
        if upgrade and new_ids is None:
            new_ids = [t.id for t in active_tokens_of(vault, person.id)]
        if from_token is None:
            words = read_line(f"{person.name}, type the 33 words of your sheet: ", secret=True)
            if words is None:
                raise UserCancelled()
            result = rewrap_with_paper(vault, record_ref, person.id, words, actor=ctx.actor,
                                       new_token_ids=new_ids)
        else:
            old = find_token(vault, from_token)
            if old.custodian_id != person.id:
                raise InputError(f"{old.label} is {old.custodian_name}'s token, not "
                                 f"{person.name}'s")
            result = rewrap_with_token(vault, ctx.drivers(vault), record_ref, old.id,
                                       ctx.prompts, threading.Event(), actor=ctx.actor,
                                       new_token_ids=new_ids)
    echo(f"Re-wrapped {result.custodian}'s share {', '.join(result.share_keys)} of "
         f"{result.label} to {', '.join(result.added)} ({result.envelopes} envelope).")
    if result.removed:
        echo(f"  no longer opens it: {', '.join(result.removed)}")
    echo("  The words, the fingerprint and the printed sheet are unchanged.")


# -- review -----------------------------------------------------------------------------

@click.command("review")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the review as CSV.")
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the review as a PDF report.")
@click.pass_obj
def review_cmd(ctx: Context, csv_path: Path | None, pdf_path: Path | None) -> None:
    """Access review: who can hold each secret, when it was last proven, and findings."""
    with collector_paused():
        _review(ctx, csv_path, pdf_path)


def _review(ctx: Context, csv_path: Path | None, pdf_path: Path | None) -> None:
    from tessera.custody.review import gather_review

    with ctx.vault(snapshot=True) as vault:  # read where the check read (nothing written)
        review = gather_review(vault)
        vault_name = vault.path.name
    # Thousands of records: the lines are written in a few blocks, not one call each.
    # Records share a few holder views (the same objects): each one's line is made once.
    lines: list[str] = []
    holder_lines: dict[int, str] = {}
    for record in review.records:
        lines.append(f"{record.label} — {record.state_display}, {record.k_of_n} "
                     f"(v{record.version}, epoch {record.epoch})")
        for holder in record.holders:
            line = holder_lines.get(id(holder))
            if line is None:
                tokens = ", ".join(f"{t.label} [{t.kind}]" for t in holder.tokens) or \
                    "paper only"
                line = holder_lines[id(holder)] = \
                    f"    {holder.name:<18} {' '.join(holder.share_keys):<8} {tokens}"
            lines.append(line)
    # One block per severity, coloured; each line's head made once per kind (enum members
    # are singletons: looked up by identity, not by their Python-level hash).
    blocks: dict[int, list[str]] = {id(severity): [] for severity in Severity}
    heads = {id(kind): f"] {kind.heading}: " for kind in FindingKind}
    tags = {id(severity): f"  [{severity.value}" for severity in Severity}
    for f in review.findings:
        blocks[id(f.severity)].append(tags[id(f.severity)] + heads[id(f.kind)] + f.text)
    lines.append(f"Findings: {len(blocks[id(Severity.HIGH)]):,} high, "
                 f"{len(blocks[id(Severity.MEDIUM)]):,} medium, "
                 f"{len(blocks[id(Severity.LOW)]):,} low")
    echo("\n".join(lines))
    for severity, colour in ((Severity.HIGH, "red"), (Severity.MEDIUM, "yellow"),
                             (Severity.LOW, None)):
        if blocks[id(severity)]:
            secho("\n".join(blocks[id(severity)]), fg=colour)
    if csv_path:
        write_private(csv_path, review_csv(review).encode("utf-8"))
        echo(f"Wrote {csv_path}")
    if pdf_path:
        from tessera.sheets.review_report import write_review_pdf

        pages = write_review_pdf(review, pdf_path, vault_name=vault_name)
        echo(f"Wrote {pdf_path} ({pages} page{'s' if pages != 1 else ''})")


# -- policy -----------------------------------------------------------------------------

_POLICY_HELP = {
    "min_threshold": "smallest K a split may use",
    "hardware_only": "software keys refused",
    "allowed_kinds": "token kinds that may hold a share",
    "drill_days": "each token proves its share at least this often",
    "rotation_days": "rotate each secret at least this often",
    "max_reveal_seconds": "how long a released secret stays on screen",
    "paper_in_release": "sheets may be typed in at a quorum",
}


def _policy_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(value)
    return str(value)


@click.group("policy")
def policy_group() -> None:
    """Show and change the vault policy and per-record overrides."""


@policy_group.command("show")
@click.argument("record_ref", required=False)
@click.pass_obj
def policy_show(ctx: Context, record_ref: str | None) -> None:
    """The vault policy, or a record's effective policy (overrides marked)."""
    with ctx.vault() as vault:
        if record_ref is None:
            policy, overrides, title = vault.policy, {}, "Vault policy"
        else:
            record = vault.get_record(record_ref)
            policy = vault.record_policy(record.id)
            overrides = dict(record.policy_overrides)
            title = f"Policy of {record.label}"
            if record.allow_software:
                overrides.setdefault("hardware_only", False)
    echo(f"{title}:")
    for key, value in policy.to_json().items():
        mark = "  (this record)" if key in overrides else ""
        echo(f"  {key:<20} {_policy_value(value):<22} {_POLICY_HELP.get(key, '')}{mark}")


@policy_group.command("set")
@click.argument("key")
@click.argument("value")
@click.option("--record", "record_ref", help="Override for this record only.")
@click.pass_obj
def policy_set(ctx: Context, key: str, value: str, record_ref: str | None) -> None:
    """Change one setting (yes/no, a number, kinds like fido2,piv, or hybrid/classical
    for envelopes); VALUE 'default' with --record removes the record's override."""
    from tessera.custody.policy_ops import set_record_setting, set_vault_setting

    with ctx.vault() as vault:
        if record_ref is None:
            policy: Policy = set_vault_setting(vault, key, value, ctx.actor)
            where = "the vault"
        else:
            policy = set_record_setting(vault, record_ref, key,
                                        None if value == "default" else value, ctx.actor)
            where = vault.get_record(record_ref).label
    echo(f"{key} for {where} is now {_policy_value(policy.to_json()[key])}.")


# -- revocation hook --------------------------------------------------------------------

@click.group("hook")
def hook_group() -> None:
    """The command run after each completed release of a record."""


@hook_group.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("record_ref")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("--timeout", "timeout", type=click.IntRange(1, 600), default=60,
              show_default=True, help="Seconds before the hook is stopped.")
@click.pass_obj
def hook_set(ctx: Context, record_ref: str, command: tuple[str, ...], timeout: int) -> None:
    """Set the hook: tessera hook set RECORD -- PROGRAM [ARGS…]; the record id and the
    release id are appended when it runs."""
    with ctx.vault() as vault:
        hook = vault.set_revocation_hook(record_ref, list(command), timeout, ctx.actor)
        label = vault.get_record(record_ref).label
    echo(f"After each release of {label}: {' '.join(hook.command)} RECORD_ID RELEASE_ID "
         f"(timeout {hook.timeout_seconds} s)")


@hook_group.command("show")
@click.argument("record_ref")
@click.pass_obj
def hook_show(ctx: Context, record_ref: str) -> None:
    """Show a record's hook."""
    with ctx.vault() as vault:
        hook = vault.revocation_hook(record_ref)
    if hook is None:
        echo("No revocation hook.")
        return
    echo(f"{' '.join(hook.command)} RECORD_ID RELEASE_ID  (timeout {hook.timeout_seconds} s,"
         f" set {hook.set_at} by {hook.set_by})")


@hook_group.command("clear")
@click.argument("record_ref")
@click.pass_obj
def hook_clear(ctx: Context, record_ref: str) -> None:
    """Remove a record's hook."""
    with ctx.vault() as vault:
        vault.clear_revocation_hook(record_ref, ctx.actor)
    echo("Revocation hook removed.")


COMMANDS: tuple[click.Command, ...] = (
    rotate_cmd, reshare_cmd, revoke_cmd, rewrap_cmd, review_cmd, policy_group, hook_group,
)

__all__ = ["COMMANDS"]
