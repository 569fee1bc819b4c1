"""``tessera organisation``: the name, contact and instructions URL on every sheet."""

from __future__ import annotations

import click

from tessera.cli.context import Context, echo, pass_ctx
from tessera.core.organisation import Organisation


@click.group()
def organisation() -> None:
    """Who the sheets belong to, who to call, where the instructions are."""


def _show(org: Organisation) -> None:
    if not org.is_set:
        echo("No organisation set: sheets say nothing about whom to call. Set it with "
             "`tessera organisation set --name … --contact … --url …`.")
        return
    echo(f"Organisation:      {org.name or '—'}")
    echo(f"Contact:           {org.contact or '—'}")
    echo(f"Instructions URL:  {org.instructions_url or '—'}")


@organisation.command("show")
@pass_ctx
def organisation_show(ctx: Context) -> None:
    """What sheets printed from now on say."""
    with ctx.vault() as vault:
        _show(vault.organisation)


@organisation.command("set")
@click.option("--name", help="The organisation, e.g. 'Example Corp — Platform Security'.")
@click.option("--contact", help="Who to call before a sheet is opened (name, phone, e-mail).")
@click.option("--url", "url", help="Where the recovery instructions are (https://…).")
@pass_ctx
def organisation_set(ctx: Context, name: str | None, contact: str | None,
                     url: str | None) -> None:
    """Change some or all of them (audited); options left out keep their value."""
    with ctx.vault() as vault:
        old = vault.organisation
        new = vault.set_organisation(Organisation.checked(
            old.name if name is None else name,
            old.contact if contact is None else contact,
            old.instructions_url if url is None else url), ctx.actor)
    _show(new)
    echo("Sheets printed from now on carry this on every page.")
