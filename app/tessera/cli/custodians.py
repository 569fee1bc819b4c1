"""``tessera custodian …`` and ``tessera token …``: people and their tokens."""

from __future__ import annotations

import threading
from typing import Any

import click

from tessera.cli.context import Context, echo, find_token, pass_ctx, plug_in_virtual_key, warn
from tessera.core.errors import InputError
from tessera.custody.drivers import TokenDrivers
from tessera.custody.release import drill
from tessera.tokens.base import TokenKind


@click.group()
def custodian() -> None:
    """Add and list custodians."""


@custodian.command("add")
@click.argument("name")
@click.option("--contact", default="", help="How to reach them (e-mail, phone).")
@click.option("--role", default="", help="Their role, e.g. 'SRE lead'.")
@click.option("--allow-lookalike", is_flag=True,
              help="Add them even though the name looks like an existing custodian's "
                   "(you checked it is another person; recorded in the audit log).")
@pass_ctx
def custodian_add(ctx: Context, name: str, contact: str, role: str,
                  allow_lookalike: bool) -> None:
    """Add a custodian."""
    with ctx.vault() as vault:
        c = vault.add_custodian(name, contact=contact, role=role, actor=ctx.actor,
                                allow_lookalike=allow_lookalike)
        similar = vault.custodian_lookalike(c.name)
    if similar is not None:
        warn(f"{c.name!r} looks like the existing custodian {similar!r}; both are now in "
             "the vault")
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


@click.group()
def token() -> None:
    """Enrol, list and export tokens."""


@token.command("enroll")
@click.argument("custodian_name")
@click.option("--kind", type=click.Choice([k.value for k in TokenKind]), default=None,
              help="Token kind to enrol (fido2, piv, software).")
@click.option("--recipient", help="Enrol remotely from an age1pq1…, age1…, age1yubikey1…, age1tag1… or "
                   "age1tagpq1… recipient.")
@click.option("--label", help="A name for the token, e.g. 'blue YubiKey'.")
@click.option("--serial", type=int, default=None,
              help="With --kind piv: the YubiKey to enrol when several are plugged in.")
@pass_ctx
def token_enroll(ctx: Context, custodian_name: str, kind: str | None, recipient: str | None,
                 label: str | None, serial: int | None) -> None:
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
            if serial is not None:
                device = _yubikey_with_serial(ctx.drivers(vault), token_kind, serial)
            elif token_kind is not TokenKind.SOFTWARE and (ctx.virtual or vault.is_demo):
                device = plug_in_virtual_key(ctx, vault, token_kind, person.name)
            info = enroll_device(vault, ctx.drivers(vault), person.id, token_kind,
                                 ctx.prompts, threading.Event(), label=label, actor=ctx.actor,
                                 device=device)
    echo(f"Enrolled {info.label} for {person.name}")
    echo(f"  recipient: {info.recipient}")


def _yubikey_with_serial(drivers: TokenDrivers, kind: TokenKind, serial: int) -> Any:
    from tessera.tokens.piv import PivDriver

    piv = drivers.driver(TokenKind.PIV)
    if kind is not TokenKind.PIV or not isinstance(piv, PivDriver):
        raise InputError("--serial chooses a YubiKey for --kind piv")
    device = piv.find_device(serial)
    if device is None:
        raise InputError(f"no YubiKey with serial {serial} is plugged in")
    return device


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
        problems: list[str] = []
        devices = connected_devices(ctx.drivers(vault), problems)
    echo("Connected now:")
    if not devices:
        echo("  no security key or YubiKey found")
    for problem in problems:
        warn(problem)
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
        holding = vault.records_of_recipient(info)
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
        records = vault.records_of_recipient(info)
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
@click.option("--classical", is_flag=True,
              help="Print the X25519 AGE-SECRET-KEY-1… line (classical envelopes; age 1.1).")
@pass_ctx
def token_export_identity(ctx: Context, token_ref: str, classical: bool) -> None:
    """Print a software token's age identity, or a YubiKey's age-plugin-yubikey identity.

    For a software token, by default the post-quantum AGE-SECRET-KEY-PQ-1… line, which
    opens hybrid envelopes (age 1.3 or later); --classical prints the X25519 line. A
    YubiKey's identity file holds no secret (serial, slot and key tag) and opens its
    classical (piv-p256) envelopes with age-plugin-yubikey installed.
    """
    from tessera.tokens.software import SoftwareDriver

    with ctx.vault() as vault:
        info = find_token(vault, token_ref)
        if info.kind is TokenKind.PIV:
            from tessera.tokens.piv_identity import identity_file_for

            echo(identity_file_for(info).rstrip("\n"))
            return
        if info.kind is not TokenKind.SOFTWARE:
            raise InputError("only software tokens have an identity to export; a hardware "
                             "token's key never leaves the device")
        driver = ctx.drivers(vault).driver(TokenKind.SOFTWARE)
        if not isinstance(driver, SoftwareDriver):
            raise InputError("this token kind has no exportable identity")
        text = driver.export_identity(info, ctx.prompts, classical=classical)
        vault.append_audit(ctx.actor, "token.export-identity", info.id,
                           {"custodian": info.custodian_name,
                            "identity": "classical" if text.startswith("AGE-SECRET-KEY-1")
                            else "post-quantum"})
    warn("this is a private key: anyone holding it can open this custodian's shares.")
    echo(text)
