"""The main window: sidebar pages, menus, toolbar, status bar and the demo's extras.

Layout: a DEMO banner on top (demo vaults only), the sidebar (Records, Custodians,
Tokens, Audit) beside the current page, the virtual-keys panel docked on the right
in demo mode, and a status bar saying which vault is open, whether a key operation
is running and which keys are plugged in. Window geometry, the splitter, the current
page and the theme are kept in ``QSettings``: UI preferences only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
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
    QProgressBar,
    QSizePolicy,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from tessera import __version__
from tessera.custody.demo_facts import DEMO_PIN
from tessera.gui.theme import ICON_PROPERTY, Theme, app_icon, apply_theme, icon, retint_all

if TYPE_CHECKING:
    from tessera.custody.enroll import ConnectedDevice
    from tessera.gui.audit_page import AuditPage
    from tessera.gui.context import AppContext
    from tessera.gui.device_poller import DevicePoller
    from tessera.gui.pages import CustodiansPage, RecordsPage, TokensPage
    from tessera.gui.review_page import ReviewPage
    from tessera.gui.virtual_keys import VirtualKeysPanel
    from tessera.tokens.virtual.devices import VirtualDevices

# What filling the window in needs, beyond the frame: the start path imports these on its
# opening thread (with the vault) so that the GUI thread finds them loaded; the frame
# itself (this module) stays light enough to be shown before any of them is read.
FILL_MODULES = ("tessera.gui.context", "tessera.gui.pages", "tessera.gui.audit_page",
                "tessera.gui.review_page", "tessera.gui.device_poller", "tessera.gui.operator",
                "tessera.gui.errors", "tessera.vault")
# Actions that stay usable while the vault is still opening.
FRAME_ACTIONS = ("quit", "about")

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


def show_error(parent: QWidget | None, exc: BaseException) -> None:
    """The GUI's one error handler, imported when first needed (not before the frame)."""
    from tessera.gui.errors import show_error as shown

    shown(parent, exc)


class OpeningPanel(QWidget):
    """The page area while the vault opens: which vault, and what is being done."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("opening-panel")
        self.setAccessibleName("Opening the vault")
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        self.heading = QLabel()
        self.heading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.heading.setAccessibleName("Opening")
        self.detail = QLabel("")
        self.detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail.setWordWrap(True)
        self.detail.setAccessibleName("What is being done")
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # moving: the window is alive while it waits
        self.progress.setTextVisible(False)
        self.progress.setFixedWidth(220)
        self.progress.setMaximumHeight(6)
        self.progress.setAccessibleName("Opening progress")
        layout.addWidget(self.heading)
        layout.addWidget(self.detail)
        layout.addSpacing(8)
        layout.addWidget(self.progress, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(3)
        self.set_vault(name)

    def set_vault(self, name: str) -> None:
        self.heading.setText(f"<b>Opening {name}…</b>" if name else "<b>Opening your vault…</b>")

    def say(self, text: str) -> None:
        self.detail.setText(text)


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

    # Set by attach_steps(): the start path shows the window before the vault is open.
    context: AppContext
    records: RecordsPage
    poller: DevicePoller

    def __init__(self, context: AppContext | None = None, *,
                 settings: QSettings | None = None, poll_devices: bool = True,
                 opening: str = "") -> None:
        """The window on ``context``, complete; without one, the frame only (title,
        sidebar, menus, status bar, the page area saying "Opening ``opening``…"), shown
        by the start path at once and filled in by :meth:`attach_steps` once the vault is
        open."""
        super().__init__()
        self.settings = settings if settings is not None else QSettings()
        self.poll_devices = poll_devices
        self.setAccessibleName("Tessera")
        self.actions_: dict[str, QAction] = {}
        self.open_windows: list[QWidget] = []
        self.attached = False
        self._shown = False
        self._wanted_page: int | None = None
        self.keys_panel: VirtualKeysPanel | None = None
        self.keys_dock: QDockWidget | None = None
        self.banner: DemoBanner | None = None
        self._build_frame(context.vault_path.name if context is not None else opening)
        if context is not None:
            self.attach(context)

    def _build_frame(self, name: str) -> None:
        """Everything that does not need the open vault."""
        self.setWindowTitle(name)
        self.setWindowIcon(app_icon())
        self.opening_panel = OpeningPanel(name)
        # The pages are built when first shown (or first asked for): a large vault opens
        # without reading its whole log, every token and the access review. Until the
        # vault is open the Records page's place holds the opening panel.
        self._built: dict[int, QWidget] = {}
        self.stack = QStackedWidget()
        self.stack.addWidget(self.opening_panel)
        for _name in PAGES[1:]:
            self.stack.addWidget(QWidget())
        self.sidebar = QListWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setAccessibleName("Sections")
        self.sidebar.setIconSize(QSize(20, 20))
        self.sidebar.setFixedWidth(168)
        self.sidebar.setSpacing(2)
        self.sidebar.setFrameShape(QListWidget.Shape.NoFrame)
        for name_ in PAGES:
            item = QListWidgetItem(name_)
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

        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        for key, action in self.actions_.items():
            if not (key in FRAME_ACTIONS or key.startswith(("page-", "theme-"))):
                action.setEnabled(False)  # until the vault is open
        self._build_status_bar(name)
        self._set_sidebar_icons()
        self._restore_geometry()
        self.sidebar.blockSignals(True)  # the page itself is shown once the vault is open
        self.sidebar.setCurrentRow(self._saved_page())
        self.sidebar.blockSignals(False)
        self.sidebar.setFocus()

    def attach(self, context: AppContext) -> None:
        """Fill the frame in with the open vault, all at once."""
        for _step in self.attach_steps(context):
            pass

    def attach_steps(self, context: AppContext) -> Iterator[str]:
        """Fill the frame in with the open vault, one slice of GUI-thread work per step
        (the start path runs one per turn of the event loop, so the shown window never
        freezes for long); yields the name of the step just done.

        The Records page comes last but one: it starts the loader thread reading the
        records, and every step after it shares the interpreter with that thread."""
        from tessera.gui.device_poller import DevicePoller
        from tessera.gui.pages import RecordsPage

        self.context = context
        self._attach_status(context)
        yield "status"
        if context.virtual is not None:
            self._add_keys_panel(context, context.virtual)
            yield "virtual keys"
        if context.demo:
            self._add_demo_banner()
        self.poller = DevicePoller(context.drivers, busy=lambda: context.worker.busy,
                                   lock=context.worker.device_lock, parent=self)
        self.poller.devices_changed.connect(self.show_devices)
        context.vault_changed.connect(self.poller.poll_now)
        self.setWindowTitle(self._title())
        for action in self.actions_.values():
            action.setEnabled(True)
        yield "actions"
        self.records = RecordsPage(context)
        self.records.release_requested.connect(self.open_release)
        self.records.drill_requested.connect(self.open_drill)
        self.records.lifecycle_requested.connect(self.open_lifecycle)
        self._replace_page(0, self.records)
        self.attached = True
        self._restore_state()
        yield "records"
        if self.poll_devices:
            self._poll_once_listed()
        if self._shown:  # shown before the vault was open: ask who operates now
            QTimer.singleShot(0, self.operator_control, self.operator_control.offer)
        yield "ready"

    def _poll_once_listed(self) -> None:
        """Start looking for keys once the pages' first reads are shown: the poller's
        first look (USB and smart-card listing, and importing their drivers) then does
        not share the interpreter with the loader thread and the window filling in."""
        loader = self.context.loader
        if loader.idle:
            self.poller.start()
            return

        def idle(now_idle: bool) -> None:
            if now_idle:
                loader.idle_changed.disconnect(idle)
                QTimer.singleShot(0, self.poller, self.poller.start)

        loader.idle_changed.connect(idle)

    def _add_keys_panel(self, context: AppContext, virtual: VirtualDevices) -> None:
        from tessera.gui.virtual_keys import VirtualKeysPanel  # demo vaults only

        self.keys_panel = VirtualKeysPanel(virtual)
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
        self.view_menu.addSeparator()
        toggle = self.keys_dock.toggleViewAction()
        toggle.setText("&Virtual keys panel")
        toggle.setShortcut(QKeySequence("Ctrl+K"))
        self.view_menu.addAction(toggle)

    def _add_demo_banner(self) -> None:
        self.banner = DemoBanner()
        self.banner.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
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
            action.setIcon(icon(icon_name))
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
        a("refresh", "Re&fresh", lambda: self.context.notify_changed(),
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
        view = self.view_menu = bar.addMenu("&View")
        for name in PAGES:
            view.addAction(act[f"page-{name.lower()}"])
        view.addSeparator()
        view.addAction(act["refresh"])
        themes = view.addMenu("T&heme")
        for theme in Theme:
            themes.addAction(act[f"theme-{theme.value}"])
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

    def _build_status_bar(self, name: str) -> None:
        status = self.statusBar()
        self.vault_label = QLabel(f"Opening {name}…" if name else "Opening your vault…")
        self.vault_label.setAccessibleName("Open vault")
        self.busy_label = QLabel("")
        self.busy_label.setAccessibleName("Key operation")
        self.devices_label = QLabel("")
        self.devices_label.setAccessibleName("Connected keys")
        status.addWidget(self.vault_label, 1)
        status.addPermanentWidget(self.busy_label)
        status.addPermanentWidget(self.devices_label)

    def _attach_status(self, context: AppContext) -> None:
        # Who signs this session's changes, and the vault's genesis (#9): gui/operator.py.
        from tessera.gui.operator import OperatorControl, OperatorSession

        self.vault_label.setText(f"Vault: {context.vault_path}")
        self.devices_label.setText("Looking for keys…")
        self.operator = OperatorSession(context, self)
        self.operator.choose_default()
        self.operator_control = OperatorControl(context, self.operator)
        self.statusBar().addPermanentWidget(self.operator_control)
        context.worker.busy_changed.connect(self._show_busy)
        context.worker.job_started.connect(self._show_job)

    def opening_name(self, name: str) -> None:
        """The vault being opened is known (or changed: the demo chosen at first run)."""
        self.setWindowTitle(name)
        self.opening_panel.set_vault(name)
        self.vault_label.setText(f"Opening {name}…")

    def _retint(self) -> None:
        """Give every action and sidebar entry its icon in the current palette."""
        retint_all()
        self._set_sidebar_icons()

    def _set_sidebar_icons(self) -> None:
        for i, name in enumerate(PAGE_ICONS):
            item = self.sidebar.item(i)
            if item is not None:
                item.setIcon(icon(name))

    # -- state -------------------------------------------------------------------------
    def restore_state(self) -> None:
        self._restore_geometry()
        self._restore_state()

    def _restore_geometry(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty() \
                and self.restoreGeometry(geometry):
            keep_on_screen(self)
        else:
            fit_to_screen(self)

    def _restore_state(self) -> None:
        """Docks, the records splitter and the page: once the vault is open."""
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        splitter = self.settings.value("records/splitter")
        if isinstance(splitter, QByteArray) and not splitter.isEmpty():
            self.records.splitter.restoreState(splitter)
        # A page chosen in the sidebar while the vault opened wins over the saved one.
        self.show_page(self._wanted_page if self._wanted_page is not None
                       else self._saved_page())
        theme = str(self.settings.value("ui/theme", Theme.SYSTEM.value))
        chosen = Theme(theme) if theme in {t.value for t in Theme} else Theme.SYSTEM
        self.actions_[f"theme-{chosen.value}"].setChecked(True)

    def _saved_page(self) -> int:
        page = self.settings.value("window/page", 0)
        try:
            index = int(page)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            index = 0
        return index if 0 <= index < len(PAGES) else 0

    def save_state(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        if self.attached:  # closed while opening: keep the last session's docks and page
            self.settings.setValue("window/state", self.saveState())
            self.settings.setValue("records/splitter", self.records.splitter.saveState())
            self.settings.setValue("window/page", self.stack.currentIndex())
        self.settings.sync()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._shown:
            # Once the window is up, not before: a real signed vault asks who operates
            # (or only looks), and start-up does not wait for the answer. Shown while
            # the vault still opens, attach_steps asks once it is open.
            self._shown = True
            if self.attached:
                QTimer.singleShot(0, self.operator_control, self.operator_control.offer)

    def closeEvent(self, event: QCloseEvent) -> None:
        for window in self._live_windows():
            if window.isVisible() and not window.close():
                event.ignore()
                return
        self.save_state()
        if self.attached:
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
            from tessera.gui.pages import CustodiansPage

            custodians = CustodiansPage(context)
            custodians.add_token_requested.connect(self.add_token_for)
            page = custodians
        elif index == 2:
            from tessera.gui.pages import TokensPage

            tokens = TokensPage(context)
            tokens.rewrap_requested.connect(lambda cid: self.open_rewrap(None, cid))
            page = tokens
        elif index == 3:
            from tessera.gui.audit_page import AuditPage

            page = AuditPage(context)
        else:
            from tessera.gui.review_page import ReviewPage

            page = ReviewPage(context)
        self._replace_page(index, page)
        return page

    def _replace_page(self, index: int, page: QWidget) -> None:
        current = self.stack.currentIndex()
        placeholder = self.stack.widget(index)
        self.stack.insertWidget(index, page)
        if placeholder is not None:
            self.stack.removeWidget(placeholder)
            placeholder.deleteLater()
        self.stack.setCurrentIndex(current)
        self._built[index] = page

    @property
    def custodians(self) -> CustodiansPage:
        return cast("CustodiansPage", self._page(1))

    @property
    def tokens(self) -> TokensPage:
        return cast("TokensPage", self._page(2))

    @property
    def audit(self) -> AuditPage:
        return cast("AuditPage", self._page(3))

    @property
    def review(self) -> ReviewPage:
        return cast("ReviewPage", self._page(4))

    def _switch_to(self, index: int) -> None:
        if index < 0:
            return
        if not self.attached:  # the opening panel stays; the page is shown once open
            self._wanted_page = index
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
        if self.attached:
            self.context.notify_changed()

    def _poll_soon(self) -> None:
        self.poller.poll_now()

    # -- status ------------------------------------------------------------------------
    def show_devices(self, devices: list[ConnectedDevice]) -> None:
        from tessera.gui.device_poller import describe_devices

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
        from tessera.vault import ReleaseState

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
