"""age headers, stanzas, armour and recipients from outside: a clean error or the
right answer, never an internal error, never a different plaintext."""

from __future__ import annotations

from fuzzing import clean, fuzz, mutated
from hypothesis import given
from hypothesis import strategies as st

from tessera.core import age
from tessera.core.age.header import parse_header

IDENTITY = age.X25519Identity.from_private_bytes(bytes(range(32)))
OTHER = age.X25519Identity.from_private_bytes(bytes(range(1, 33)))
PLAINTEXT = b"share words would be here " * 3
VALID = age.encrypt(PLAINTEXT, [IDENTITY.recipient, OTHER.recipient])


@fuzz(quick=150)
@given(st.binary(max_size=400))
def test_random_bytes_never_crash_the_header_parser(data: bytes) -> None:
    clean(lambda: parse_header(data))
    clean(lambda: age.read_stanzas(data))


@fuzz(quick=200)
@given(mutated(VALID))
def test_a_damaged_file_decrypts_to_the_plaintext_or_is_refused(data: bytes) -> None:
    result = clean(lambda: age.decrypt(data, [IDENTITY]))
    if isinstance(result, bytes | bytearray):
        assert bytes(result) == PLAINTEXT
    clean(lambda: age.read_stanzas(data, armored=False))


@fuzz(quick=100)
@given(st.data())
def test_a_damaged_armored_file_is_refused_cleanly(data: st.DataObject) -> None:
    from tessera.core.age.armor import encode_armor
    armored = encode_armor(VALID)
    damaged = data.draw(mutated(armored))
    result = clean(lambda: age.decrypt(damaged, [IDENTITY], armored=True))
    if isinstance(result, bytes | bytearray):
        assert bytes(result) == PLAINTEXT


@fuzz(quick=150)
@given(st.one_of(st.text(max_size=120),
                 st.builds(lambda s, t: s + t, st.sampled_from(["age1", "age1yubikey1",
                                                                "AGE-SECRET-KEY-1"]),
                           st.text(alphabet="qpzry9x8gf2tvdw0s3jn54khce6mua7lQPZ1", max_size=70))))
def test_recipient_and_identity_strings(text: str) -> None:
    recipient = clean(lambda: age.parse_recipient(text))
    if not isinstance(recipient, Exception):
        assert recipient.to_string().lower() == text.strip().lower()  # type: ignore[attr-defined]
    clean(lambda: age.X25519Identity.from_string(text))
