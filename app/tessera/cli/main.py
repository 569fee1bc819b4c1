"""Tessera on the command line: the same custody operations as the GUI, headless.

The root group and the one handler (:func:`main`) that turns every expected error into
a message for a person and a distinct exit code; nothing prints a traceback. The
commands live in their own modules and share :mod:`tessera.cli.context`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import click

from tessera.cli import (
    audit,
    custodians,
    lifecycle,
    organisation,
    records,
    release,
    sheets,
    vault_trust,
)
from tessera.cli.context import Context, echo, pass_ctx, warn
from tessera.cli.terminal import secho, visible_output
from tessera.core.errors import InputError, TesseraError, UserCancelled
from tessera.core.text import LookalikeName
from tessera.vault import Vault

log = logging.getLogger("tessera")
EXIT_USAGE = 2
EXIT_INTERNAL = 70


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--vault", "vault_path", type=click.Path(path_type=Path), envvar="TESSERA_VAULT",
              help="Vault file (default: the platform data directory; env TESSERA_VAULT).")
@click.option("--actor", help="Who is operating, in a vault not signed yet (recorded in the "
              "audit log; env TESSERA_ACTOR). In a signed vault the actor is whoever signs "
              "(--sign-with); an --actor naming someone else is refused.")
@click.option("--sign-with", "sign_with", envvar="TESSERA_SIGN_WITH", metavar="TOKEN",
              help="The token (id, id prefix or label) that signs this command's changes in "
                   "a signed vault; its custodian is recorded as the actor.")
@click.option("--virtual", is_flag=True, help="Use virtual FIDO2 and PIV devices (demo/testing).")
@click.option("--virtual-touch", default="delay:0.3", show_default=True,
              help="How virtual keys are touched: immediate, never, delay:SECONDS.")
@click.version_option(package_name="tessera")
@click.pass_context
def cli(ctx: click.Context, vault_path: Path | None, actor: str | None,
        sign_with: str | None, virtual: bool, virtual_touch: str) -> None:
    """Tessera: fallback credential custody.

    Recovery secrets split K-of-N among custodians, each share locked to the
    custodian's own token; released only by a quorum, every step on the audit record.
    `tessera gui` opens the desktop application; `tessera demo` shows a ceremony.
    """
    obj = Context(vault_path, actor)
    obj.virtual = virtual
    obj.sign_with = sign_with
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
    from tessera.vault.workstation_pins import WorkstationPins

    with Vault.open(ctx.vault_path, create=True, demo=demo) as vault:
        WorkstationPins().remember(vault)
    echo(f"Created {'demo ' if demo else ''}vault {ctx.vault_path}")
    if demo:
        warn("this is a demo vault: software keys and a threshold of 1 are allowed.")


@cli.command()
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the demo vault in this folder instead of a temporary one.")
def demo(keep: Path | None) -> None:
    """Run a complete scripted ceremony in a temporary demo vault."""
    from tessera.custody.demo import run_demo

    run_demo(echo, keep)


# -- every command module's commands ---------------------------------------------------

for _command in (custodians.custodian, custodians.token, records.record, release.release,
                 release.drill_cmd, audit.audit, audit.export_cmd, audit.import_cmd,
                 sheets.sheet, sheets.transcript, organisation.organisation,
                 vault_trust.vault_group, *lifecycle.COMMANDS):
    cli.add_command(_command)


# -- entry point ----------------------------------------------------------------------

class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived (a logout, a closed terminal, a service stop)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
                     if hasattr(signal, name))


def _stop(signum: int, _frame: object) -> None:
    # Raised like Ctrl-C wherever the program is, so every ceremony's
    # ``except BaseException: abort()`` runs. A second signal while that cleanup runs
    # is ignored rather than cutting the abort short.
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise Terminated(signum)


@contextlib.contextmanager
def _stop_signals_cancel() -> Iterator[None]:
    """SIGTERM and SIGHUP end a command the way Ctrl-C does (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, _stop) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _undecodable(text: str) -> int | None:
    """Where the first byte that was not UTF-8 is (Python keeps such bytes of argv and
    the environment as lone surrogates, which fail later wherever text is encoded)."""
    return next((i for i, ch in enumerate(text) if "\udc80" <= ch <= "\udcff"), None)


def refuse_undecodable(args: list[str]) -> None:
    """Every argument and TESSERA_* variable must be UTF-8: say which one is not."""
    for number, arg in enumerate(args, start=1):
        at = _undecodable(arg)
        if at is not None:
            byte = ord(arg[at]) - 0xDC00
            raise InputError(f"argument {number} is not valid UTF-8 (byte 0x{byte:02x} at "
                             f"character {at + 1}); retype it, or rename the file it names")
    for name, value in os.environ.items():
        if name.startswith("TESSERA_") and _undecodable(value) is not None:
            raise InputError(f"the environment variable {name} is not valid UTF-8")


def _say(text: str) -> None:
    """Best effort: after SIGHUP the terminal may be gone."""
    with contextlib.suppress(OSError, ValueError):
        click.echo(text, err=True)


def main(argv: list[str] | None = None) -> NoReturn:
    """The one error handler: every expected error becomes a message and an exit code."""
    logging.basicConfig(level=os.environ.get("TESSERA_LOG", "WARNING").upper(),
                        format="%(levelname)s %(name)s: %(message)s")
    with visible_output():
        _run(argv)


def _run(argv: list[str] | None) -> NoReturn:
    try:
        args = sys.argv[1:] if argv is None else list(argv)
        refuse_undecodable(args)
        with _stop_signals_cancel():
            cli.main(args=args, prog_name="tessera", standalone_mode=False)
    except (Terminated, click.exceptions.Abort) as exc:
        # click turns a KeyboardInterrupt into Abort; the signal is in its context.
        stopped = exc if isinstance(exc, Terminated) else exc.__context__
        if not isinstance(stopped, Terminated):
            click.echo("Cancelled; nothing was changed.", err=True)
            sys.exit(UserCancelled.exit_code)
        _say(f"\nStopped by {signal.Signals(stopped.signum).name}; an unfinished ceremony "
             "was aborted and logged.")
        sys.exit(128 + stopped.signum)
    except UserCancelled:
        click.echo("Cancelled; nothing was changed.", err=True)
        sys.exit(UserCancelled.exit_code)
    except LookalikeName as exc:
        secho(f"error: {exc}. If that is intended (another person, another record), run "
              "the command again with --allow-lookalike.", fg="red", err=True)
        sys.exit(exc.exit_code)
    except TesseraError as exc:
        secho(f"error: {exc}", fg="red", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code)
    except (KeyboardInterrupt, EOFError):
        click.echo("\nCancelled.", err=True)
        sys.exit(UserCancelled.exit_code)
    except OSError as exc:
        secho(f"error: {exc.strerror or exc} ({exc.filename or 'system'})", fg="red",
                    err=True)
        sys.exit(74)
    except Exception as exc:  # the last line of defence: no traceback, no secret
        log.debug("unexpected error", exc_info=True)
        secho(f"internal error: {type(exc).__name__}. Nothing secret was written. "
                    "Run with TESSERA_LOG=debug for details and report it.", fg="red", err=True)
        sys.exit(EXIT_INTERNAL)
    sys.exit(0)


if __name__ == "__main__":
    main()
