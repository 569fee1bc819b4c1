"""An import checks every envelope completely, for every recipient type Tessera wraps
to, without any key: well-formed envelopes pass, and a stanza for another key, of the
wrong type, or with a damaged point is refused."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, mlkem
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tessera.core import age
from tessera.core.age.inspect import check_envelope
from tessera.core.age.mlkem768x25519 import MlKem768X25519Identity
from tessera.core.age.tagged import MlKem768P256TagRecipient, P256TagRecipient
from tessera.core.errors import FormatError


def _point() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        Encoding.X962, PublicFormat.CompressedPoint)


def _uncompressed() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        Encoding.X962, PublicFormat.UncompressedPoint)


RECIPIENTS: dict[str, Callable[[], age.Recipient]] = {
    "X25519": lambda: age.X25519Identity.generate().recipient,
    "mlkem768x25519": lambda: MlKem768X25519Identity.generate(os.urandom).recipient,
    "piv-p256": lambda: age.PivP256Recipient.from_public_key(_point()),
    "p256tag": lambda: P256TagRecipient(_point()),
    "mlkem768p256tag": lambda: MlKem768P256TagRecipient.from_parts(
        mlkem.MLKEM768PrivateKey.generate().public_key().public_bytes_raw(), _uncompressed()),
}
WORDS = b"academic acid acrobat " * 11


@pytest.mark.parametrize("kind", sorted(RECIPIENTS))
def test_a_well_formed_envelope_of_every_type_passes(kind: str) -> None:
    recipient = RECIPIENTS[kind]()
    check_envelope(age.encrypt(WORDS, [recipient]), [recipient.to_string()])


def test_an_envelope_to_several_types_passes() -> None:
    recipients = [make() for make in RECIPIENTS.values()]
    check_envelope(age.encrypt(WORDS, recipients), [r.to_string() for r in recipients])


@pytest.mark.parametrize("kind", ["piv-p256", "p256tag", "mlkem768p256tag"])
def test_a_tagged_stanza_for_another_key_is_refused(kind: str) -> None:
    mine, other = RECIPIENTS[kind](), RECIPIENTS[kind]()
    with pytest.raises(FormatError, match="no stanza is tagged for the key"):
        check_envelope(age.encrypt(WORDS, [other]), [mine.to_string()])


def test_a_stanza_of_another_type_is_refused() -> None:
    x, pq = RECIPIENTS["X25519"](), RECIPIENTS["mlkem768x25519"]()
    with pytest.raises(FormatError, match=r"its share's keys are 1 \(mlkem768x25519\)"):
        check_envelope(age.encrypt(WORDS, [x]), [pq.to_string()])


@pytest.mark.parametrize("kind", sorted(RECIPIENTS))
def test_a_stanza_with_a_cut_key_is_refused(kind: str) -> None:
    recipient = RECIPIENTS[kind]()
    data = age.encrypt(WORDS, [recipient])
    line_end = data.index(b"\n", data.index(b"-> "))
    damaged = data[:line_end - 4] + data[line_end:]  # the last argument loses 3 bytes
    with pytest.raises(FormatError):
        check_envelope(damaged, [recipient.to_string()])
