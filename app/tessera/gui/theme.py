"""Light and dark palettes, and the SVG icons tinted to match them.

Icons are the line drawings in ``resources/icons/`` drawn with ``currentColor``; each
is rendered in the palette's text colour, so one file reads well on both palettes.
The chosen theme (system, light or dark) is a UI preference kept in ``QSettings``.
"""

from __future__ import annotations

import enum
from functools import cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QObject, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication, QWidget

from tessera.core.resources import resource_dir

ICON_SIZES = (16, 20, 24, 32, 48)
ICON_PROPERTY = "tesseraIcon"  # dynamic property naming a widget's or action's themed icon


class Theme(enum.StrEnum):
    SYSTEM = "system"
    LIGHT = "light"
    DARK = "dark"


def icon_path(name: str) -> Path:
    return resource_dir() / "icons" / f"{name}.svg"


def _render(renderer: QSvgRenderer, size: int, ratio: float) -> QPixmap:
    pixmap = QPixmap(int(size * ratio), int(size * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return pixmap


@cache
def _tinted_icon(name: str, color: str, disabled: str, ratio: float) -> QIcon:
    source = icon_path(name).read_bytes()
    result = QIcon()
    for mode, tint in ((QIcon.Mode.Normal, color), (QIcon.Mode.Disabled, disabled)):
        # One parse of the tinted drawing for every size (the window's start draws 11).
        renderer = QSvgRenderer(QByteArray(source.replace(b"currentColor",
                                                          tint.encode("ascii"))))
        for size in ICON_SIZES:
            result.addPixmap(_render(renderer, size, ratio), mode)
    return result


def icon(name: str) -> QIcon:
    """The named icon in the current palette's text colour (cached per colour)."""
    palette = QApplication.palette()
    color = palette.color(QPalette.ColorRole.WindowText).name()
    disabled = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText).name()
    app = QGuiApplication.instance()
    ratio = app.devicePixelRatio() if isinstance(app, QGuiApplication) else 1.0
    return _tinted_icon(name, color, disabled, max(1.0, ratio))


def themed(target: QObject, name: str) -> None:
    """Give a button or action the named icon, and re-tint it when the theme changes."""
    target.setProperty(ICON_PROPERTY, name)
    target.setIcon(icon(name))  # type: ignore[attr-defined]


def retint_all() -> None:
    """Re-apply every themed icon in every open window (after a palette change)."""
    for top in QApplication.topLevelWidgets():
        for obj in (top, *top.findChildren(QObject)):
            name = obj.property(ICON_PROPERTY)
            if isinstance(name, str) and name and hasattr(obj, "setIcon"):
                obj.setIcon(icon(name))


@cache
def app_icon() -> QIcon:
    """The application icon (full colour, not tinted; rendered once)."""
    result = QIcon()
    renderer = QSvgRenderer(QByteArray(icon_path("tessera").read_bytes()))
    for size in (16, 32, 48, 64, 128, 256):
        result.addPixmap(_render(renderer, size, 1.0))
    return result


# The two palettes' main colours. Every text colour below reads at WCAG AA (4.5:1) on
# every background it is drawn on; tests/gui/test_theme_contrast.py computes it.
PALETTES = {
    False: {"window": "#f4f5f7", "base": "#ffffff", "alt": "#f0f2f5", "text": "#1d2026",
            "button": "#e9ebef", "highlight": "#2f6fd0", "link": "#1f5fbf", "muted": "#5f6672"},
    True: {"window": "#202328", "base": "#16181c", "alt": "#262a30", "text": "#e6e8eb",
           "button": "#2b2f36", "highlight": "#2f6ccc", "link": "#8ab4f8", "muted": "#a3aab4"},
}


class Tone:
    """How a text asks to be coloured (resolved against the current palette)."""

    NORMAL = ""
    WARN = "warn"
    BAD = "bad"
    GOOD = "good"
    ACCENT = "accent"  # a key operation under way: "touch your key", "checking…"
    MUTED = "muted"


TONES = {
    False: {Tone.WARN: "#8a5100", Tone.BAD: "#b3261e", Tone.GOOD: "#1e7a34",
            Tone.ACCENT: "#0b57d0"},
    True: {Tone.WARN: "#f0b35a", Tone.BAD: "#ff8a80", Tone.GOOD: "#7bd88f",
           Tone.ACCENT: "#8ab4f8"},
}
TONE_PROPERTY = "tesseraTone"  # dynamic property: "tone" or "tone bold"


def relative_luminance(color: QColor) -> float:
    """WCAG 2.x relative luminance of an sRGB colour."""
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4
    return (0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF())
            + 0.0722 * channel(color.blueF()))


def contrast_ratio(foreground: QColor | str, background: QColor | str) -> float:
    """WCAG contrast ratio (1 to 21) of two colours; AA asks 4.5 for body text."""
    lighter, darker = sorted((relative_luminance(QColor(foreground)),
                              relative_luminance(QColor(background))), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def tone_color(tone: str) -> QColor | None:
    """The text colour for ``tone`` that reads well on the current palette."""
    if not tone:
        return None
    palette = QApplication.palette()
    if tone == Tone.MUTED:
        return palette.color(QPalette.ColorRole.PlaceholderText)
    return QColor(TONES[is_dark()][tone])


def _tone_style(tone: str, bold: bool) -> str:
    color = tone_color(tone)
    return (f"color: {color.name()};" if color else "") + (" font-weight: bold;" if bold else "")


def set_tone(label: QWidget, tone: str, bold: bool = False) -> None:
    """Colour a label's text by tone; :func:`apply_theme` re-colours it on a theme switch."""
    label.setProperty(TONE_PROPERTY, f"{tone} bold" if bold else tone)
    label.setStyleSheet(_tone_style(tone, bold))


def retone_all() -> None:
    """Re-colour every toned label in every open window (after a palette change)."""
    for top in QApplication.topLevelWidgets():
        for widget in (top, *top.findChildren(QWidget)):
            value = widget.property(TONE_PROPERTY)
            if isinstance(value, str) and value:
                tone, _, bold = value.partition(" ")
                widget.setStyleSheet(_tone_style(tone, bool(bold)))


def _palette(dark: bool) -> QPalette:
    c = PALETTES[dark]
    window, base, alt, text = c["window"], c["base"], c["alt"], c["text"]
    button, highlight, link, muted = c["button"], c["highlight"], c["link"], c["muted"]
    p = QPalette()
    roles = QPalette.ColorRole
    for role, value in ((roles.Window, window), (roles.Base, base), (roles.AlternateBase, alt),
                        (roles.WindowText, text), (roles.Text, text), (roles.ButtonText, text),
                        (roles.Button, button), (roles.Highlight, highlight),
                        (roles.HighlightedText, "#ffffff"), (roles.Link, link),
                        (roles.PlaceholderText, muted), (roles.ToolTipBase, base),
                        (roles.ToolTipText, text), (roles.BrightText, "#ff5555"),
                        (roles.Mid, "#5a606a" if dark else "#c4c8cf"),
                        (roles.Dark, "#101215" if dark else "#a0a6b0"),
                        (roles.Light, "#3a3f47" if dark else "#ffffff"),
                        (roles.Midlight, "#30353c" if dark else "#e2e5ea"),
                        (roles.Shadow, "#000000" if dark else "#7a808a")):
        p.setColor(role, QColor(value))
    disabled = QColor(muted)
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return p


def system_prefers_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return bool(hints.colorScheme() == Qt.ColorScheme.Dark)


def apply_theme(app: QApplication, theme: Theme) -> None:
    """Fusion style with our palette: both themes are designed, not left to chance."""
    app.setStyle("Fusion")
    dark = theme is Theme.DARK or (theme is Theme.SYSTEM and system_prefers_dark())
    app.setPalette(_palette(dark))
    _tinted_icon.cache_clear()
    retint_all()
    retone_all()


def is_dark() -> bool:
    return QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def icon_size() -> QSize:
    return QSize(20, 20)
