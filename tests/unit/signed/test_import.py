"""A .tessera file imported into a signed vault (#9 item 4): the vault still verifies,
and the imported tokens, which signed nothing here, are not trusted as if they had."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers.ceremony import ScriptedPrompts, build
from helpers.signed import signer
from tessera.core import canonical
from tessera.core.errors import FormatError, PolicyError
from tessera.core.policy import SplitPlan
from tessera.custody.create import create_record
from tessera.custody.signing import SignatureCheck, TokenSigner, adopt, verify_vault
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


def _exported(source: Any) -> bytes:
    with source.vault.signed_by(signer(source, "Alice")):
        other = create_record(source.vault, b"other secret", label="Other",
                              plan=SplitPlan.simple(2, ["Alice", "Bob", "Carol"]), nhi={},
                              actor="Alice", allow_software=True)
        return export_version(source.vault, other.record_id, actor="Alice")


def _signed_target(tmp_path: Path) -> Any:
    (tmp_path / "target").mkdir()
    target = build(tmp_path / "target", kinds={"Dora": TokenKind.FIDO2, "Eve": TokenKind.PIV})
    adopt(target.vault, target.drivers, [target.tokens["Dora"].id, target.tokens["Eve"].id],
          ScriptedPrompts(), actor="op")
    return target


def test_tokens_keep_their_signed_enrolment_through_an_export(signed: Any,
                                                              tmp_path: Path) -> None:
    """Alice's and Bob's keys signed their own rows in the source vault (its genesis):
    the file carries that, the importing vault checks it and enrols them in person —
    possession proven — and every later replay checks it again. Carol's software key
    signed nothing there: it arrives as enrolled remotely."""
    source = signed
    data = _exported(source)
    document = canonical.loads(data, what="test")
    assert set(document["enrolments"]) == {source.tokens["Alice"].id, source.tokens["Bob"].id}
    target = _signed_target(tmp_path)
    with target.vault.signed_by(signer(target, "Dora")):
        result = import_version(target.vault, data, "Dora", SignatureCheck())
    proven = {source.tokens["Alice"].id, source.tokens["Bob"].id}
    assert set(result.tokens_added) == proven | {source.tokens["Carol"].id}
    assert {t for t in result.tokens_added if not target.vault.get_token(t).remote} == proven
    state = verify_vault(target.vault, full=True)
    assert state.ok, state.problem
    assert proven <= state.trusted
    assert not proven & set(state.unproven_possession)
    assert source.tokens["Carol"].id in state.unproven_possession
    target.vault.close()


def _tamper_body(document: dict[str, Any], alice: str, bob: str) -> None:
    proof = document["enrolments"][alice]
    proof["body"] = proof["body"].replace('"v":1', '"v":1,"x":1', 1)


def _swap_signatures(document: dict[str, Any], alice: str, bob: str) -> None:
    proofs = document["enrolments"]
    proofs[alice]["signature"], proofs[bob]["signature"] = (proofs[bob]["signature"],
                                                            proofs[alice]["signature"])


def _other_facts(document: dict[str, Any], alice: str, bob: str) -> None:
    token = next(t for t in document["tokens"] if t["id"] == alice)
    token["facts"] = {**token["facts"], "model": "a key it is not"}


def _foreign_prev(document: dict[str, Any], alice: str, bob: str) -> None:
    document["enrolments"][alice]["prev"] = "11" * 32


@pytest.mark.parametrize("forge", [_tamper_body, _swap_signatures, _other_facts, _foreign_prev])
def test_an_import_whose_signed_enrolment_does_not_verify_is_refused(
        signed: Any, tmp_path: Path, forge: Any) -> None:
    source = signed
    document = canonical.loads(_exported(source), what="test")
    forge(document, source.tokens["Alice"].id, source.tokens["Bob"].id)
    target = _signed_target(tmp_path)
    before = (target.vault.list_records(), target.vault.audit_head())
    with target.vault.signed_by(signer(target, "Dora")), \
            pytest.raises(FormatError, match=r"(Alice|Bob)'s .* carries a signed "
                                              r"enrolment that does not prove its key"):
        import_version(target.vault, canonical.dumps(document), "Dora", SignatureCheck())
    assert (target.vault.list_records(), target.vault.audit_head()) == before
    assert verify_vault(target.vault, full=True).ok
    target.vault.close()


class _Believing(SignatureCheck):
    """Software that takes any signature on trust."""

    def __call__(self, row: Any, challenge: bytes, evidence: Any) -> bool:
        return True


def test_a_forged_enrolment_written_by_other_software_is_named_by_the_replay(
        signed: Any, tmp_path: Path) -> None:
    source = signed
    document = canonical.loads(_exported(source), what="test")
    _tamper_body(document, source.tokens["Alice"].id, source.tokens["Bob"].id)
    target = _signed_target(tmp_path)
    with target.vault.signed_by(signer(target, "Dora")):
        import_version(target.vault, canonical.dumps(document), "Dora", _Believing())
    state = verify_vault(target.vault, full=True)
    assert not state.ok
    assert f"imports token {source.tokens['Alice'].id}" in state.problem
    assert "signature on its enrolment does not verify" in state.problem
    target.vault.close()
