"""The Tokens page says which keys are proven hardware and which only claim to be."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PySide6.QtCore import Qt

from tessera.core import age
from tessera.custody.enroll import enroll_remote
from tessera.gui.inventory_models import tokens_model
from tessera.gui.rows import token_rows
from tessera.vault import Vault

pytestmark = pytest.mark.usefixtures("no_qt_warnings")


def test_a_remote_yubikey_without_attestation_is_shown_as_not_proven(tmp_path: Path):
    point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    with Vault.open(tmp_path / "real.sqlite3", create=True) as vault:
        alice = vault.add_custodian("Alice", "", "", actor="op")
        enroll_remote(vault, alice.id,
                      age.PivP256Recipient.from_public_key(point).to_string(), actor="op")
        model = tokens_model()
        model.set_rows(token_rows(vault))
    row = model.index(0, 3)
    assert row.data() == "not proven: no attestation was given"
    assert "counts as a software key" in row.data(Qt.ItemDataRole.ToolTipRole)
