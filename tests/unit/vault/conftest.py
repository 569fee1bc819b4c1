"""The vault tests' populated worlds hold virtual FIDO2 keys (proven under the demo CA,
which these tests' workstation trusts: tests/helpers/attestation.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from vault_fixtures import add_entries, open_vault

from tessera.vault import Vault
from tessera.vault.workstation_pins import WorkstationPins


@pytest.fixture(autouse=True)
def _trusts_demo_ca(trust_demo_ca):  # type: ignore[no-untyped-def]
    return trust_demo_ca


@pytest.fixture
def pins(tmp_path: Path) -> WorkstationPins:
    """This computer's store of what it verified, in the test's own folder."""
    return WorkstationPins(tmp_path / "pins")


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    """A vault whose audit log holds ten entries (its creation and nine more)."""
    v = open_vault(tmp_path / "v.sqlite3")
    add_entries(v, 9)
    return v
