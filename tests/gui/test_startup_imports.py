"""Opening the main window on a real vault loads only what it shows: not the demo, the
virtual keys, the sheet renderer, the review report or python-fido2's client, and it never
probes the keyring."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"

SCRIPT = """
import sys
from pathlib import Path
from PySide6.QtWidgets import QApplication
from tessera.gui.app import configure_app
from tessera.gui.context import AppContext
from tessera.gui.main_window import MainWindow
from tessera.vault import Vault
app = QApplication(sys.argv[:1])
configure_app(app)
path = Path(sys.argv[1])
Vault.open(path, create=True).close()
context = AppContext.open(path)
window = MainWindow(context, poll_devices=False)
window.show()
app.processEvents()
print("\\n".join(sorted(sys.modules)))
context.close()
"""

NOT_AT_START = ("tessera.custody.demo", "tessera.tokens.virtual", "tessera.sheets.render",
                "tessera.sheets.review_report", "tessera.gui.virtual_keys", "keyring",
               # python-fido2's client stack: loaded when a FIDO2 key is used (~90 ms)
               "fido2.client")


def test_main_window_on_a_real_vault_imports_no_demo_renderer_or_keyring(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(APP), QT_QPA_PLATFORM="offscreen",
               XDG_CONFIG_HOME=str(tmp_path / "config"))
    env.pop("PYTHON_KEYRING_BACKEND", None)
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "vault.sqlite3")],
                          capture_output=True, text=True, env=env, timeout=120, check=True)
    modules = done.stdout.split()
    assert "tessera.gui.main_window" in modules  # the script did open the window
    loaded = [m for m in modules
              if any(m == name or m.startswith(name + ".") for name in NOT_AT_START)]
    assert loaded == []


SHOWN = """
import os, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMainWindow

original_show = QMainWindow.show

def show(window):
    original_show(window)
    def listed():
        print("\\n".join(sorted(sys.modules)), flush=True)
        os._exit(0)
    QTimer.singleShot(0, listed)

QMainWindow.show = show
from tessera.launcher import main
main(["gui", "--vault", sys.argv[1]])
"""

# The layers the start path opens the vault with, on its own thread, after the window.
NOT_BEFORE_THE_WINDOW = ("tessera.vault", "tessera.tokens", "tessera.sheets", "tessera.cli",
                         "cryptography", "fido2", "yubikit", "ykman", "smartcard", "keyring",
                         "platformdirs", "tessera.gui.context", "tessera.gui.pages",
                         "tessera.gui.errors")


def test_tessera_gui_shows_its_window_before_loading_the_vault_crypto_or_tokens(
        tmp_path: Path) -> None:
    """`tessera gui` shows the main window having imported PySide6 and little else: the
    vault (the bench's 5,000-record size would not matter) is opened after."""
    env = dict(os.environ, PYTHONPATH=str(APP), QT_QPA_PLATFORM="offscreen",
               XDG_CONFIG_HOME=str(tmp_path / "config"))
    done = subprocess.run([sys.executable, "-c", SHOWN, str(tmp_path / "vault.sqlite3")],
                          capture_output=True, text=True, env=env, timeout=120, check=True)
    modules = done.stdout.split()
    assert "tessera.gui.main_window" in modules  # the window was shown
    loaded = [m for m in modules
              if any(m == name or m.startswith(name + ".") for name in NOT_BEFORE_THE_WINDOW)
              or (m.startswith("tessera.custody.") and m != "tessera.custody.demo_facts")]
    assert loaded == []
    assert not (tmp_path / "vault.sqlite3").exists()  # nothing opened, nothing created yet
