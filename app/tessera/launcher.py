"""The ``tessera`` command: ``tessera gui`` starts the desktop app, anything else is the CLI.

Kept apart from both so that the CLI never imports the GUI (DESIGN.md §8) and a
headless machine never loads Qt for a CLI command.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import NoReturn


def main(argv: list[str] | None = None) -> NoReturn:
    # First of all, before any secret can be in memory: no core dumps, no ptrace.
    from tessera.core.dumps import harden_process

    harden_process()
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["gui"]:
        sys.exit(gui(args[1:]))
    from tessera.cli import main as cli_main

    cli_main(args)


def gui(args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tessera gui",
                                     description="Open the Tessera desktop application.")
    parser.add_argument("--vault", type=Path, default=os.environ.get("TESSERA_VAULT"),
                        help="vault file (default: the platform data directory)")
    parser.add_argument("--demo", action="store_true",
                        help="open (or create) the demo vault with virtual keys")
    options = parser.parse_args(args)
    from tessera.gui.app import run

    vault = Path(options.vault) if options.vault else None
    return int(run(vault, options.demo))


if __name__ == "__main__":
    main()
