"""A .tessera file imported into a signed vault (#9 item 4): the vault still verifies,
and the imported tokens, which signed nothing here, are not trusted as if they had."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers.ceremony import ScriptedPrompts, build
from helpers.signed import signer
from tessera.core.errors import PolicyError
from tessera.core.policy import SplitPlan
from tessera.custody.create import create_record
from tessera.custody.signing import TokenSigner, adopt, verify_vault
from tessera.tokens.base import TokenKind
from tessera.vault.exchange import export_version, import_version


def test_tokens_imported_into_a_signed_vault_count_as_enrolled_remotely(signed: Any,
                                                                         tmp_path: Path
                                                                         ) -> None:
    source = signed
    with source.vault.signed_by(signer(source, "Alice")):
        other = create_record(source.vault, b"other secret", label="Other",
                              plan=SplitPlan.simple(2, ["Alice", "Bob", "Carol"]), nhi={},
                              actor="Alice", allow_software=True)
        data = export_version(source.vault, other.record_id, actor="Alice")
    (tmp_path / "target").mkdir()
    target = build(tmp_path / "target", kinds={"Dora": TokenKind.FIDO2, "Eve": TokenKind.PIV})
    adopt(target.vault, target.drivers, [target.tokens["Dora"].id, target.tokens["Eve"].id],
          ScriptedPrompts(), actor="op")
    with target.vault.signed_by(signer(target, "Dora")):
        result = import_version(target.vault, data, "Dora")
    assert len(result.tokens_added) == 3
    state = verify_vault(target.vault, full=True)
    assert state.ok, state.problem  # an import does not leave the vault unverifiable
    assert set(result.tokens_added) <= set(state.unproven_possession)
    imported = [target.vault.get_token(t) for t in result.tokens_added]
    assert all(t.remote for t in imported)
    # They never act for anyone here: an imported token cannot sign a change.
    with pytest.raises(PolicyError, match="enrolled remotely"):
        TokenSigner(target.drivers, imported[0], ScriptedPrompts())
    target.vault.close()
