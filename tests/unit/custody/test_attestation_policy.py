"""A token without valid attestation counts as software (#9 item 4), tried as an attacker
who can enrol remotely or hand over a .tessera file but holds no genuine YubiKey."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from helpers.attestation import enrolled_virtual_yubikey, ykman_attestation_pem
from helpers.signed import signed_real_vault
from tessera.core import age, canonical
from tessera.core.attestation import ATTESTATION_FACT
from tessera.core.errors import FormatError, PolicyError
from tessera.core.policy import SplitPlan
from tessera.core.review import FindingKind, record_findings
from tessera.custody.create import create_record
from tessera.custody.enroll import AttestationRefused, enroll_remote
from tessera.custody.review import record_view
from tessera.custody.signing import NotSignedYet
from tessera.tokens.base import TokenKind
from tessera.vault import Vault
from tessera.vault.exchange import export_version, import_version


def software_yubikey_recipient() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A P-256 key made on a laptop, dressed as an age-plugin-yubikey recipient."""
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(serialization.Encoding.X962,
                                          serialization.PublicFormat.CompressedPoint)
    return key, age.PivP256Recipient.from_public_key(point).to_string()


def forged_attestation(key: ec.EllipticCurvePrivateKey) -> bytes:
    """What an attacker can make: an F9 and slot certificate under their own 'Yubico' CA."""
    now = datetime.datetime.now(datetime.UTC)

    def cert(subject, issuer_name, public, signer, ca):
        return (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
                .public_key(public).serial_number(x509.random_serial_number())
                .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=9))
                .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                .sign(signer, hashes.SHA256()))

    root = ec.generate_private_key(ec.SECP256R1())
    f9 = ec.generate_private_key(ec.SECP256R1())
    f9_cert = cert("Yubico PIV Attestation", "Yubico PIV Root CA Serial 263751",
                   f9.public_key(), root, True)
    slot_cert = cert("YubiKey PIV Attestation 82", "Yubico PIV Attestation",
                     key.public_key(), f9, False)
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (slot_cert, f9_cert))


def virtual_yubikey_attestation() -> tuple[str, bytes]:
    """A virtual YubiKey's recipient and its (demo-CA) attestation, as ykman exports them."""
    card, enrolled = enrolled_virtual_yubikey(5550009)
    return enrolled.recipient, ykman_attestation_pem(card, enrolled)


@pytest.fixture
def real(tmp_path: Path) -> Vault:
    vault = Vault.open(tmp_path / "real.sqlite3", create=True)
    for name in ("Alice", "Bob"):
        vault.add_custodian(name, "", "", actor="op")
    return vault


def _plan(vault: Vault) -> SplitPlan:
    return SplitPlan.simple(2, [c.id for c in vault.list_custodians()])


def test_a_software_p256_key_enrolled_remotely_as_a_yubikey_counts_as_software(
        tmp_path: Path, trust_demo_ca: Path):
    # A signed real vault (its operator's attested key signed the genesis): shares are
    # wrapped only in a vault with a genesis.
    real, operator = signed_real_vault(tmp_path / "real.sqlite3")
    with real.signed_by(operator):
        alice, bob = (real.add_custodian(n, "", "", actor="op") for n in ("Alice", "Bob"))
        _, recipient = software_yubikey_recipient()
        token = enroll_remote(real, alice.id, recipient, actor="op")
        assert token.kind is TokenKind.PIV                      # what it claims...
        assert token.policy_kind(demo_vault=False) is TokenKind.SOFTWARE  # ...counts as
        assert "no attestation" in token.attestation(demo_vault=False).problem
        _, other = software_yubikey_recipient()
        enroll_remote(real, bob.id, other, actor="op")
        plan = SplitPlan.simple(2, [alice.id, bob.id])
        with pytest.raises(PolicyError, match="software key"):
            create_record(real, b"root key", label="Root", plan=plan, nhi={}, actor="op")
        assert real.list_records() == []
        # with software allowed (on the record), the access review names the unproven key
        create_record(real, b"root key", label="Root", plan=plan, nhi={}, actor="op",
                      allow_software=True)
    findings = record_findings(record_view(real, real.list_records()[0]),
                             now=datetime.datetime.now(datetime.UTC))
    assert [f for f in findings if f.kind is FindingKind.NOT_PROVEN_HARDWARE]
    real.close()


def test_no_share_is_wrapped_in_a_real_vault_before_its_genesis(real: Vault):
    """An attacker who writes a vault nobody has adopted yet controls every recipient in
    it: the create is refused and says how to sign the vault, nothing is stored."""
    alice, bob = real.list_custodians()
    for person in (alice, bob):
        real.add_token(person.id, TokenKind.SOFTWARE, f"{person.name}'s laptop key",
                       age.X25519Identity.generate().recipient.to_string(), {"store": "file"},
                       actor="op")
    with pytest.raises(NotSignedYet, match="tessera audit adopt") as refused:
        create_record(real, b"root key", label="Root", plan=_plan(real), nhi={}, actor="op",
                      allow_software=True)
    assert "not signed yet" in str(refused.value)
    # Software keys cannot sign a real vault's genesis: the message says what can.
    assert "needs 2 of the 2 custodians" in str(refused.value)
    assert "enrol their FIDO2 keys or YubiKeys in person" in str(refused.value)
    assert real.list_records() == []
    with real.reading() as conn:
        assert conn.execute("SELECT COUNT(*) FROM envelopes").fetchone()[0] == 0


def test_a_forged_attestation_from_an_untrusted_ca_is_refused(real: Vault):
    alice = real.list_custodians()[0]
    key, recipient = software_yubikey_recipient()
    with pytest.raises(AttestationRefused, match="trusted root"):
        enroll_remote(real, alice.id, recipient, actor="op",
                      attestation=forged_attestation(key))
    assert real.list_tokens() == []


def test_an_attestation_of_another_key_is_refused(real: Vault):
    alice = real.list_custodians()[0]
    _, recipient = software_yubikey_recipient()
    _, genuine_pem = virtual_yubikey_attestation()   # a real card's proof, another key
    with pytest.raises(AttestationRefused, match="another key"):
        enroll_remote(real, alice.id, recipient, actor="op", attestation=genuine_pem)


def test_the_demo_ca_is_refused_outside_demo_vaults_and_accepted_in_them(real: Vault,
                                                                          tmp_path: Path):
    recipient, pem = virtual_yubikey_attestation()
    alice = real.list_custodians()[0]
    with pytest.raises(AttestationRefused, match="demo CA"):
        enroll_remote(real, alice.id, recipient, actor="op", attestation=pem)
    with Vault.open(tmp_path / "demo.sqlite3", create=True, demo=True) as demo:
        person = demo.add_custodian("Bob", "", "", actor="op")
        token = enroll_remote(demo, person.id, recipient, actor="op", attestation=pem)
        proof = token.attestation(demo_vault=True)
        assert proof.proven and proof.verdict == "demo"
        assert token.facts[ATTESTATION_FACT]["verdict"] == "demo"


def _export_with(tmp_path: Path, kind: TokenKind, facts_change) -> bytes:
    """A demo vault's export whose tokens were edited by the attacker."""
    with Vault.open(tmp_path / "src.sqlite3", create=True, demo=True) as src:
        for name in ("Alice", "Bob"):
            person = src.add_custodian(name, "", "", actor="op")
            identity = age.X25519Identity.generate()
            src.add_token(person.id, TokenKind.SOFTWARE, f"{name}'s laptop key",
                          identity.recipient.to_string(), {"store": "file"}, actor="op")
        created = create_record(src, b"root key", label="Root", plan=_plan(src), nhi={},
                                actor="op")
        data = export_version(src, created.record_id, actor="op")
    doc = json.loads(data)
    for token in doc["tokens"]:
        token["kind"] = kind.value
        facts_change(token["facts"])
    return canonical.dumps(doc)


@pytest.fixture
def empty(tmp_path: Path) -> Vault:
    return Vault.open(tmp_path / "target.sqlite3", create=True)


def test_an_import_whose_software_tokens_claim_fido2_is_refused(empty: Vault, tmp_path: Path):
    forged = _export_with(tmp_path, TokenKind.FIDO2, lambda facts: None)
    with pytest.raises(FormatError, match="not proven hardware"):
        import_version(empty, forged, "op")
    assert empty.list_records() == [] and empty.list_tokens() == []


def test_an_import_with_forged_attestation_evidence_is_refused(empty: Vault, tmp_path: Path):
    def forge(facts):
        facts["credential_public_key"] = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE" + "A" * 88
        facts[ATTESTATION_FACT] = {"format": "packed", "verdict": "verified",
                                   "chain": ["MIIB"], "auth_data": "", "sig": "",
                                   "client_data_hash": ""}

    forged = _export_with(tmp_path, TokenKind.FIDO2, forge)
    with pytest.raises(FormatError, match="attestation that does not verify"):
        import_version(empty, forged, "op")
    assert empty.list_records() == [] and empty.list_tokens() == []


def test_a_genuine_attestation_beside_the_attackers_recipient_proves_nothing():
    from tessera.tokens.base import TokenInfo

    _, enrolled = enrolled_virtual_yubikey(5550077)
    _, attacker = software_yubikey_recipient()
    honest = TokenInfo("t", "c", "Alice", TokenKind.PIV, "YubiKey", enrolled.recipient,
                       enrolled.facts)
    assert honest.attestation(demo_vault=True).proven
    swapped = TokenInfo("t", "c", "Alice", TokenKind.PIV, "YubiKey", attacker,
                        {k: v for k, v in enrolled.facts.items() if k != "pq_recipient"})
    proof = swapped.attestation(demo_vault=True)
    assert not proof.proven and "recipient" in proof.problem
    assert swapped.policy_kind(demo_vault=True) is TokenKind.SOFTWARE


def test_a_vault_of_remote_custodians_only_is_told_to_enrol_a_signer_in_person(real: Vault):
    for person in real.list_custodians():
        enroll_remote(real, person.id, age.X25519Identity.generate().recipient.to_string(),
                      actor="op")
    with pytest.raises(NotSignedYet, match="No custodian has a token enrolled in person"):
        create_record(real, b"root key", label="Root", plan=_plan(real), nhi={}, actor="op",
                      allow_software=True)
    assert real.list_records() == []
