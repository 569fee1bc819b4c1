"""Tessera on the command line (``tessera …``); see :mod:`tessera.cli.main`."""

from tessera.cli.main import cli, main

__all__ = ["cli", "main"]
