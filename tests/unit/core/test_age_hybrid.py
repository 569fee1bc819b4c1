"""The post-quantum hybrid recipient type mlkem768x25519 (age1pq1… / AGE-SECRET-KEY-PQ-1…).

The testkit's hybrid_* vectors (test_age_vectors.py) cover decryption; these tests
cover what the vectors cannot: key derivation against the spec's own example, what
we write, and how strictly we read recipients and identities.
"""

from __future__ import annotations

import pytest

from helpers.paths import vector_path
from tessera.core.age import (
    AgeHeaderError,
    AgeKeyError,
    AgeNoMatch,
    MlKem768X25519Identity,
    MlKem768X25519Recipient,
    Stanza,
    X25519Identity,
    decrypt,
    encrypt,
    is_post_quantum,
    parse_recipient,
    read_stanzas,
)
from tessera.core.age.b64 import decode_raw, encode_raw
from tessera.core.age.mlkem768x25519 import ENC_SIZE, PUBLIC_KEY_SIZE

SPEC_IDENTITY, SPEC_RECIPIENT = (
    vector_path("age-spec", "mlkem768x25519-example.txt").read_text("ascii").split())
SEED = bytes(range(32))


def test_the_spec_example_identity_gives_the_spec_example_recipient() -> None:
    identity = MlKem768X25519Identity.from_string(SPEC_IDENTITY)
    assert identity.recipient.to_string() == SPEC_RECIPIENT
    assert identity.to_string() == SPEC_IDENTITY
    assert len(identity.recipient.public_key) == PUBLIC_KEY_SIZE == 1216


def test_parse_recipient_knows_the_hybrid_and_calls_it_post_quantum() -> None:
    parsed = parse_recipient(SPEC_RECIPIENT)
    assert isinstance(parsed, MlKem768X25519Recipient)
    assert is_post_quantum(SPEC_RECIPIENT)
    assert not is_post_quantum(X25519Identity.from_private_bytes(SEED).recipient.to_string())


def test_a_hybrid_file_round_trips_and_has_one_stanza_of_the_spec_shape() -> None:
    identity = MlKem768X25519Identity(SEED)
    data = encrypt(b"share words", [identity.recipient])
    (stanza,) = read_stanzas(data)
    assert stanza.type == "mlkem768x25519"
    assert len(stanza.args) == 1 and len(stanza.body) == 32
    assert decrypt(data, [identity]) == b"share words"
    # Each wrap encapsulates afresh: two files to one recipient share no enc.
    again = read_stanzas(encrypt(b"share words", [identity.recipient]))[0]
    assert again.args != stanza.args


def test_another_hybrid_identity_gets_no_match_not_garbage() -> None:
    data = encrypt(b"x", [MlKem768X25519Identity(SEED).recipient])
    with pytest.raises(AgeNoMatch) as caught:
        decrypt(data, [MlKem768X25519Identity(bytes(32))])
    assert caught.value.stanza_types == ("mlkem768x25519",)


def test_a_classical_identity_cannot_open_a_hybrid_file() -> None:
    # The X25519 half alone (what a quantum attacker would recover from the
    # classical part) is not an identity that opens the stanza.
    data = encrypt(b"x", [MlKem768X25519Identity(SEED).recipient])
    with pytest.raises(AgeNoMatch):
        decrypt(data, [X25519Identity.from_private_bytes(SEED)])


@pytest.mark.parametrize("bad", [
    SPEC_RECIPIENT.upper(),                     # recipients are lowercase
    SPEC_RECIPIENT[:-1] + "q",                  # checksum
    SPEC_RECIPIENT.replace("age1pq1", "age1"),  # wrong HRP and checksum
])
def test_bad_hybrid_recipients_are_refused(bad: str) -> None:
    with pytest.raises(AgeKeyError):
        parse_recipient(bad)


def test_a_hybrid_recipient_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(AgeKeyError, match="1216"):
        MlKem768X25519Recipient(bytes(PUBLIC_KEY_SIZE - 1))


def test_identities_are_strict_and_never_show_their_seed() -> None:
    with pytest.raises(AgeKeyError):
        MlKem768X25519Identity.from_string(SPEC_IDENTITY.lower().replace("-pq-", "-"))
    with pytest.raises(AgeKeyError):
        MlKem768X25519Identity(bytes(31))
    identity = MlKem768X25519Identity.from_string(SPEC_IDENTITY)
    assert SPEC_IDENTITY not in repr(identity)
    assert SPEC_IDENTITY[20:40].lower() not in repr(identity).lower()


def test_the_enc_is_checked_before_decryption() -> None:
    identity = MlKem768X25519Identity(SEED)
    data = encrypt(b"x", [identity.recipient])
    (stanza,) = read_stanzas(data)
    enc = decode_raw(stanza.args[0], "enc")
    short = Stanza(stanza.type, (encode_raw(enc[:-3]),), stanza.body)
    with pytest.raises(AgeHeaderError, match=str(ENC_SIZE)):
        identity.unwrap([short])
