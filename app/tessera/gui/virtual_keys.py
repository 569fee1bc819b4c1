"""The demo's "virtual keys" panel: a Touch button per key, lit up while it waits.

A real key blinks when it wants a touch; a virtual key's :class:`TouchControl` says so
through ``on_waiting`` (called on the device's thread), which this panel turns into
a queued signal and a highlighted row. "Touch" presses the key; "Pull out" and
"Plug in" simulate removing it, so the status bar and the error for a removed key
can be tried without hardware.
"""

from __future__ import annotations

import contextlib

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QGridLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tessera.gui.theme import Tone, set_tone, themed, tone_color
from tessera.gui.typed_text import rich
from tessera.gui.widgets import muted
from tessera.tokens.virtual.devices import VirtualDevices, VirtualKey

AUTO_TOUCH_MODE = "delay:0.8"  # a person's touch, roughly


class KeyRow(QFrame):
    """One virtual key: name, state and its buttons."""

    plugged = Signal()  # the key was pulled out or plugged in
    touched = Signal()  # its Touch button was pressed

    def __init__(self, key: VirtualKey, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.setObjectName("virtual-key")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName(f"Virtual key {key.name}")
        grid = QGridLayout(self)
        grid.setContentsMargins(8, 6, 8, 6)
        self.name = QLabel(f"<b>{rich(key.name)}</b>")
        self.name.setTextFormat(Qt.TextFormat.RichText)
        self.kind = muted(key.kind.display_name)
        self.state = QLabel()
        self.state.setAccessibleName(f"{key.name} state")
        self.state.setWordWrap(True)  # "Blinking…" must not widen the panel and move Touch
        self.touch = QPushButton("Touch")
        themed(self.touch, "touch")
        self.touch.setAccessibleName(f"Touch {key.name}")
        self.touch.setToolTip(f"Touch {key.name}, as you would touch a real key when it blinks")
        self.touch.clicked.connect(key.touch.press)
        self.touch.clicked.connect(self.touched)
        self.plug = QPushButton()
        self.plug.setAccessibleName(f"Plug in or pull out {key.name}")
        self.plug.clicked.connect(self._toggle_plug)
        grid.addWidget(self.name, 0, 0)
        grid.addWidget(self.touch, 0, 1)
        grid.addWidget(self.kind, 1, 0)
        grid.addWidget(self.plug, 1, 1)
        grid.addWidget(self.state, 2, 0, 1, 2)
        grid.setColumnStretch(0, 1)
        self.show_waiting(key.touch.waiting.is_set())

    def _toggle_plug(self) -> None:
        if self.key.present:
            self.key.pull_out()
        else:
            self.key.plug_in()
        self.show_waiting(self.key.touch.waiting.is_set())
        self.plugged.emit()

    def show_waiting(self, waiting: bool) -> None:
        present = self.key.present
        self.plug.setText("Pull out" if present else "Plug in")
        self.touch.setEnabled(present)
        if waiting and present:
            color = tone_color(Tone.WARN)
            self.state.setText("● Blinking — waiting for your touch")
            set_tone(self.state, Tone.WARN, bold=True)
            self.setStyleSheet("QFrame#virtual-key { border: 2px solid "
                               f"{color.name() if color else 'orange'}; border-radius: 4px; }}")
            self.touch.setDefault(True)
        else:
            self.state.setText("Plugged in" if present else "Pulled out")
            set_tone(self.state, Tone.NORMAL)
            self.setStyleSheet("")
            self.touch.setDefault(False)


class VirtualKeysPanel(QWidget):
    """All virtual keys of a demo vault, plus the auto-touch switch."""

    waiting_changed = Signal(str, bool)  # key name, waiting — emitted from device threads
    plugged = Signal()  # a key was pulled out or plugged in
    touched = Signal()  # a Touch button was pressed

    def __init__(self, devices: VirtualDevices, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.devices = devices
        self.setAccessibleName("Virtual keys")
        self.rows: dict[str, KeyRow] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        intro = muted("Demo keys plugged into this computer. When a key blinks, press its "
                      "Touch button.")
        layout.addWidget(intro)
        self.auto = QCheckBox("Touch &automatically")
        self.auto.setToolTip("Virtual keys answer a touch request by themselves after a moment")
        self.auto.setChecked(devices.touch_mode.startswith("delay"))
        self.auto.toggled.connect(self._auto_toggled)
        layout.addWidget(self.auto)
        self._list = QVBoxLayout()
        self._list.setSpacing(6)
        layout.addLayout(self._list)
        layout.addStretch(1)
        self.waiting_changed.connect(self._show_waiting, Qt.ConnectionType.QueuedConnection)
        self.refresh()

    def _auto_toggled(self, on: bool) -> None:
        self.devices.set_touch_mode(AUTO_TOUCH_MODE if on else "manual")

    def refresh(self) -> None:
        """Add rows for keys plugged in since the last look (an enrolment adds keys)."""
        for key in self.devices.keys:
            if key.name in self.rows:
                continue
            row = KeyRow(key)
            row.plugged.connect(self.plugged)
            row.touched.connect(self.touched)
            self.rows[key.name] = row
            self._list.addWidget(row)
            key.touch.on_waiting = lambda waiting, name=key.name: self._relay(name, waiting)

    def _relay(self, name: str, waiting: bool) -> None:
        with contextlib.suppress(RuntimeError):  # the panel is gone; the device carries on
            self.waiting_changed.emit(name, waiting)

    def _show_waiting(self, name: str, waiting: bool) -> None:
        row = self.rows.get(name)
        if row is not None:
            row.show_waiting(waiting)

    def detach(self) -> None:
        """Stop listening to the keys (before the panel is destroyed)."""
        for key in self.devices.keys:
            key.touch.on_waiting = None
