"""Suite-wide set-up: headless Qt, no real keyring, helpers importable."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never touch the developer's real keyring or vault.
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
os.environ.pop("TESSERA_VAULT", None)
sys.path.insert(0, str(Path(__file__).parent))
