"""Reading sheet codes back: every kind of bad input is refused by name."""

from __future__ import annotations

import pytest
from sheet_fixtures import SMALL_SECRET, fixture, sheets_for

from helpers.sealed import make_sealed
from tessera.core.errors import QuorumNotMet, ShareMismatch
from tessera.core.quorum import QuorumSession
from tessera.sheets.collect import SheetReader, recover_secret
from tessera.sheets.errors import (
    ChunkConflict,
    ChunkMissing,
    DamagedCode,
    ForeignSheet,
    NoRecoveryData,
    SheetCodeInvalid,
)
from tessera.sheets.model import Paper
from tessera.sheets.qr_format import SetId, ShareCode, encode_data, parse_code
from tessera.sheets.render import render_page
from tessera.sheets.scan import decode_image, read_scans


@pytest.fixture(scope="module")
def record():
    return fixture(SMALL_SECRET)


def test_codes_in_any_order_with_duplicates_reassemble(record) -> None:
    sheets = sheets_for(record, ["g0m0", "g0m1", "g0m2"])
    reader = SheetReader()
    texts = [*reversed(sheets[0].data_codes), *sheets[1].data_codes,
             *(s.share_code for s in sheets)]
    reader.add_texts(t for t in texts if t)
    assert bytes(recover_secret(reader).secret) == SMALL_SECRET


def test_a_missing_chunk_is_named(record) -> None:
    codes = sheets_for(record, ["g0m0"])[0].data_codes
    assert len(codes) >= 3
    reader = SheetReader()
    reader.add_texts(c for i, c in enumerate(codes) if i != 2)
    with pytest.raises(ChunkMissing, match=f"chunk 3 of {len(codes)} is missing") as caught:
        reader.recovery_data()
    assert caught.value.missing == (3,)
    with pytest.raises(NoRecoveryData):
        SheetReader().recovery_data()


def test_a_sheet_of_another_record_is_named(record) -> None:
    other = make_sealed(SMALL_SECRET, 3, 5)
    reader = SheetReader()
    reader.add_texts(sheets_for(record, ["g0m0"])[0].data_codes)
    foreign = sheets_for(other, ["g0m1"])[0]
    with pytest.raises(ForeignSheet, match=r"sheet SH-TEST-AAAA \(share g0m1\) belongs to "
                                           r"another record") as caught:
        reader.add_text(foreign.share_code or "", "scan.png")
    assert other.sealed.record_id in caught.value.found
    assert reader.shares == {}


def test_a_sheet_of_an_old_epoch_is_named(record) -> None:
    s = record.sealed
    current = SetId(s.manifest.record_id, 2, 2)
    reader = SheetReader(expected=current)
    with pytest.raises(ForeignSheet, match="epoch 1 of this record, an old share set"):
        reader.add_text(sheets_for(record, ["g0m0"])[0].share_code or "")


def test_a_duplicated_sheet_counts_once_and_says_so(record) -> None:
    sheets = sheets_for(record, ["g0m0", "g0m1"])
    reader = SheetReader()
    reader.add_texts(sheets[0].data_codes)
    for text in (sheets[0].share_code, sheets[0].share_code, sheets[1].share_code):
        reader.add_text(text or "", "scan")
    assert reader.notes == ["scan: sheet SH-TEST-AAAA was read twice; it counts once"]
    with pytest.raises(QuorumNotMet, match="2 of 3"):
        recover_secret(reader)


def test_two_different_codes_for_one_chunk_are_refused(record) -> None:
    codes = sheets_for(record, ["g0m0"])[0].data_codes
    s = record.sealed
    forged = encode_data(SetId(s.manifest.record_id, 1, 1), s.manifest_bytes,
                         s.ciphertext[:-1] + bytes([s.ciphertext[-1] ^ 1]))
    reader = SheetReader()
    reader.add_text(codes[0])
    with pytest.raises(ChunkConflict, match="chunk 2 of"):
        reader.add_text(forged[1])


def test_a_damaged_qr_code_is_reported(record) -> None:
    sheet = sheets_for(record, ["g0m0"])[0]
    image = render_page(sheet, 0, Paper.A4, 150)
    # Scratch a thick band across the middle of the share code (right of the words),
    # sparing its three finder patterns so the code is still found.
    bits = image.bits()
    line = image.bytesPerLine()
    qr_left, qr_top = int(image.width() * 0.70), int(image.height() * 0.41)
    for y in range(qr_top, qr_top + int(image.height() * 0.07)):
        for x in range(qr_left, qr_left + int(image.width() * 0.16)):
            bits[y * line + x] = 255 if (x // 7 + y // 5) % 2 else 0
    scan = decode_image(image, "sheet-1.png")
    assert scan.texts == ()
    assert scan.damaged == 1
    with pytest.raises(DamagedCode, match=r"sheet-1\.png: a QR code could not be read"):
        read_scans([scan])


def test_malformed_codes_are_refused_without_echoing_words(record) -> None:
    share = sheets_for(record, ["g0m0"])[0].share_code or ""
    for bad, reason in [
        ("hello", "not a Tessera sheet code"),
        ("TSR2:S:whatever", "unknown format version"),
        (share.replace("TSR1:S:", "TSR1:X:"), "unknown kind"),
        (share.rsplit(" ", 1)[0], "32 words instead of 33"),
        (share.rsplit(" ", 1)[0] + " QWERTY", "word 33 of the share code is not a SLIP-39 word"),
        (share.lower(), "not a Tessera sheet code"),
    ]:
        with pytest.raises(SheetCodeInvalid, match=reason) as caught:
            parse_code(bad)
        words = share.split(":")[-1].lower().split()
        assert not any(w in str(caught.value).lower().split() for w in words[:5])
    code = parse_code(share)
    assert isinstance(code, ShareCode) and "words=…" in repr(code)


def test_a_mistyped_word_on_a_scanned_share_is_named(record) -> None:
    """A share code whose words were altered (forged, or a typing slip) is caught by
    the record's commitment, naming the custodian, sheet and likely word."""
    sheet = sheets_for(record, ["g0m0"])[0]
    words = list(sheet.words or ())
    words[13] = "academic" if words[13] != "academic" else "acid"
    session = QuorumSession(record.sealed.manifest)
    with pytest.raises(ShareMismatch, match="Alice's share does not match this record — "
                                            "check word 14"):
        session.offer("cust-alice", " ".join(words), method="paper")
