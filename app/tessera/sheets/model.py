"""What a recovery sheet says, independent of how it is painted.

:func:`build_sheet` turns a record version (manifest, ciphertext) and one custodian's
share into a :class:`Sheet`: every text line and QR code text the painter puts on
paper, so the layout code only places things and tests can read a sheet's content
without rasterising it.
"""

from __future__ import annotations

import base64
import enum
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from tessera.core.manifest import Manifest
from tessera.core.organisation import Organisation
from tessera.core.slip39 import WORDS_PER_SHARE, normalize_words
from tessera.sheets.qr_format import SetId, encode_data, encode_share

PRODUCT = "Tessera"
WORD_COLUMNS = 3


class Paper(enum.StrEnum):
    A4 = "a4"
    LETTER = "letter"

    @property
    def size_mm(self) -> tuple[float, float]:
        return (210.0, 297.0) if self is Paper.A4 else (215.9, 279.4)

    @property
    def display(self) -> str:
        return "A4" if self is Paper.A4 else "US Letter"


def new_serial(rng: Callable[[int], bytes] = os.urandom) -> str:
    """A sheet serial ``SH-XXXX-XXXX`` (40 random bits, base32: no 0/1/8/9 to misread)."""
    text = base64.b32encode(rng(5)).decode("ascii")
    return f"SH-{text[:4]}-{text[4:]}"


# Steps that hold on paper for years: no path inside a source tree, only names
# published with Tessera and open standards.
RECOVERY_STEPS = (
    "Compare the fingerprint above with the one shown by whoever asks for this sheet.",
    "Tessera: Release → add this custodian by paper → type the 33 words or scan this page.",
    "Without Tessera: any K sheets' words go into any SLIP-39 tool (e.g. `shamir recover` "
    "from the Python package shamir-mnemonic) → the 64-hex-digit data key.",
    "The recovery-data QR codes (any one sheet) hold the manifest and encrypted payload; "
    "the stand-alone script tessera-recover, published with Tessera, decrypts them with "
    "the words or the data key.",
    "The format is published with Tessera as FORMAT.md (SLIP-39, HKDF-SHA256, "
    "AES-256-GCM with the manifest SHA-256 as AAD).",
)
DEMO_MARK = "DEMO — NOT A REAL SECRET"


def recovery_steps(organisation: Organisation | None) -> tuple[str, ...]:
    """The steps printed on a sheet, ending with who to call and where to read more."""
    if organisation is None or not organisation.is_set:
        return RECOVERY_STEPS
    who = " · ".join(x for x in (organisation.name, organisation.contact) if x)
    last = []
    if who:
        last.append(f"In doubt, before you open or hand over anything, call: {who}.")
    if organisation.instructions_url:
        last.append(f"Full instructions: {organisation.instructions_url}")
    return (*RECOVERY_STEPS[:4], " ".join(last))


@dataclass(frozen=True)
class Sheet:
    """One custodian's sheet for one record version. ``words`` and ``share_code`` are
    the share itself (None in hand-copy mode): never log a Sheet's fields."""

    serial: str
    record_label: str
    record_id: str
    version: int
    epoch: int
    fingerprint: str
    created_at: str
    custodian: str
    custodian_id: str
    share_key: str
    share_number: int  # 1-based across all shares of the version
    share_count: int
    group_text: str  # "" with one group; "group 2 (2 of 3)" with several
    quorum: str  # "any 3 of 5"
    printed_at: str
    hand_copy: bool
    words: tuple[str, ...] | None
    share_code: str | None
    data_codes: tuple[str, ...]
    envelope_no: str = ""
    reprint_of: str = ""
    steps: tuple[str, ...] = RECOVERY_STEPS
    demo: bool = False  # from a demo vault: every page says so across it
    organisation: Organisation = field(default_factory=Organisation)
    genesis: str = ""  # the vault's genesis fingerprint (hex), "" before it is signed

    def __repr__(self) -> str:  # keep the words out of tracebacks and logs
        return (f"Sheet(serial={self.serial!r}, record_id={self.record_id!r}, "
                f"version={self.version}, share_key={self.share_key!r}, "
                f"hand_copy={self.hand_copy})")

    @property
    def set_id(self) -> SetId:
        return SetId(self.record_id, self.version, self.epoch)


def build_sheet(manifest: Manifest, manifest_bytes: bytes, ciphertext: bytes, share_key: str,
                mnemonic: str | None, *, serial: str, printed_at: str,
                envelope_no: str = "", reprint_of: str = "",
                data_codes: tuple[str, ...] | None = None, demo: bool = False,
                organisation: Organisation | None = None) -> Sheet:
    """The sheet of share ``share_key``; ``mnemonic`` None means hand-copy mode.

    ``data_codes`` lets a caller printing many sheets encode the recovery data once.
    """
    entry = manifest.share(share_key)
    set_id = SetId(manifest.record_id, manifest.version, manifest.epoch)
    words: tuple[str, ...] | None = None
    share_code = None
    if mnemonic is not None:
        words = tuple(normalize_words(mnemonic))
        if len(words) != WORDS_PER_SHARE:
            raise ValueError("a Tessera share has 33 words")
        share_code = encode_share(set_id, share_key, serial, " ".join(words))
    number = [s.key for s in manifest.shares].index(share_key) + 1
    group_text = ""
    if len(manifest.groups) > 1:
        spec = manifest.groups[entry.group]
        group_text = (f"group {entry.group + 1} ({spec.threshold} of {spec.count}), "
                      f"member {entry.member + 1}")
    return Sheet(
        serial=serial, record_label=manifest.label, record_id=manifest.record_id,
        version=manifest.version, epoch=manifest.epoch, fingerprint=manifest.fingerprint,
        created_at=manifest.created_at, custodian=entry.custodian,
        custodian_id=entry.custodian_id, share_key=share_key, share_number=number,
        share_count=manifest.share_count, group_text=group_text,
        quorum=manifest.describe_quorum(), printed_at=printed_at,
        hand_copy=mnemonic is None, words=words, share_code=share_code,
        data_codes=data_codes if data_codes is not None else
        encode_data(set_id, manifest_bytes, ciphertext),
        envelope_no=envelope_no, reprint_of=reprint_of, demo=demo,
        organisation=organisation or Organisation(), steps=recovery_steps(organisation))
