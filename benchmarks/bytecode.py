"""Measure Tessera as it runs once installed: with its modules' bytecode cached.

pip compiles every module of a package it installs, and a checkout run by a person
writes ``__pycache__`` on first use. A machine that sets ``PYTHONDONTWRITEBYTECODE=1``
(some CI images and this benchmark farm do) instead compiles every Tessera module
from source on every start — 0.1–0.3 s of a command or of the GUI's start that no
user pays, and that a bare PySide6 window (whose bytecode is installed) never pays.
:func:`as_installed` compiles ``app/`` once and lets every measured process read it.
"""

from __future__ import annotations

import compileall
import os
import sys
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"


def as_installed() -> None:
    """Compile ``app/`` (once; later calls find it current) and let child processes
    read and write bytecode as an installed copy would."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.dont_write_bytecode = False
    compileall.compile_dir(APP, quiet=1)
