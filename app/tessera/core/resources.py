"""Where the files in ``resources/`` are at run time (icons, Unicode data, the
attestation trust store)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def resource_dir() -> Path:
    """``resources/`` beside the source tree, in a PyInstaller bundle, installed, or as
    configured (``$TESSERA_RESOURCES``)."""
    configured = os.environ.get("TESSERA_RESOURCES")
    if configured:
        return Path(configured)
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    source_tree = Path(__file__).resolve().parents[3] / "resources"
    # An installed wheel puts them in <prefix>/share/tessera/resources (pyproject data-files).
    installed = Path(sys.prefix) / "share" / "tessera" / "resources"
    return installed if installed.is_dir() and not source_tree.is_dir() else source_tree
