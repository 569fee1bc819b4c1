"""Post-quantum and tagged envelopes against an independent implementation, both ways.

Debian's ``age`` (1.1) predates the hybrid recipient type, so the other side is the
age authors' TypeScript implementation (npm ``age-encryption``, pinned with its
integrity hash in tests/interop/node/package-lock.json and installed by
scripts/bootstrap.sh with ``npm ci``), run under Node through a small script.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, mlkem
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from helpers.paths import REPO
from tessera.core import age

pytestmark = pytest.mark.interop

NODE_DIR = REPO / "tests" / "interop" / "node"
SIZES = [0, 1, 64 * 1024, 64 * 1024 + 1, 150 * 1024 + 3]


def _node(*args: str, stdin: bytes = b"") -> bytes:
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "age-encryption").is_dir():
        pytest.fail("Node.js and the npm package age-encryption are needed: run "
                    "scripts/bootstrap.sh (it installs nodejs and runs npm ci)")
    done = subprocess.run([node, str(NODE_DIR / "age_cli.mjs"), *args], input=stdin,
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


def _payload(size: int) -> bytes:
    return bytes((i * 7 + size) % 251 for i in range(size))


@pytest.fixture(scope="module")
def node_key() -> tuple[str, str]:
    identity, recipient = _node("keygen").decode().split()
    return identity, recipient


@pytest.mark.parametrize("size", SIZES)
def test_a_tessera_hybrid_file_opens_in_the_age_authors_implementation(
        size: int, node_key: tuple[str, str], tmp_path: Path) -> None:
    identity, recipient = node_key
    data = age.encrypt(_payload(size), [age.parse_recipient(recipient)])
    assert [s.type for s in age.read_stanzas(data)] == ["mlkem768x25519"]
    key_file = tmp_path / "key.txt"
    key_file.write_text(identity + "\n")
    assert _node("decrypt", str(key_file), stdin=data) == _payload(size)


@pytest.mark.parametrize("size", SIZES)
def test_their_file_to_a_tessera_hybrid_recipient_opens_in_tessera(size: int) -> None:
    ours = age.MlKem768X25519Identity.generate(lambda n: bytes(range(n)))
    data = _node("encrypt", ours.recipient.to_string(), stdin=_payload(size))
    assert [s.type for s in age.read_stanzas(data)] == ["mlkem768x25519"]
    assert age.decrypt(data, [ours]) == _payload(size)


def test_their_identity_derives_the_same_recipient_in_tessera(
        node_key: tuple[str, str]) -> None:
    identity, recipient = node_key
    assert age.MlKem768X25519Identity.from_string(identity).recipient.to_string() == recipient


def test_an_exported_software_identity_opens_a_share_envelope_in_their_implementation(
        tmp_path: Path) -> None:
    from helpers.ceremony import ScriptedPrompts, build
    from tessera.tokens.base import TokenKind
    from tessera.tokens.software import SoftwareDriver

    c = build(tmp_path, {"Alice": TokenKind.SOFTWARE, "Carol": TokenKind.SOFTWARE})
    carol = c.tokens["Carol"]
    driver = c.drivers.driver(TokenKind.SOFTWARE)
    assert isinstance(driver, SoftwareDriver)
    line = driver.export_identity(carol, ScriptedPrompts())
    assert line.startswith("AGE-SECRET-KEY-PQ-1")
    key_file = tmp_path / "carol.key"
    key_file.write_text(line + "\n")
    data = c.vault.get_version(c.record_id)
    entry = next(e for e in data.manifest.shares if e.custodian == "Carol")
    envelope = data.envelopes[entry.key].age
    assert [s.type for s in age.read_stanzas(envelope)] == ["mlkem768x25519"]
    words = _node("decrypt", str(key_file), stdin=envelope).decode()
    assert words == c.words["Carol"]
    # And the token itself opens what their implementation wraps to its recipient.
    assert carol.pq_recipient is not None
    wrapped = _node("encrypt", carol.pq_recipient, stdin=b"probe")
    unlocked = driver.unlock(carol, wrapped, bytes(32), ScriptedPrompts(), threading.Event())
    assert bytes(unlocked.share) == b"probe"


def _p256() -> tuple[bytes, Callable[[bytes], bytes]]:
    private = ec.generate_private_key(ec.SECP256R1())

    def ecdh(epk: bytes) -> bytes:
        return private.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), epk))

    return private.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint), ecdh


def test_their_p256tag_file_opens_with_our_tagged_identity() -> None:
    compressed, ecdh = _p256()
    recipient = age.P256TagRecipient(compressed).to_string()
    data = _node("encrypt", recipient, stdin=b"tagged")
    assert [s.type for s in age.read_stanzas(data)] == ["p256tag"]
    assert age.decrypt(data, [age.P256TagIdentity(compressed, ecdh)]) == b"tagged"
    # Another card's key sees the tag is not its own and is never asked for ECDH.
    other, _ = _p256()
    with pytest.raises(age.AgeNoMatch):
        age.decrypt(data, [age.P256TagIdentity(other, lambda epk: pytest.fail("asked"))])


def test_their_mlkem768p256tag_file_opens_with_our_hybrid_tagged_identity() -> None:
    compressed, ecdh = _p256()
    ml = mlkem.MLKEM768PrivateKey.generate()
    recipient = age.MlKem768P256TagRecipient.from_parts(ml.public_key().public_bytes_raw(),
                                                        compressed)
    data = _node("encrypt", recipient.to_string(), stdin=b"post-quantum tagged")
    assert [s.type for s in age.read_stanzas(data)] == ["mlkem768p256tag"]
    identity = age.MlKem768P256TagIdentity(compressed, ecdh, lambda: ml)
    assert age.decrypt(data, [identity]) == b"post-quantum tagged"
    # Our own wrap to the same recipient opens the same way.
    assert age.decrypt(age.encrypt(b"ours", [recipient]), [identity]) == b"ours"


def test_a_yubikey_custodian_opens_their_file_to_the_tokens_age1tagpq1_recipient(
        tmp_path: Path) -> None:
    from helpers.ceremony import ScriptedPrompts, build

    c = build(tmp_path)
    bob = c.tokens["Bob"]
    assert bob.pq_recipient is not None and bob.pq_recipient.startswith("age1tagpq1")
    wrapped = _node("encrypt", bob.pq_recipient, stdin=b"probe")
    unlocked = c.drivers.for_token(bob).unlock(bob, wrapped, bytes(32), ScriptedPrompts(),
                                               threading.Event())
    assert bytes(unlocked.share) == b"probe"
