"""A first run of the demo: the PIN is on screen, and ``make run`` without a display is no crash."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tessera.custody.demo import DEMO_PIN

REPO = Path(__file__).resolve().parents[2]


def test_demo_banner_tells_the_demo_keys_pin(window):
    assert window.banner is not None and window.banner.isVisible()
    assert DEMO_PIN in window.banner.text()
    assert "PIN" in window.banner.text()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_without_a_display_explains_and_exits_cleanly():
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    # -o: take the virtual environment as up to date (the test runs inside it).
    done = subprocess.run(["make", "--no-print-directory", "-o", ".venv/.tessera-lock", "run"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert "no display" in done.stdout
    assert "xvfb-run" in done.stdout
    assert done.returncode == 0, done.stderr
    assert "Error" not in done.stderr
