"""Pages that catch up with a vault change when they are next shown.

A vault change refreshes the visible page at once; a hidden page only notes that it is
stale and re-reads the vault when it is shown, so one write does not make every page
of a large vault re-read everything on the GUI thread.
"""

from __future__ import annotations

from PySide6.QtGui import QShowEvent


class RefreshWhenShown:
    """Mixin for a QWidget page with a ``refresh()`` method."""

    _stale = False

    def vault_changed(self) -> None:
        if self.isVisible():  # type: ignore[attr-defined]
            self._stale = False
            self.refresh()  # type: ignore[attr-defined]
        else:
            self._stale = True

    def ensure_fresh(self) -> None:
        """Re-read now if a change arrived while hidden (what tests and callers that
        read a hidden page's rows use)."""
        if self._stale:
            self._stale = False
            self.refresh()  # type: ignore[attr-defined]

    def showEvent(self, event: QShowEvent) -> None:
        self.ensure_fresh()
        super().showEvent(event)  # type: ignore[misc]
