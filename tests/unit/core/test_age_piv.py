"""The piv-p256 stanza of age-plugin-yubikey, with a software P-256 key standing in for the card."""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tessera.core.age import (
    AgeHeaderError,
    AgeKeyError,
    AgeNoMatch,
    PivP256Identity,
    PivP256Recipient,
    Stanza,
    X25519Identity,
    decrypt,
    encrypt,
    parse_recipient,
    read_stanzas,
)
from tessera.core.errors import PinInvalid

# Recipients printed by age-plugin-yubikey itself, with the tag it put in the identity
# file name (age-yubikey-identity-<TAG_HEX>.txt): github.com/sigsum/admin, .priv/age.md.
REAL_RECIPIENTS = [
    ("age1yubikey1qgad8tvv2y97zflqndlnms0ajtk7my54u9299v6ep5jrgpm08rtdjt6sus7", "1f5dda61"),
    ("age1yubikey1qfkztjuhkfjr3mssnfq8su84n3slpvltxh2f4epmxfx26jjt4gwfcwe9mss", "24e5dcc5"),
]
# The example stanza of the C2SP piv-p256 specification (c2sp.org/age-piv-p256).
SPEC_STANZA = (
    "-> piv-p256 8u8pZg Aqa5k2Tm/BJGTzCno1W29dWaWBHkFchOztcIZ7aQo0Ca\n"
    "CXE0N0KMI0BUE5WaYTLOxYv7aHB/5IQpAZKsk2C/yjU\n"
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


class SoftCard:
    """A software P-256 key that answers ECDH the way PivSession.calculate_secret does."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.calls: list[bytes] = []

    @property
    def public_key(self) -> bytes:
        return self.key.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)

    def ecdh(self, peer: bytes) -> bytes:
        self.calls.append(peer)
        point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), peer)
        return self.key.exchange(ec.ECDH(), point)

    def identity(self) -> PivP256Identity:
        return PivP256Identity(self.public_key, self.ecdh)


def _forbidden_ecdh(peer: bytes) -> bytes:
    raise AssertionError("the card must not be asked for ECDH")


def test_round_trip_through_recipient_string() -> None:
    card = SoftCard()
    recipient = parse_recipient(card.identity().recipient.to_string())
    assert isinstance(recipient, PivP256Recipient)
    data = encrypt(b"share words", [recipient])
    assert decrypt(data, [card.identity()]) == b"share words"
    # The card sees the ephemeral key as an uncompressed SEC1 point, once.
    assert len(card.calls) == 1
    assert len(card.calls[0]) == 65
    assert card.calls[0][0] == 4


def test_stanza_layout_matches_age_plugin_yubikey() -> None:
    card = SoftCard()
    recipient = card.identity().recipient
    (stanza,) = read_stanzas(encrypt(b"x", [recipient], armor=True))
    assert stanza.type == "piv-p256"
    tag, epk = stanza.args
    assert tag == _b64(hashlib.sha256(card.public_key).digest()[:4])
    assert tag == _b64(recipient.tag)
    epk_bytes = base64.b64decode(epk + "=" * (-len(epk) % 4))
    assert len(epk_bytes) == 33
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), epk_bytes)
    assert len(stanza.body) == 32


@pytest.mark.parametrize(("text", "tag_hex"), REAL_RECIPIENTS)
def test_real_yubikey_recipient_decodes_and_round_trips(text: str, tag_hex: str) -> None:
    recipient = PivP256Recipient.from_string(text)
    assert len(recipient.public_key) == 33
    assert recipient.public_key[0] in (2, 3)
    point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), recipient.public_key)
    assert point.public_bytes(Encoding.X962, PublicFormat.CompressedPoint) == recipient.public_key
    assert recipient.to_string() == text
    assert recipient.tag.hex() == tag_hex
    assert parse_recipient(text) == recipient


def test_uncompressed_card_key_is_normalized() -> None:
    card = SoftCard()
    uncompressed = card.key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    assert PivP256Recipient.from_public_key(uncompressed).public_key == card.public_key
    assert PivP256Identity(uncompressed, card.ecdh).public_key == card.public_key


@pytest.mark.parametrize(
    "text",
    [
        REAL_RECIPIENTS[0][0].upper(),  # age-plugin-yubikey recipients are lowercase
        REAL_RECIPIENTS[0][0][:-1] + "8",  # checksum
        REAL_RECIPIENTS[0][0] + " ",
        "age1yubikey1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqx6afzt",
    ],
)
def test_bad_recipient_strings_are_refused(text: str) -> None:
    with pytest.raises(AgeKeyError):
        parse_recipient(text)


def test_recipient_must_be_a_curve_point() -> None:
    not_on_curve = b"\x02" + b"\xff" * 32
    with pytest.raises(AgeKeyError):
        PivP256Recipient.from_public_key(not_on_curve)
    with pytest.raises(AgeKeyError):
        PivP256Identity(not_on_curve, _forbidden_ecdh)


def test_stanza_for_another_key_is_ignored_without_touching_the_card() -> None:
    alice, bob = SoftCard(), SoftCard()
    data = encrypt(b"for alice", [alice.identity().recipient])
    bob_identity = PivP256Identity(bob.public_key, _forbidden_ecdh)
    assert bob_identity.unwrap(read_stanzas(data)) is None
    with pytest.raises(AgeNoMatch) as caught:
        decrypt(data, [bob_identity])
    assert caught.value.stanza_types == ("piv-p256",)


def test_matching_tag_with_wrong_secret_is_no_match() -> None:
    alice, mallory = SoftCard(), SoftCard()
    data = encrypt(b"for alice", [alice.identity().recipient])
    # Alice's public key (so the tag matches) but a card that holds another key.
    impostor = PivP256Identity(alice.public_key, mallory.ecdh)
    with pytest.raises(AgeNoMatch):
        decrypt(data, [impostor])
    assert len(mallory.calls) == 1


def test_piv_and_x25519_recipients_share_a_file() -> None:
    card, software = SoftCard(), X25519Identity.generate()
    data = encrypt(b"both", [card.identity().recipient, software.recipient])
    assert decrypt(data, [software]) == b"both"
    assert decrypt(data, [card.identity()]) == b"both"
    assert (
        decrypt(data, [PivP256Identity(SoftCard().public_key, _forbidden_ecdh), software])
        == b"both"
    )


def test_card_errors_reach_the_caller_unchanged() -> None:
    card = SoftCard()
    data = encrypt(b"x", [card.identity().recipient])

    def wrong_pin(peer: bytes) -> bytes:
        raise PinInvalid(attempts_left=2)

    with pytest.raises(PinInvalid):
        decrypt(data, [PivP256Identity(card.public_key, wrong_pin)])


def test_card_returning_wrong_length_is_refused() -> None:
    card = SoftCard()
    data = encrypt(b"x", [card.identity().recipient])
    with pytest.raises(ValueError, match="32-byte"):
        decrypt(data, [PivP256Identity(card.public_key, lambda peer: card.ecdh(peer)[:31])])


def _set_unused_bit(text: str) -> str:
    """Set the lowest (unused) bit of the last character: same bytes, non-canonical text."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return text[:-1] + alphabet[alphabet.index(text[-1]) | 1]


def _valid_parts(card: SoftCard) -> tuple[str, str, bytes]:
    (stanza,) = read_stanzas(encrypt(b"x", [card.identity().recipient]))
    return stanza.args[0], stanza.args[1], stanza.body


MalformedCase = Callable[[str, str, bytes], Stanza]

MALFORMED: dict[str, MalformedCase] = {
    "no arguments": lambda tag, epk, body: Stanza("piv-p256", (), body),
    "one argument": lambda tag, epk, body: Stanza("piv-p256", (tag,), body),
    "three arguments": lambda tag, epk, body: Stanza("piv-p256", (tag, epk, "x"), body),
    "padded tag": lambda tag, epk, body: Stanza("piv-p256", (tag + "==", epk), body),
    "non-canonical tag": lambda tag, epk, body: Stanza(
        "piv-p256", (_set_unused_bit(tag), epk), body
    ),
    "long tag": lambda tag, epk, body: Stanza("piv-p256", (_b64(b"12345"), epk), body),
    "padded key": lambda tag, epk, body: Stanza("piv-p256", (tag, epk + "=="), body),
    "url-safe key": lambda tag, epk, body: Stanza("piv-p256", (tag, epk[:-1] + "-"), body),
    "key not on curve": lambda tag, epk, body: Stanza(
        "piv-p256", (tag, _b64(b"\x02" + b"\xff" * 32)), body
    ),
    "uncompressed key": lambda tag, epk, body: Stanza(
        "piv-p256", (tag, _b64(b"\x04" + b"\x01" * 64)), body
    ),
    "short body": lambda tag, epk, body: Stanza("piv-p256", (tag, epk), body[:31]),
    "long body": lambda tag, epk, body: Stanza("piv-p256", (tag, epk), body + b"\x00"),
}


@pytest.mark.parametrize("case", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_stanza_is_a_header_error(case: MalformedCase) -> None:
    card = SoftCard()
    stanza = case(*_valid_parts(card))
    with pytest.raises(AgeHeaderError):
        PivP256Identity(card.public_key, _forbidden_ecdh).unwrap([stanza])


def test_malformed_stanza_in_a_file_is_a_header_error() -> None:
    card = SoftCard()
    data = encrypt(b"x", [card.identity().recipient])
    (stanza,) = read_stanzas(data)
    line = f"-> piv-p256 {stanza.args[0]} {stanza.args[1]}".encode()
    tampered = data.replace(line, line + b" extra")
    assert tampered != data
    with pytest.raises(AgeHeaderError):
        decrypt(tampered, [PivP256Identity(card.public_key, _forbidden_ecdh)])


def test_specification_example_stanza_is_well_formed() -> None:
    header = b"age-encryption.org/v1\n" + SPEC_STANZA.encode() + b"--- " + b"A" * 42 + b"s\n"
    (stanza,) = read_stanzas(header)
    assert stanza.type == "piv-p256"
    assert len(stanza.body) == 32
    # Not our key: ignored, and the card is never asked.
    assert PivP256Identity(SoftCard().public_key, _forbidden_ecdh).unwrap([stanza]) is None


def test_injected_randomness_makes_encryption_repeatable() -> None:
    card = SoftCard()

    def run() -> bytes:
        rng = random.Random(7)
        recipient = PivP256Recipient.from_public_key(card.public_key, rng=rng.randbytes)
        return encrypt(b"same", [recipient], rng=rng.randbytes)

    first = run()
    assert run() == first
    assert decrypt(first, [card.identity()]) == b"same"
