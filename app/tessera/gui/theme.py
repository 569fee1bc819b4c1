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
from PySide6.QtWidgets import QApplication

from tessera.core.resources import resource_dir

ICON_SIZES = (16, 20, 24, 32, 48)
ICON_PROPERTY = "tesseraIcon"  # dynamic property naming a widget's or action's themed icon


class Theme(enum.StrEnum):
    SYSTEM = "system"
    LIGHT = "light"
    DARK = "dark"


def icon_path(name: str) -> Path:
    return resource_dir() / "icons" / f"{name}.svg"


def _render(svg: bytes, size: int, ratio: float) -> QPixmap:
    renderer = QSvgRenderer(QByteArray(svg))
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
        svg = source.replace(b"currentColor", tint.encode("ascii"))
        for size in ICON_SIZES:
            result.addPixmap(_render(svg, size, ratio), mode)
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


def app_icon() -> QIcon:
    """The application icon (full colour, not tinted)."""
    result = QIcon()
    svg = icon_path("tessera").read_bytes()
    for size in (16, 32, 48, 64, 128, 256):
        result.addPixmap(_render(svg, size, 1.0))
    return result


def _palette(dark: bool) -> QPalette:
    if dark:
        window, base, alt, text = "#202328", "#16181c", "#262a30", "#e6e8eb"
        button, highlight, link, muted = "#2b2f36", "#3d7bd9", "#8ab4f8", "#8b929c"
    else:
        window, base, alt, text = "#f4f5f7", "#ffffff", "#f0f2f5", "#1d2026"
        button, highlight, link, muted = "#e9ebef", "#2f6fd0", "#1f5fbf", "#6b7280"
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


def is_dark() -> bool:
    return QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def icon_size() -> QSize:
    return QSize(20, 20)
