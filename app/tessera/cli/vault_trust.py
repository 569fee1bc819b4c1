"""``tessera vault``: what this computer keeps of the vault (identity, genesis, newest
head seen, what it verified), and accepting a vault that differs from it deliberately
(a restore from backup, a replaced file), on the record."""

from __future__ import annotations

import click

from tessera.cli.context import Context, echo, pass_ctx, warn
from tessera.vault.errors import VaultNotAsPinned
from tessera.vault.genesis import describe_genesis
from tessera.vault.workstation_pins import WorkstationPins


@click.group("vault")
def vault_group() -> None:
    """This computer's record of the vault: genesis and the newest log head seen."""


@vault_group.command("status")
@pass_ctx
def vault_status(ctx: Context) -> None:
    """Show the vault's genesis and head, and whether they match this computer's pins."""
    pins = WorkstationPins()
    with ctx.vault(check_pins=False, check=False) as vault:
        seq, digest = vault.audit_head()
        echo(f"Vault {vault.vault_id}")
        echo(describe_genesis(vault.genesis_fingerprint()))
        echo(f"Audit head {seq}:{digest}")
        pin = pins.pin_for(vault.vault_id)
        if pin is None or pin.seq < 0:
            echo("This computer has not pinned this vault yet.")
        else:
            signed = "" if pin.genesis is None else (
                f", {describe_genesis(pin.genesis)[0].lower()}"
                f"{describe_genesis(pin.genesis)[1:]}")
            echo(f"Pinned here: head {pin.seq}:{pin.hash} (seen {pin.seen_at}){signed}")
        try:
            pins.check(vault)
        except VaultNotAsPinned as exc:
            warn(str(exc))
        else:
            echo("The vault matches this computer's pins.")


@vault_group.command("accept")
@click.option("--reason", required=True, help="Why this vault is accepted although it is "
              "older than, or other than, the one this computer saw (on the audit record).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def vault_accept(ctx: Context, reason: str, yes: bool) -> None:
    """Accept the vault as it is now, although it differs from this computer's pins.

    For a restore from a backup you chose, or a vault file you replaced on purpose.
    The acceptance, what was pinned and what was found are written to the vault's
    audit log; this computer's record of the vault then starts afresh from it (its
    signed log is verified in full on the next command).
    """
    pins = WorkstationPins()
    with ctx.vault(check_pins=False) as vault:
        try:
            pins.check(vault)
        except VaultNotAsPinned as exc:
            echo(str(exc).split(" Nothing was changed.")[0] + ".")
        else:
            echo("The vault already matches this computer's pins; nothing to accept.")
            return
        if not yes:
            click.confirm("Accept this vault as it is, on the audit record?", abort=True)
        pin = pins.accept(vault, actor=ctx.actor, reason=reason)
    echo(f"Accepted: head {pin.seq}:{pin.hash} (on the audit record). "
         + describe_genesis(pin.genesis))
