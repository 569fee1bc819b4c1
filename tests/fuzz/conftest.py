"""The fuzz suite imports its helpers from this folder and the vault test fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "vault"))

import pytest


@pytest.fixture(scope="module", autouse=True)
def _trusts_demo_ca(tmp_path_factory):  # type: ignore[no-untyped-def]
    """The vault fixtures' virtual FIDO2 keys attest under the demo CA: this workstation
    trusts it as a root (tests/helpers/attestation.py), for the whole module."""
    import os

    from helpers.attestation import resources_trusting_demo_ca

    before = os.environ.get("TESSERA_RESOURCES")
    os.environ["TESSERA_RESOURCES"] = str(resources_trusting_demo_ca(
        tmp_path_factory.mktemp("trust")))
    yield
    if before is None:
        os.environ.pop("TESSERA_RESOURCES", None)
    else:
        os.environ["TESSERA_RESOURCES"] = before
