"""Post-quantum share envelopes: what the hybrid (mlkem768x25519) costs against the
classical X25519 envelope, in time and in bytes.

Per envelope: wrap and unwrap of one 33-word share, classical vs hybrid, next to a
yardstick measured in the same run (one raw X25519 key agreement, and one SHA-256 of
1 MiB). Per record: the envelope, the manifest, the ``.tessera`` export and the
recovery-data QR codes and pages of a sheet, for 3 and 16 custodians.

Prints figures; asserts nothing. Run: .venv/bin/python benchmarks/bench_envelopes.py
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))

from bench_core import timed  # the same median-of-N timer as the other figures
from cryptography.hazmat.primitives.asymmetric import ec, mlkem
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tessera.core import age
from tessera.core.policy import SplitPlan
from tessera.custody.create import create_record
from tessera.custody.enroll import enroll_remote
from tessera.custody.policy_ops import set_vault_setting
from tessera.sheets.layout import data_pages
from tessera.sheets.qr_format import SetId, encode_data
from tessera.vault import Vault
from tessera.vault.exchange import export_version

SHARE = (" ".join(["academic"] * 33)).encode()
SECRET = b"-----BEGIN OPENSSH PRIVATE KEY-----" + b"x" * 400


class _Pair:
    """A recipient and the identity that opens it (the PIV identities hold no recipient)."""

    def __init__(self, recipient: Any, identity: Any) -> None:
        self.recipient = recipient
        self.identity = identity

    def unwrap(self, stanzas: Any) -> bytes | None:
        result: bytes | None = self.identity.unwrap(stanzas)
        return result


def bench_per_envelope() -> None:
    a, b = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    b_public = b.public_key()
    mib = bytes(1024 * 1024)
    ecdh = timed(lambda: a.exchange(b_public), repeat=200)
    sha = timed(lambda: hashlib.sha256(mib).digest(), repeat=20)
    print("yardsticks (same run): one X25519 key agreement "
          f"{ecdh * 1e6:.0f} µs; SHA-256 of 1 MiB {sha * 1e3:.2f} ms")
    classical = age.X25519Identity.generate()
    hybrid = age.MlKem768X25519Identity.generate(lambda n: bytes(range(n)))
    # A YubiKey's two kinds, with the card's P-256 ECDH done in software here (a real
    # card adds its own ECDH time and the touch, the same for both).
    card = ec.generate_private_key(ec.SECP256R1())
    point = card.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)

    def card_ecdh(epk: bytes) -> bytes:
        return card.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), epk))

    ml = mlkem.MLKEM768PrivateKey.generate()
    piv = _Pair(age.PivP256Recipient.from_public_key(point),
                age.PivP256Identity(point, card_ecdh))
    tagpq = _Pair(age.MlKem768P256TagRecipient.from_parts(ml.public_key().public_bytes_raw(),
                                                          point),
                  age.MlKem768P256TagIdentity(point, card_ecdh, lambda: ml))
    print(f"{'envelope':<22} {'wrap µs':>9} {'unwrap µs':>10} {'× X25519':>9} "
          f"{'bytes':>6} {'recipient chars':>16}")
    for name, identity in (("classical X25519", classical), ("hybrid mlkem768x25519", hybrid),
                           ("PIV piv-p256", piv), ("PIV mlkem768p256tag", tagpq)):
        recipient = identity.recipient
        envelope = age.encrypt(SHARE, [recipient])
        wrap = timed(lambda r=recipient: age.encrypt(SHARE, [r]), repeat=50)  # type: ignore[misc]
        unwrap = timed(lambda e=envelope, i=identity: age.decrypt(e, [i]),  # type: ignore[misc]
                       repeat=50)
        print(f"{name:<22} {wrap * 1e6:>9.0f} {unwrap * 1e6:>10.0f} "
              f"{unwrap / ecdh:>9.1f} {len(envelope):>6} {len(recipient.to_string()):>16}")


def record_sizes(n: int, kind: str) -> tuple[int, int, int, int, int]:
    """(envelope bytes, manifest bytes, export bytes, QR codes, QR pages) for N custodians."""
    with tempfile.TemporaryDirectory() as tmp:
        vault = Vault.open(Path(tmp) / "bench.sqlite3", create=True, demo=True)
        try:
            set_vault_setting(vault, "envelopes", kind, actor="bench")
            names = []
            for i in range(n):
                person = vault.add_custodian(f"Custodian {i}", contact="", role="",
                                             actor="bench")
                identity = (age.MlKem768X25519Identity.generate(lambda k, i=i: bytes([i]) * k)
                            if kind == "hybrid" else age.X25519Identity.generate())
                enroll_remote(vault, person.id, identity.recipient.to_string(), actor="bench")
                names.append(person.name)
            created = create_record(vault, SECRET, label="bench", nhi={}, actor="bench",
                                    plan=SplitPlan.simple(max(2, n // 2), names),
                                    allow_software=True)
            data = vault.get_version(created.record_id)
            envelope = len(next(iter(data.envelopes.values())).age)
            exported = len(export_version(vault, created.record_id, actor="bench"))
            manifest = data.manifest
            codes = encode_data(SetId(manifest.record_id, manifest.version, manifest.epoch),
                                data.manifest_bytes, data.ciphertext)
            return envelope, len(data.manifest_bytes), exported, len(codes), data_pages(len(codes))
        finally:
            vault.close()


def bench_per_record() -> None:
    print()
    print("per record (one token per custodian; the sheets' recovery data is the manifest "
          "and the payload, so only the manifest's recipient strings grow)")
    print(f"{'N':>3} {'envelopes':<10} {'envelope B':>11} {'manifest B':>11} {'export B':>9} "
          f"{'QR codes':>9} {'QR pages':>9}")
    for n in (3, 16):
        for kind in ("classical", "hybrid"):
            envelope, manifest, exported, codes, pages = record_sizes(n, kind)
            print(f"{n:>3} {kind:<10} {envelope:>11} {manifest:>11} {exported:>9} "
                  f"{codes:>9} {pages:>9}")


if __name__ == "__main__":
    bench_per_envelope()
    bench_per_record()
