"""Suite-wide set-up: headless Qt, no real keyring, helpers importable."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never touch the developer's real keyring or vault.
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
os.environ.pop("TESSERA_VAULT", None)
# …nor the developer's config (the audit heads this computer verified live there).
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="tessera-test-config-")
sys.path.insert(0, str(Path(__file__).parent))

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--device", metavar="SERIAL", default=None,
                     help="run the destructive real-hardware tests in tests/device/ against "
                          "the YubiKey with this serial (or 'fido2' for the only FIDO2 key)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--device"):
        return
    skip = pytest.mark.skip(reason="real hardware: run with --device SERIAL (destructive)")
    for item in items:
        if "device" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _one_qapplication(qapp):  # type: ignore[no-untyped-def]
    """One QApplication for the whole run, created first: a QGuiApplication made by
    headless sheet rendering would otherwise make every later widget test abort."""
    return qapp


@pytest.fixture
def trust_demo_ca(tmp_path_factory, monkeypatch):
    """This test's workstation trusts the demo attestation CA as a real root (see
    tests/helpers/attestation.py): virtual keys count as proven hardware in real vaults."""
    from helpers.attestation import resources_trusting_demo_ca

    folder = resources_trusting_demo_ca(tmp_path_factory.mktemp("trust"))
    monkeypatch.setenv("TESSERA_RESOURCES", str(folder))
    return folder
