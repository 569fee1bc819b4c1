"""Properties of Tessera's age files: round trips, tamper evidence, strict parsing."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tessera.core.age import (
    AgeError,
    AgeHeaderError,
    AgeKeyError,
    AgeNoMatch,
    Identity,
    ScryptIdentity,
    ScryptRecipient,
    Stanza,
    X25519Identity,
    X25519Recipient,
    decrypt,
    encrypt,
    parse_recipient,
    read_stanzas,
)
from tessera.core.age.header import encode_header
from tessera.core.age.stream import encrypt_payload

CHUNK = 64 * 1024
ALICE = X25519Identity.from_private_bytes(bytes(range(32)))
BOB = X25519Identity.from_private_bytes(bytes(range(32, 64)))
# The example key pair of the age specification (c2sp.org/age).
SPEC_IDENTITY = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
SPEC_RECIPIENT = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _seeded(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


plaintexts = st.one_of(
    st.binary(max_size=512),
    # Sizes around the 64 KiB chunk boundaries, where STREAM framing can go wrong.
    st.builds(
        _seeded,
        st.sampled_from([CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 1]),
        st.integers(0, 2**32),
    ),
)


@FAST
@given(plaintext=plaintexts, armor=st.booleans())
def test_round_trip(plaintext: bytes, armor: bool) -> None:
    data = encrypt(plaintext, [ALICE.recipient, BOB.recipient], armor=armor)
    assert data.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----\n" if armor else b"age-")
    assert decrypt(data, [BOB]) == plaintext
    assert decrypt(data, [ALICE]) == plaintext


def _sample_file(armor: bool) -> tuple[bytes, bytes]:
    plaintext = _seeded(CHUNK + 100, 1)  # two chunks
    rng = random.Random(2)
    recipient = X25519Recipient.from_public_bytes(ALICE.recipient.public_bytes, rng=rng.randbytes)
    return plaintext, encrypt(plaintext, [recipient], armor=armor, rng=rng.randbytes)


BINARY_PLAINTEXT, BINARY_FILE = _sample_file(armor=False)
ARMORED_PLAINTEXT, ARMORED_FILE = _sample_file(armor=True)


@FAST
@given(data=st.data(), mask=st.integers(1, 255))
def test_any_flipped_byte_of_a_binary_file_is_detected(data: st.DataObject, mask: int) -> None:
    position = data.draw(st.integers(0, len(BINARY_FILE) - 1))
    tampered = bytearray(BINARY_FILE)
    tampered[position] ^= mask
    with pytest.raises(AgeError):
        decrypt(bytes(tampered), [ALICE])


@FAST
@given(data=st.data(), mask=st.integers(1, 255))
def test_any_flipped_byte_of_an_armored_file_is_detected(data: st.DataObject, mask: int) -> None:
    # Focus on the header and both ends, where the parsing rules live.
    position = data.draw(
        st.one_of(st.integers(0, 400), st.integers(len(ARMORED_FILE) - 200, len(ARMORED_FILE) - 1))
    )
    tampered = bytearray(ARMORED_FILE)
    tampered[position] ^= mask
    try:
        plaintext = decrypt(bytes(tampered), [ALICE])
    except AgeError:
        return
    # The only tolerated change: the final newline turned into other whitespace,
    # which the spec allows after the PEM block.
    assert position == len(ARMORED_FILE) - 1
    assert tampered[position : position + 1].isspace()
    assert plaintext == ARMORED_PLAINTEXT


@FAST
@given(data=st.data())
def test_truncated_or_extended_files_are_refused(data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(BINARY_FILE) - 1))
    with pytest.raises(AgeError):
        decrypt(BINARY_FILE[:cut], [ALICE])
    extra = data.draw(st.binary(min_size=1, max_size=64))
    with pytest.raises(AgeError):
        decrypt(BINARY_FILE + extra, [ALICE])


@FAST
@given(garbage=st.binary(max_size=300), prefix=st.sampled_from([b"", b"age-encryption.org/v1\n"]))
def test_garbage_is_an_age_error(garbage: bytes, prefix: bytes) -> None:
    with pytest.raises(AgeError):
        decrypt(prefix + garbage, [ALICE])


class _GreaseRecipient:
    """A recipient of an unknown type: every identity must skip its stanza."""

    def __init__(self, stanza: Stanza) -> None:
        self.stanza = stanza

    def wrap(self, file_key: bytes) -> list[Stanza]:
        return [self.stanza]


vchar_text = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=12)
stanzas = st.builds(
    Stanza,
    type=vchar_text.filter(lambda t: t not in ("X25519", "scrypt", "piv-p256")),
    args=st.lists(vchar_text, max_size=4).map(tuple),
    body=st.one_of(st.binary(max_size=200), st.sampled_from([b"", bytes(48), bytes(96)])),
)


@FAST
@given(stanza=stanzas)
def test_unknown_stanzas_survive_and_are_skipped(stanza: Stanza) -> None:
    data = encrypt(b"grease", [_GreaseRecipient(stanza), ALICE.recipient])
    assert read_stanzas(data)[0] == stanza
    assert decrypt(data, [ALICE]) == b"grease"


@pytest.mark.parametrize(
    ("stanza_type", "args"), [("", ()), ("two words", ()), ("X25519", ("",)), ("é", ())]
)
def test_stanza_refuses_what_the_header_cannot_carry(
    stanza_type: str, args: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError):
        Stanza(stanza_type, args, b"")


def test_specification_key_pair() -> None:
    identity = X25519Identity.from_string(SPEC_IDENTITY)
    assert identity.recipient.to_string() == SPEC_RECIPIENT
    assert identity.to_string() == SPEC_IDENTITY
    assert parse_recipient(SPEC_RECIPIENT) == identity.recipient
    assert SPEC_IDENTITY not in repr(identity)


@pytest.mark.parametrize(
    "text",
    [
        SPEC_RECIPIENT.upper(),
        SPEC_RECIPIENT[:-1] + "q",
        " " + SPEC_RECIPIENT,
        SPEC_IDENTITY,  # a secret key is not a recipient
        "age1",
        "",
    ],
)
def test_bad_recipients_are_refused(text: str) -> None:
    with pytest.raises(AgeKeyError):
        parse_recipient(text)


@pytest.mark.parametrize("text", [SPEC_IDENTITY.lower(), SPEC_RECIPIENT, SPEC_IDENTITY[:-1] + "Q"])
def test_bad_identities_are_refused(text: str) -> None:
    with pytest.raises(AgeKeyError):
        X25519Identity.from_string(text)


def test_injected_randomness_makes_files_repeatable() -> None:
    assert _sample_file(armor=False)[1] == BINARY_FILE
    rng = random.Random(9)
    again = X25519Identity.generate(rng=rng.randbytes)
    assert again.private_bytes() == random.Random(9).randbytes(32)

    def seal(seed: int) -> bytes:
        rng = random.Random(seed).randbytes
        return encrypt(b"x", [parse_recipient(SPEC_RECIPIENT, rng=rng)], rng=rng)

    assert seal(3) == seal(3)
    assert seal(3) != seal(4)


def test_wrong_key_is_no_match_naming_the_recipient_types() -> None:
    with pytest.raises(AgeNoMatch) as caught:
        decrypt(BINARY_FILE, [BOB])
    assert caught.value.stanza_types == ("X25519",)


def test_no_identities_is_no_match() -> None:
    with pytest.raises(AgeNoMatch):
        decrypt(BINARY_FILE, [])


def test_passphrase_round_trip_and_limits() -> None:
    data = encrypt(b"by passphrase", [ScryptRecipient("hunter2", work_factor=4)])
    assert [s.args[1] for s in read_stanzas(data)] == ["4"]
    assert decrypt(data, [ScryptIdentity("hunter2")]) == b"by passphrase"
    with pytest.raises(AgeNoMatch):
        decrypt(data, [ScryptIdentity("hunter3")])
    with pytest.raises(AgeHeaderError, match="work factor"):
        decrypt(data, [ScryptIdentity("hunter2", max_work_factor=3)])


def test_passphrase_cannot_be_mixed_with_other_recipients() -> None:
    with pytest.raises(ValueError):
        encrypt(b"x", [ScryptRecipient("hunter2", work_factor=2), ALICE.recipient])
    # Whatever identity is offered, a header mixing scrypt with others is refused.
    file_key = bytes(16)
    stanzas = [*ScryptRecipient("hunter2", work_factor=2).wrap(file_key)]
    stanzas += ALICE.recipient.wrap(file_key)
    mixed = encode_header(stanzas, file_key) + encrypt_payload(file_key, bytes(16), b"x")
    identities: Sequence[Identity] = [ALICE]
    with pytest.raises(AgeHeaderError):
        decrypt(mixed, identities)
    with pytest.raises(AgeHeaderError):
        ScryptIdentity("hunter2").unwrap(stanzas)
