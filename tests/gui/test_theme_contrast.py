"""Every text reads at WCAG AA (4.5:1) in both themes, also after a switch at run time.

The contrast is computed from the colours actually in use: the palettes, the tones,
and — for the switch — the colour each visible label ends up painted with (its
style sheet's ``color:`` if it has one, else its palette's foreground role) against
the background it is painted on.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from tessera.gui.theme import PALETTES, TONES, Theme, apply_theme, contrast_ratio

AA = 4.5
BACKGROUNDS = ("window", "base", "alt", "button")


def test_contrast_ratio_matches_the_wcag_examples() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)
    # The pair the issue measured: grey secondary text left on the dark window.
    assert contrast_ratio("#6b7280", "#202328") == pytest.approx(3.26, abs=0.01)


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_palette_and_tone_colours_reach_aa_on_every_background(dark: bool) -> None:
    colours = PALETTES[dark]
    texts = {"text": colours["text"], "muted": colours["muted"], "link": colours["link"],
             **{f"tone {name}": value for name, value in TONES[dark].items()}}
    low = [(name, bg, round(contrast_ratio(fg, colours[bg]), 2))
           for name, fg in texts.items() for bg in BACKGROUNDS
           if contrast_ratio(fg, colours[bg]) < AA]
    assert not low, f"text below 4.5:1: {low}"
    assert contrast_ratio("#ffffff", colours["highlight"]) >= AA  # selected rows


_COLOR = re.compile(r"(?<![-\w])color:\s*(#[0-9a-fA-F]{6})")
_BACKGROUND = re.compile(r"background(?:-color)?:\s*(#[0-9a-fA-F]{6})")


def painted_colours(label: QLabel) -> tuple[QColor, QColor]:
    """(text, background) a label is painted with, style sheet first, then palette."""
    sheet = label.styleSheet()
    fg_match, bg_match = _COLOR.search(sheet), _BACKGROUND.search(sheet)
    fg = QColor(fg_match.group(1)) if fg_match else label.palette().color(label.foregroundRole())
    background: QColor | None = QColor(bg_match.group(1)) if bg_match else None
    widget: QWidget | None = label
    while background is None and widget is not None:
        match = _BACKGROUND.search(widget.styleSheet())
        if match:
            background = QColor(match.group(1))
        widget = widget.parentWidget()
    if background is None:
        background = label.palette().color(QPalette.ColorRole.Window)
    return fg, background


def low_contrast_labels(top: QWidget) -> list[str]:
    low = []
    for label in top.findChildren(QLabel):
        if not label.isVisible() or not label.text().strip():
            continue
        fg, bg = painted_colours(label)
        ratio = contrast_ratio(fg, bg)
        if ratio < AA:
            low.append(f"{label.text()[:40]!r}: {fg.name()} on {bg.name()} = {ratio:.2f}")
    return low


@pytest.fixture
def restore_theme() -> Iterator[None]:
    yield
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    apply_theme(app, Theme.LIGHT)


@pytest.mark.parametrize(("start", "switch"), [(Theme.LIGHT, Theme.DARK),
                                               (Theme.DARK, Theme.LIGHT)],
                         ids=["light-to-dark", "dark-to-light"])
def test_switching_theme_at_run_time_keeps_every_label_readable(
        window, context, qtbot, restore_theme, start, switch) -> None:
    window.set_theme(start)
    # Labels coloured by state: a verified chain, a key blinking for a touch.
    qtbot.mouseClick(window.audit.verify_button, Qt.MouseButton.LeftButton)
    key = context.virtual.keys[0]
    key.touch.set_mode("manual")
    waiter = threading.Thread(target=lambda: key.touch.wait(10))
    waiter.start()
    row = window.keys_panel.rows[key.name]
    try:
        qtbot.waitUntil(lambda: "waiting for your touch" in row.state.text())
        assert low_contrast_labels(window) == []
        window.set_theme(switch)
        qtbot.wait(10)
        for page in range(window.stack.count()):
            window.show_page(page)
            assert low_contrast_labels(window) == [], f"page {page}"
        assert low_contrast_labels(window) == []
    finally:
        row.touch.click()
        waiter.join(5)
