"""Reading a custodian's words from a scan of their sheet (the share QR code).

The scan is decoded off the GUI thread; here we pick, from the codes found, the one
share code that belongs to this record version and to this custodian, and explain
in a custodian's words when the image holds something else.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from tessera.core.errors import InputError
from tessera.core.manifest import Manifest
from tessera.core.wording import share_label
from tessera.sheets.collect import describe_set
from tessera.sheets.qr_format import SetId, ShareCode, parse_code
from tessera.sheets.scan import PageScan

IMAGE_FILTER = "Sheet scans (*.png *.jpg *.jpeg *.tif *.tiff *.bmp *.pdf);;All files (*)"


def ask_scan_path(parent: QWidget) -> Path | None:
    """Ask for the image or PDF of a sheet (tests replace this seam)."""
    path, _filter = QFileDialog.getOpenFileName(parent, "Scan sheet image", "", IMAGE_FILTER)
    return Path(path) if path else None


def share_words(scans: Iterable[PageScan], manifest: Manifest, custodian: str,
                share_keys: Sequence[str]) -> tuple[str, ...]:
    """The words of ``custodian``'s share found in ``scans``; InputError otherwise."""
    expected = SetId(manifest.record_id, manifest.version, manifest.epoch)
    codes: list[ShareCode] = []
    damaged = 0
    for scan in scans:
        damaged += scan.damaged
        for text in scan.texts:
            try:
                code = parse_code(text, scan.source)
            except InputError:
                continue  # some other QR code on the page
            if isinstance(code, ShareCode):
                codes.append(code)
    mine = [c for c in codes if c.set_id == expected and c.share_key in share_keys]
    if mine:
        return mine[0].words
    if codes:
        other = codes[0]
        if other.set_id != expected:
            raise InputError(f"This sheet belongs to {describe_set(other.set_id, expected)}, "
                             f"not to the record being released")
        owner = next((e.custodian for e in manifest.shares if e.key == other.share_key), None)
        raise InputError(f"This is {owner or 'another custodian'}'s sheet "
                         f"({share_label(other.share_key)}), not {custodian}'s")
    if damaged:
        raise InputError("A QR code was found but could not be read (torn, stained or "
                         "blurred); type the words instead, or scan again more sharply")
    raise InputError("No share QR code was found in the image; scan the page with the "
                     "words, or type them")
