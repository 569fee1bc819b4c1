"""``tessera custodian …`` and ``tessera token …``: people and their tokens."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import click

from tessera.cli.context import Context, echo, find_token, pass_ctx, plug_in_virtual_key, warn
from tessera.core.errors import InputError
from tessera.core.wording import LISTED, counted, listed, share_label
from tessera.custody.drivers import TokenDrivers
from tessera.custody.release import drill
from tessera.tokens.base import TokenInfo, TokenKind
from tessera.vault import Vault


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
@click.option("--acknowledge", is_flag=True,
              help="The custodian has read the custodian responsibilities (shown) and signs "
                   "their acknowledgement with the new key (PCI DSS 3.7.8).")
@click.option("--touch-policy", "piv_touch", type=click.Choice(["cached", "always"]),
              default=None, help="With --kind piv: the slot key's touch policy. cached "
              "(default): one touch per release; always: a touch for every operation, two "
              "per release (docs/TOKENS.md).")
@click.option("--attestation", "attestation_file", type=click.Path(dir_okay=False, exists=True,
              path_type=Path), help="With --recipient age1yubikey1…: the key's PIV attestation "
              "(the slot's attestation certificate and the F9 certificate, PEM, in one file) "
              "proving it was made on a YubiKey. Without it a remote key counts as software.")
@pass_ctx
def token_enroll(ctx: Context, custodian_name: str, kind: str | None, recipient: str | None,
                 label: str | None, serial: int | None, acknowledge: bool,
                 piv_touch: str | None, attestation_file: Path | None) -> None:
    """Enrol a token for a custodian."""
    from tessera.custody.acknowledge import acknowledged_at
    from tessera.custody.enroll import enroll_device, enroll_remote

    if attestation_file is not None and not recipient:
        raise InputError("--attestation goes with --recipient (a key that is plugged in is "
                         "attested by the key itself)")
    with ctx.vault() as vault:
        is_demo = vault.is_demo
        person = vault.get_custodian(custodian_name)
        if recipient:
            evidence = attestation_file.read_bytes() if attestation_file is not None else None
            info = enroll_remote(vault, person.id, recipient, label=label, actor=ctx.actor,
                                 attestation=evidence)
        else:
            if kind is None:
                raise InputError("say which kind of token to enrol: --kind fido2|piv|software, "
                                 "or --recipient for remote enrolment")
            token_kind = TokenKind(kind)
            if piv_touch is not None and token_kind is not TokenKind.PIV:
                raise InputError("--touch-policy goes with --kind piv")
            device = None
            if serial is not None:
                device = _yubikey_with_serial(ctx.drivers(vault), token_kind, serial)
            elif token_kind is not TokenKind.SOFTWARE and (ctx.virtual or vault.is_demo):
                device = plug_in_virtual_key(ctx, vault, token_kind, person.name)
            info = enroll_device(vault, ctx.drivers(vault), person.id, token_kind,
                                 ctx.prompts, threading.Event(), label=label, actor=ctx.actor,
                                 device=device, piv_touch=piv_touch)
        echo(f"Enrolled {info.label} for {person.name}")
        echo(f"  recipient: {info.recipient}")
        if info.kind.is_hardware:
            echo(f"  attestation: {info.attestation(demo_vault=is_demo).describe()}")
        if acknowledge and info.remote:
            warn("a remotely enrolled key cannot sign here: record the custodian's signed "
                 f"paper acknowledgement with `tessera custodian acknowledge {person.name!r} "
                 "--witness NAME --reference FORM`.")
        elif acknowledge:
            _sign_acknowledgement(ctx, vault, info)
        elif person.id not in acknowledged_at(vault):
            warn(f"no acknowledgement of responsibilities is recorded for {person.name} yet; "
                 "the access review flags it until `tessera custodian acknowledge` is run.")


def _show_statement(name: str) -> None:
    from tessera.core.acknowledgement import STATEMENT

    echo(f"{name}, read the custodian responsibilities:")
    for line in STATEMENT:
        echo(f"  {line}")


def _sign_acknowledgement(ctx: Context, vault: Vault, info: TokenInfo) -> None:
    from tessera.custody.acknowledge import sign_acknowledgement

    _show_statement(info.custodian_name)
    echo(f"Signing the acknowledgement with {info.label}…")
    sign_acknowledgement(vault, ctx.drivers(vault), info, ctx.prompts, threading.Event(),
                         actor=ctx.actor)
    echo(f"✓ {info.custodian_name} acknowledged the custodian responsibilities "
         f"(signed by {info.label})")


@custodian.command("acknowledge")
@click.argument("name")
@click.option("--token", "token_ref", help="The key that signs (default: their only key).")
@click.option("--witness", help="Record a signed paper form instead, witnessed by this person.")
@click.option("--reference", help="Where the signed paper form is kept (with --witness).")
@pass_ctx
def custodian_acknowledge(ctx: Context, name: str, token_ref: str | None, witness: str | None,
                          reference: str | None) -> None:
    """Record that a custodian acknowledged their responsibilities (PCI DSS 3.7.8):
    signed by their key, or on a witnessed paper form."""
    from tessera.custody.acknowledge import record_witnessed_acknowledgement

    with ctx.vault() as vault:
        person = vault.get_custodian(name)
        if witness is not None or reference is not None:
            if not witness or not reference:
                raise InputError("a paper acknowledgement needs both --witness and --reference")
            if token_ref:
                raise InputError("give either --token (signed by a key) or --witness, not both")
            record_witnessed_acknowledgement(vault, person.id, witness=witness,
                                             reference=reference, actor=ctx.actor)
            echo(f"Recorded {person.name}'s paper acknowledgement (witness {witness}, "
                 f"form {reference})")
            return
        if token_ref:
            info = find_token(vault, token_ref)
            if info.custodian_id != person.id:
                raise InputError(f"{info.label} is not {person.name}'s key")
        else:
            own = [t for t in vault.list_tokens(person.id) if not t.remote]
            if len(own) != 1:
                raise InputError(f"{person.name} has {len(own) or 'no'} key(s) that can sign "
                                 "here: name one with --token, or record a paper form with "
                                 "--witness and --reference")
            info = own[0]
        _sign_acknowledgement(ctx, vault, info)


def _yubikey_with_serial(drivers: TokenDrivers, kind: TokenKind, serial: int) -> Any:
    from tessera.tokens.piv import PivDriver

    piv = drivers.driver(TokenKind.PIV)
    if kind is not TokenKind.PIV or not isinstance(piv, PivDriver):
        raise InputError("--serial chooses a YubiKey for --kind piv")
    device = piv.find_device(serial)
    if device is None:
        piv.require_free(f"the YubiKey with serial {serial}")
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
            proof = ("" if not t.kind.is_hardware else
                     "; " + t.attestation(demo_vault=vault.is_demo).describe())
            echo(f"  {t.id[:8]}  {t.custodian_name:<16} {t.kind.value:<9} {t.state.value:<8} "
                 f"{t.label}{remote}{proof}")
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
        labels = [r.label for r in holding]
        every = f" (`tessera token records {token_ref}` lists them all)" \
            if len(labels) > LISTED else ""
        warn(f"its stanza stays in the current envelopes of {counted(len(labels), 'record')}: "
             f"{listed(labels)}. "
             f"Re-wrap or reshare those records so the old token can no longer open a "
             f"share{every}.")


@token.command("records")
@click.argument("token_ref")
@pass_ctx
def token_records(ctx: Context, token_ref: str) -> None:
    """List the current records whose share envelopes a token opens, one per line."""
    with ctx.vault() as vault:
        info = find_token(vault, token_ref)
        holding = vault.records_of_recipient(info)
    if not holding:
        warn(f"{info.label} holds no share of any current record.")
    for record in holding:
        echo(record.label)


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
            echo(f"✓ {rec.label}: {result.token_label} opens "
                 f"{share_label(result.share_key)} ({result.share_key})")


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
