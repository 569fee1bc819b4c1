"""The main window: sidebar pages, menus, toolbar, status bar and the demo's extras.

Layout: a DEMO banner on top (demo vaults only), the sidebar (Records, Custodians,
Tokens, Audit) beside the current page, the virtual-keys panel docked on the right
in demo mode, and a status bar saying which vault is open, whether a key operation
is running and which keys are plugged in. Window geometry, the splitter, the current
page and the theme are kept in ``QSettings``: UI preferences only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import shiboken6
from PySide6.QtCore import QByteArray, QRect, QSettings, QSize, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QGuiApplication,
    QKeySequence,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QSizePolicy,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from tessera import __version__
from tessera.custody.demo_facts import DEMO_PIN
from tessera.gui.audit_page import AuditPage
from tessera.gui.context import AppContext
from tessera.gui.device_poller import DevicePoller, describe_devices
from tessera.gui.errors import show_error
from tessera.gui.pages import CustodiansPage, RecordsPage, TokensPage
from tessera.gui.review_page import ReviewPage
from tessera.gui.theme import ICON_PROPERTY, Theme, app_icon, apply_theme, icon, retint_all
from tessera.vault import ReleaseState

if TYPE_CHECKING:
    from tessera.custody.enroll import ConnectedDevice
    from tessera.gui.virtual_keys import VirtualKeysPanel

PAGES = ("Records", "Custodians", "Tokens", "Audit", "Review")
# The View menu's access keys, one letter each: "Review" and "Theme" must not share
# R and T with "Records" and "Tokens" (one key press would open neither reliably).
PAGE_MENU_TEXT = ("&Records", "&Custodians", "&Tokens", "&Audit", "R&eview")
PAGE_ICONS = ("records", "custodians", "tokens", "audit", "verify")
DEMO_TEXT = ("DEMO VAULT — invented custodians on virtual keys; nothing here protects a real "
             f"secret. The demo keys' PIN is {DEMO_PIN}.")


# Wide enough for the records table's Label … State columns beside the detail pane and
# the demo's virtual-keys panel — on a screen that has room for it; smaller screens get
# the window fitted to what they have (see :func:`fit_to_screen`).
DEFAULT_SIZE = (1400, 820)
SCREEN_MARGIN = 0.94  # leave the window manager's frame and a taskbar room

FALLBACK_SHORTCUTS = {
    QKeySequence.StandardKey.New: "Ctrl+N",
    QKeySequence.StandardKey.Refresh: "F5",
    QKeySequence.StandardKey.Quit: "Ctrl+Q",
}


def available_room(window: QWidget) -> QRect | None:
    """The part of the window's screen not taken by panels and taskbars."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else None


def fit_to_screen(window: QWidget, wanted: tuple[int, int] = DEFAULT_SIZE) -> None:
    """Size ``window`` to ``wanted`` or, on a smaller screen, to the room the screen has,
    and keep it (frame included) inside the screen's available area."""
    room = available_room(window)
    if room is None:
        window.resize(*wanted)
        return
    width = min(wanted[0], int(room.width() * SCREEN_MARGIN))
    height = min(wanted[1], int(room.height() * SCREEN_MARGIN))
    window.resize(max(width, window.minimumWidth()), max(height, window.minimumHeight()))
    frame = window.frameGeometry()
    frame.moveCenter(room.center())
    window.move(max(room.left(), frame.left()), max(room.top(), frame.top()))


def keep_on_screen(window: QWidget) -> None:
    """A restored geometry from a bigger screen (a docked laptop) is fitted to this one."""
    room = available_room(window)
    if room is None:
        return
    frame = window.frameGeometry()
    if room.contains(frame):
        return
    fit_to_screen(window, (min(window.width(), room.width()),
                           min(window.height(), room.height())))


class DemoBanner(QLabel):
    """Always visible in a demo vault; high-contrast amber in either theme."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(DEMO_TEXT, parent)
        self.setObjectName("demo-banner")
        self.setAccessibleName("Demo vault banner")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # A narrow screen clips the line rather than widening the window past the screen
        # (word wrap inside a toolbar would reserve two lines' height on every screen).
        self.setMinimumWidth(1)
        self.setStyleSheet("QLabel#demo-banner { background: #f5b82e; color: #1d1600; "
                           "font-weight: bold; padding: 6px; }")


class MainWindow(QMainWindow):
    """One open vault."""

    def __init__(self, context: AppContext, *, settings: QSettings | None = None,
                 poll_devices: bool = True) -> None:
        super().__init__()
        self.context = context
        self.settings = settings if settings is not None else QSettings()
        self.setWindowTitle(self._title())
        self.setWindowIcon(app_icon())
        self.setAccessibleName("Tessera")
        self.actions_: dict[str, QAction] = {}
        self.open_windows: list[QWidget] = []

        self.records = RecordsPage(context)
        self.records.release_requested.connect(self.open_release)
        self.records.drill_requested.connect(self.open_drill)
        self.records.lifecycle_requested.connect(self.open_lifecycle)
        # The other pages are built when first shown (or first asked for): a large vault
        # opens without reading its whole log, every token and the access review.
        self._built: dict[int, QWidget] = {0: self.records}
        self.stack = QStackedWidget()
        self.stack.addWidget(self.records)
        for _name in PAGES[1:]:
            self.stack.addWidget(QWidget())
        self.sidebar = QListWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setAccessibleName("Sections")
        self.sidebar.setIconSize(QSize(20, 20))
        self.sidebar.setFixedWidth(168)
        self.sidebar.setSpacing(2)
        self.sidebar.setFrameShape(QListWidget.Shape.NoFrame)
        for name in PAGES:
            item = QListWidgetItem(name)
            item.setSizeHint(QSize(150, 36))
            self.sidebar.addItem(item)
        self.sidebar.currentRowChanged.connect(self._switch_to)

        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.sidebar)
        row.addWidget(self.stack, 1)
        outer.addLayout(row, 1)
        self.setCentralWidget(central)

        self.keys_panel: VirtualKeysPanel | None = None
        self.keys_dock: QDockWidget | None = None
        if context.virtual is not None:
            from tessera.gui.virtual_keys import VirtualKeysPanel  # demo vaults only

            self.keys_panel = VirtualKeysPanel(context.virtual)
            self.keys_dock = QDockWidget("Virtual keys", self)
            self.keys_dock.setObjectName("virtual-keys-dock")
            self.keys_dock.setAccessibleName("Virtual keys panel")
            self.keys_dock.setWidget(self.keys_panel)
            self.keys_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                                       | QDockWidget.DockWidgetFeature.DockWidgetClosable)
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.keys_dock)
            context.vault_changed.connect(self.keys_panel.refresh)
            context.virtual_key_added.connect(self.keys_panel.refresh,
                                              Qt.ConnectionType.QueuedConnection)
            self.keys_panel.plugged.connect(self._poll_soon)
            # Pressing Touch activates this window; the ceremony that asked for the touch
            # comes back to the front (whatever the window manager did on the click).
            self.keys_panel.touched.connect(self.raise_ceremonies)

        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self.banner: DemoBanner | None = None
        if context.demo:
            self.banner = DemoBanner()
            self.banner.setSizePolicy(QSizePolicy.Policy.Expanding,
                                      QSizePolicy.Policy.Preferred)
            strip = QToolBar("Demo banner")
            strip.setObjectName("demo-banner-bar")
            strip.setMovable(False)
            strip.setFloatable(False)
            strip.toggleViewAction().setEnabled(False)  # always visible
            strip.setContextMenuPolicy(Qt.ContextMenuPolicy.PreventContextMenu)
            strip.setStyleSheet("QToolBar { padding: 0; border: 0; spacing: 0; }")
            strip.addWidget(self.banner)
            self.addToolBarBreak()
            self.addToolBar(strip)
        self._build_status_bar()
        self._retint()
        self.poller = DevicePoller(context.drivers, busy=lambda: context.worker.busy,
                                   lock=context.worker.device_lock, parent=self)
        self.poller.devices_changed.connect(self.show_devices)
        context.vault_changed.connect(self.poller.poll_now)
        if poll_devices:
            self.poller.start()
        self.restore_state()
        self.sidebar.setFocus()

    # -- building --------------------------------------------------------------------
    def _title(self) -> str:
        # Qt adds " — Tessera" (the application display name) in the title bar.
        name = self.context.vault_path.name
        return name + (" (demo)" if self.context.demo else "")

    def _action(self, key: str, text: str, slot: Callable[[], object], *,
                shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None, icon_name: str | None = None,
                tip: str = "") -> QAction:
        action = QAction(text, self)
        action.setObjectName(key)
        if isinstance(shortcut, QKeySequence.StandardKey):
            action.setShortcuts(shortcut)
            if not action.shortcuts():  # the platform has no standard binding for it
                action.setShortcut(QKeySequence(FALLBACK_SHORTCUTS[shortcut]))
        elif shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        if icon_name:
            action.setProperty(ICON_PROPERTY, icon_name)
        action.triggered.connect(lambda _checked=False: slot())
        self.actions_[key] = action
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        a = self._action
        a("enrol", "&Enrol custodian…", self.enrol_custodian, shortcut="Ctrl+Shift+E",
          icon_name="enrol", tip="Add a custodian and enrol their key")
        a("add-token", "Add &token…", self.add_token, shortcut="Ctrl+T", icon_name="tokens",
          tip="Enrol another key for an existing custodian")
        a("rewrap", "Re-&wrap my share…", lambda: self.open_rewrap(None, None),
          icon_name="tokens", tip="Move your share to a new key, with your old key or sheet")
        a("new-record", "&New record…", self.new_record, shortcut=QKeySequence.StandardKey.New,
          icon_name="new-record", tip="Split a new recovery secret among custodians")
        a("release", "&Release…", self.release_selected, shortcut="Ctrl+R",
          icon_name="release", tip="Start a quorum release of the selected record")
        a("drill", "&Drill…", self.drill_selected, shortcut="Ctrl+D", icon_name="drill",
          tip="A custodian proves their key still opens their share")
        a("verify", "&Verify audit chain", self.verify_audit, shortcut="Ctrl+Shift+V",
          icon_name="verify", tip="Recompute the audit log's hash chain")
        a("vault-policy", "Vault &policy…", self.vault_policy,
          tip="Minimum threshold, key kinds, drill and rotation periods, reveal time")
        a("organisation", "&Organisation on sheets…", self.edit_organisation,
          tip="Name, contact and instructions URL printed on every recovery sheet")
        a("export-audit", "E&xport audit log…", self.export_audit, icon_name="export",
          tip="Save the audit log to a file")
        a("refresh", "Re&fresh", self.context.notify_changed,
          shortcut=QKeySequence.StandardKey.Refresh, icon_name="refresh",
          tip="Read the vault again")
        a("quit", "&Quit", self.close, shortcut=QKeySequence.StandardKey.Quit)
        a("about", "&About Tessera", self.about)
        for i, name in enumerate(PAGES):
            a(f"page-{name.lower()}", PAGE_MENU_TEXT[i], functools.partial(self.show_page, i),
              shortcut=f"Ctrl+{i + 1}", icon_name=PAGE_ICONS[i])
        self.theme_group = QActionGroup(self)
        for theme in Theme:
            action = a(f"theme-{theme.value}", f"{theme.value.capitalize()} theme",
                       functools.partial(self.set_theme, theme))
            action.setCheckable(True)
            self.theme_group.addAction(action)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        act = self.actions_
        file = bar.addMenu("&File")
        file.addAction(act["export-audit"])
        file.addSeparator()
        file.addAction(act["quit"])
        people = bar.addMenu("&Custodians")
        people.addAction(act["enrol"])
        people.addAction(act["add-token"])
        people.addAction(act["rewrap"])
        records = bar.addMenu("&Records")
        for key in ("new-record", "release", "drill"):
            records.addAction(act[key])
        audit = bar.addMenu("&Audit")
        audit.addAction(act["verify"])
        audit.addAction(act["export-audit"])
        audit.addSeparator()
        audit.addAction(act["vault-policy"])
        audit.addAction(act["organisation"])
        view = bar.addMenu("&View")
        for name in PAGES:
            view.addAction(act[f"page-{name.lower()}"])
        view.addSeparator()
        view.addAction(act["refresh"])
        themes = view.addMenu("T&heme")
        for theme in Theme:
            themes.addAction(act[f"theme-{theme.value}"])
        if self.keys_dock is not None:
            view.addSeparator()
            toggle = self.keys_dock.toggleViewAction()
            toggle.setText("&Virtual keys panel")
            toggle.setShortcut(QKeySequence("Ctrl+K"))
            view.addAction(toggle)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(act["about"])

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Main toolbar")
        toolbar.setObjectName("main-toolbar")
        toolbar.setAccessibleName("Main toolbar")
        toolbar.setIconSize(QSize(20, 20))
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.setMovable(False)
        for key in ("enrol", "new-record", "release", "drill"):
            toolbar.addAction(self.actions_[key])
        toolbar.addSeparator()
        toolbar.addAction(self.actions_["refresh"])
        self.addToolBar(toolbar)
        self.toolbar = toolbar

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.vault_label = QLabel(f"Vault: {self.context.vault_path}")
        self.vault_label.setAccessibleName("Open vault")
        self.busy_label = QLabel("")
        self.busy_label.setAccessibleName("Key operation")
        self.devices_label = QLabel("Looking for keys…")
        self.devices_label.setAccessibleName("Connected keys")
        status.addWidget(self.vault_label, 1)
        status.addPermanentWidget(self.busy_label)
        status.addPermanentWidget(self.devices_label)
        # Who signs this session's changes, and the vault's genesis (#9): gui/operator.py.
        from tessera.gui.operator import OperatorControl, OperatorSession

        self._shown = False
        self.operator = OperatorSession(self.context, self)
        self.operator.choose_default()
        self.operator_control = OperatorControl(self.context, self.operator)
        status.addPermanentWidget(self.operator_control)
        self.context.worker.busy_changed.connect(self._show_busy)
        self.context.worker.job_started.connect(self._show_job)

    def _retint(self) -> None:
        """Give every action and sidebar entry its icon in the current palette."""
        retint_all()
        for i, name in enumerate(PAGE_ICONS):
            item = self.sidebar.item(i)
            if item is not None:
                item.setIcon(icon(name))

    # -- state -------------------------------------------------------------------------
    def restore_state(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty() \
                and self.restoreGeometry(geometry):
            keep_on_screen(self)
        else:
            fit_to_screen(self)
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        splitter = self.settings.value("records/splitter")
        if isinstance(splitter, QByteArray) and not splitter.isEmpty():
            self.records.splitter.restoreState(splitter)
        page = self.settings.value("window/page", 0)
        try:
            index = int(page)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            index = 0
        self.show_page(index if 0 <= index < len(PAGES) else 0)
        theme = str(self.settings.value("ui/theme", Theme.SYSTEM.value))
        chosen = Theme(theme) if theme in {t.value for t in Theme} else Theme.SYSTEM
        self.actions_[f"theme-{chosen.value}"].setChecked(True)

    def save_state(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("records/splitter", self.records.splitter.saveState())
        self.settings.setValue("window/page", self.stack.currentIndex())
        self.settings.sync()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._shown:
            # Once the window is up, not before: a real signed vault asks who operates
            # (or only looks), and start-up does not wait for the answer.
            self._shown = True
            QTimer.singleShot(0, self.operator_control, self.operator_control.offer)

    def closeEvent(self, event: QCloseEvent) -> None:
        for window in self._live_windows():
            if window.isVisible() and not window.close():
                event.ignore()
                return
        self.save_state()
        self.poller.stop()
        if self.keys_panel is not None:
            self.keys_panel.detach()
        super().closeEvent(event)

    # -- pages, built on first use ------------------------------------------------------
    def _page(self, index: int) -> QWidget:
        page = self._built.get(index)
        if page is not None:
            return page
        context = self.context
        if index == 1:
            custodians = CustodiansPage(context)
            custodians.add_token_requested.connect(self.add_token_for)
            page = custodians
        elif index == 2:
            tokens = TokensPage(context)
            tokens.rewrap_requested.connect(lambda cid: self.open_rewrap(None, cid))
            page = tokens
        elif index == 3:
            page = AuditPage(context)
        else:
            page = ReviewPage(context)
        current = self.stack.currentIndex()
        placeholder = self.stack.widget(index)
        self.stack.insertWidget(index, page)
        if placeholder is not None:
            self.stack.removeWidget(placeholder)
            placeholder.deleteLater()
        self.stack.setCurrentIndex(current)
        self._built[index] = page
        return page

    @property
    def custodians(self) -> CustodiansPage:
        return cast(CustodiansPage, self._page(1))

    @property
    def tokens(self) -> TokensPage:
        return cast(TokensPage, self._page(2))

    @property
    def audit(self) -> AuditPage:
        return cast(AuditPage, self._page(3))

    @property
    def review(self) -> ReviewPage:
        return cast(ReviewPage, self._page(4))

    def _switch_to(self, index: int) -> None:
        if index < 0:
            return
        self._page(index)
        self.stack.setCurrentIndex(index)

    # -- navigation --------------------------------------------------------------------
    def show_page(self, index: int) -> None:
        self.sidebar.setCurrentRow(index)
        self._switch_to(index)

    def set_theme(self, theme: Theme) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, theme)
        self.settings.setValue("ui/theme", theme.value)
        self._retint()
        self.context.notify_changed()

    def _poll_soon(self) -> None:
        self.poller.poll_now()

    # -- status ------------------------------------------------------------------------
    def show_devices(self, devices: list[ConnectedDevice]) -> None:
        self.devices_label.setText(describe_devices(devices))
        self.devices_label.setToolTip("\n".join(
            f"{d.label} ({d.kind.display_name}{', virtual' if d.virtual else ''})"
            for d in devices) or "Plug in a FIDO2 key or a YubiKey")

    def _show_busy(self, busy: bool) -> None:
        self.busy_label.setText("Waiting for a key…" if busy else "")

    def _show_job(self, job: object) -> None:
        title = getattr(job, "title", "") or "Key operation"
        self.busy_label.setText(f"{title}…")

    # -- commands ------------------------------------------------------------------------
    def _selected_record(self) -> str | None:
        row = self.records.selected_row()
        if row is None:
            self.show_page(0)
            QMessageBox.information(self, "Choose a record",
                                    "Select a record in the Records list first.")
            return None
        return str(row.record.id)

    def _live_windows(self) -> list[QWidget]:
        """Wizards and release windows still open (closed ones delete themselves)."""
        self.open_windows = [w for w in self.open_windows
                             if shiboken6.isValid(w) and w.isVisible()]
        return list(self.open_windows)

    def _keep(self, window: QWidget) -> None:
        self._live_windows()
        self.open_windows.append(window)
        self.place(window)
        window.show()
        window.raise_()
        window.activateWindow()

    def place(self, window: QWidget) -> None:
        """Put a ceremony window over this one, clear of the virtual keys' Touch buttons.

        The window is a child of the main window (transient for it), so the window
        manager keeps it in front when a Touch button is pressed; it opens over the
        records, not at the screen's corner and not on top of the keys panel.
        """
        room = available_room(self)
        area = self.frameGeometry()
        if self.keys_dock is not None and self.keys_dock.isVisible() \
                and not self.keys_dock.isFloating():
            dock_left = self.keys_dock.mapToGlobal(self.keys_dock.rect().topLeft()).x()
            area.setRight(dock_left - 1)
        if room is not None:
            area = area.intersected(room) if area.intersects(room) else QRect(room)
        hint = window.sizeHint().expandedTo(window.minimumSize()).expandedTo(window.size())
        width = min(hint.width(), max(area.width() - 16, window.minimumWidth()))
        height = min(hint.height(), max(area.height() - 16, window.minimumHeight()))
        if room is not None:
            width, height = min(width, room.width()), min(height, room.height())
        window.resize(width, height)
        x = area.left() + max(0, (area.width() - width) // 2)
        y = area.top() + max(0, (area.height() - height) // 2)
        if room is not None:
            x = max(room.left(), min(x, room.right() - width))
            y = max(room.top(), min(y, room.bottom() - height))
        window.move(x, y)

    def raise_ceremonies(self) -> None:
        """Bring the open ceremony windows back in front of this one, and the keyboard
        back to the newest (the one whose key was just touched, as a rule)."""
        windows = self._live_windows()
        for window in windows:
            window.raise_()
        if windows:
            windows[-1].activateWindow()

    def release_selected(self) -> None:
        record_id = self._selected_record()
        if record_id is not None:
            self.open_release(record_id)

    def drill_selected(self) -> None:
        record_id = self._selected_record()
        if record_id is not None:
            self.open_drill(record_id)

    def open_release(self, record_id: str) -> None:
        from tessera.gui.release_window import ReleaseWindow

        try:
            window = ReleaseWindow(self.context, record_id, self)
        except Exception as exc:
            show_error(self, exc)
            return
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._keep(window)

    def open_drill(self, record_id: str) -> None:
        from tessera.gui.drill_wizard import DrillWizard

        try:
            wizard = DrillWizard(self.context, record_id, parent=self)
        except Exception as exc:
            show_error(self, exc)
            return
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._keep(wizard)

    def open_lifecycle(self, action: str, record_id: str) -> QWidget | None:
        """Rotate, reshare, revoke, destroy old sheets or edit the policy of a record."""
        from tessera.gui.policy_dialog import PolicyDialog
        from tessera.gui.reshare_window import ReshareWindow, RevokeWindow
        from tessera.gui.rotate_wizard import RotateWizard
        from tessera.gui.sheet_destroy import DestroySheetsDialog

        if action == "abort":
            self.abort_open_release(record_id)
            return None
        factories: dict[str, Callable[[], QWidget]] = {
            "rotate": lambda: RotateWizard(self.context, record_id, parent=self),
            "reshare": lambda: ReshareWindow(self.context, record_id, self),
            "revoke": lambda: RevokeWindow(self.context, record_id, parent=self),
            "destroy": lambda: DestroySheetsDialog(self.context, record_id, parent=self),
            "policy": lambda: PolicyDialog(self.context, record_id, parent=self),
        }
        try:
            window = factories[action]()
        except Exception as exc:
            show_error(self, exc)
            return None
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._keep(window)
        return window

    def stop_for_signal(self) -> None:
        """SIGTERM, SIGHUP or Ctrl-C: abort every unfinished quorum of this app now,
        without asking (nobody is there to answer), then close the windows."""
        for window in self._live_windows():
            abandon = getattr(window, "abandon", None)
            if callable(abandon):
                abandon()
        for window in self._live_windows():
            if hasattr(window, "abandon"):
                window.close()

    def abort_open_release(self, record_id: str) -> bool:
        """Abort the record's open quorum after asking; logged with who had it open.

        One run by a window of this app is stopped there instead (its window asks).
        """
        from tessera.core.process import Liveness, liveness

        vault = self.context.vault
        try:
            release = next((r for r in vault.list_releases(record_id)
                            if r.state is ReleaseState.OPEN), None)
            if release is None:
                return False
            for window in self._live_windows():
                ceremony = getattr(window, "ceremony", None)
                if getattr(ceremony, "release_id", None) == release.id:
                    window.raise_()
                    window.activateWindow()
                    window.close()  # its own confirmation, then its own abort
                    return False
            owner = vault.release_owner(release.id)
            state = Liveness.UNKNOWN if owner is None else liveness(owner)
            who = owner.describe() if owner else "a process Tessera cannot name"
            status = {Liveness.GONE: "that process has ended",
                      Liveness.RUNNING: "that process is STILL RUNNING on this computer",
                      Liveness.UNKNOWN: "Tessera cannot tell whether it still runs"}[state]
            text = (f"A {release.purpose} requested by {release.requested_by} at "
                    f"{release.requested_at} was left open by {who}; {status}. Abort it? "
                    f"Its {len(release.approvals)} approval(s) are discarded and the abort "
                    "is logged.")
            if not type(self).confirm_stale_abort(self, text) \
                    or not self.context.ready_to_change(self):
                return False
            vault.abort_release(release.id, self.context.actor,
                                force=state is Liveness.RUNNING)
        except Exception as exc:
            show_error(self, exc)
            return False
        self.context.notify_changed()
        return True

    @staticmethod
    def confirm_stale_abort(parent: QWidget, text: str) -> bool:
        """Ask before aborting a quorum left open (tests replace this)."""
        answer = QMessageBox.question(parent, "Abort the open release?", text,
                                      QMessageBox.StandardButton.Yes
                                      | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def open_rewrap(self, record_id: str | None, custodian_id: str | None) -> None:
        from tessera.gui.rewrap_wizard import RewrapWizard

        try:
            wizard = RewrapWizard(self.context, record_id, custodian_id, parent=self)
        except Exception as exc:
            show_error(self, exc)
            return
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._keep(wizard)

    def enrol_custodian(self) -> None:
        from tessera.gui.enrol_wizard import EnrolWizard

        wizard = EnrolWizard(self.context, self)
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._keep(wizard)

    def add_token(self) -> None:
        row = self.custodians.selected_row() if self.stack.currentIndex() == 1 \
            else None
        self.add_token_for(row.custodian.id if row is not None else None)

    def add_token_for(self, custodian_id: str | None) -> None:
        from tessera.gui.enrol_wizard import EnrolWizard

        wizard = EnrolWizard(self.context, self, custodian_id=custodian_id, existing=True)
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._keep(wizard)

    def new_record(self) -> None:
        from tessera.gui.create_wizard import CreateRecordWizard

        wizard = CreateRecordWizard(self.context, self)
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wizard.record_created.connect(self._record_created)
        self._keep(wizard)

    def _record_created(self, record_id: str) -> None:
        self.show_page(0)
        self.records.select_record(record_id)

    def verify_audit(self) -> None:
        self.show_page(PAGES.index("Audit"))
        self.audit.verify()

    def export_audit(self) -> None:
        self.show_page(PAGES.index("Audit"))
        self.audit.export()

    def vault_policy(self) -> None:
        from tessera.gui.policy_dialog import PolicyDialog

        dialog = PolicyDialog(self.context, None, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._keep(dialog)

    def edit_organisation(self) -> None:
        from tessera.gui.organisation_dialog import OrganisationDialog

        dialog = OrganisationDialog(self.context, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._keep(dialog)

    def about(self) -> None:
        QMessageBox.about(
            self, "About Tessera",
            f"<b>Tessera {__version__}</b><p>Fallback credential custody: recovery secrets "
            "split K-of-N among custodians with SLIP-39, each share locked to the custodian's "
            "own key, released only by a quorum — offline, with every step on a "
            "tamper-evident record.</p>")
