"""Screenshots of Tessera as it really opens, into ``docs/screenshots/``.

Each screen size gets its own X server (Xvfb) with a window manager (openbox), so
windows open at the size and place the application chooses on a laptop (1366×768)
or a desktop (1920×1080) screen, with title bars, and every picture is the whole
screen. The demo vault's virtual keys wait for their Touch button, as in
``tessera gui --demo``, so the moments that matter are shown as a custodian meets
them: a key waiting for a touch, a wrong PIN, a key that is not plugged in.

    make screenshots                                    # both screens
    .venv/bin/python scripts/screenshots.py --screen 1366x768

Pictures of the 1366×768 screen are named ``<scene>.png``; the other sizes add the
size, ``<scene>-1920x1080.png``. Needs ``Xvfb`` and ``openbox`` (scripts/bootstrap.sh
installs them). A scene that cannot be reached is reported and the run fails.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
SCREENS = ("1366x768", "1920x1080")
PRIMARY = "1366x768"
WRONG_PIN = "000000"
RECORD = "Demo: CI deploy key"
AUTO_TOUCH = "delay:0.8"  # the unsigned vault's keys touch themselves (no panel for them)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the PNG files")
    parser.add_argument("--screen", action="append", choices=SCREENS,
                        help="screen size (repeatable; default: all)")
    parser.add_argument("--shoot", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.shoot:  # inside the X server started below
        return shoot(args.out, args.screen[0])
    missing = [tool for tool in ("Xvfb", "openbox") if shutil.which(tool) is None]
    if missing:
        print(f"screenshots: {' and '.join(missing)} not found; install them "
              "(sudo apt-get install xvfb openbox) or run scripts/bootstrap.sh as root.",
              file=sys.stderr)
        return 3
    failed = 0
    for screen in args.screen or SCREENS:
        with tempfile.TemporaryDirectory(prefix="tessera-shots-") as tmp, \
                x_server(screen) as display:
            env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb",
                   "QT_SCALE_FACTOR": "1", "XDG_DATA_HOME": f"{tmp}/data",
                   "XDG_CONFIG_HOME": f"{tmp}/config", "XDG_CACHE_HOME": f"{tmp}/cache",
                   "XDG_RUNTIME_DIR": tmp}
            env.pop("WAYLAND_DISPLAY", None)
            print(f"Screen {screen} on {display}:")
            failed |= subprocess.call([sys.executable, __file__, "--shoot",  # noqa: S603
                                       "--screen", screen, "--out", str(args.out)], env=env)
    return 1 if failed else 0


@contextlib.contextmanager
def x_server(screen: str) -> Iterator[str]:
    """A private Xvfb of size ``screen`` with openbox on it; stopped by process id."""
    read, write = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0",  # noqa: S603,S607
                             f"{screen}x24", "-nolisten", "tcp", "-noreset"],
                            pass_fds=(write,), stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    if not number:
        xvfb.terminate()
        raise RuntimeError("Xvfb did not start")
    display = f":{number}"
    wm = subprocess.Popen(["openbox", "--sm-disable"],  # noqa: S607
                          env={**os.environ, "DISPLAY": display},
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)  # openbox takes the screen before the first window maps
    try:
        yield display
    finally:
        for process in (wm, xvfb):
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()


def shoot(out: Path, screen: str) -> int:
    sys.path.insert(0, str(ROOT / "app"))
    shooter = Shooter(out, "" if screen == PRIMARY else f"-{screen}")
    return shooter.run(full=screen == PRIMARY)


class Shooter:
    """Opens the demo as ``tessera gui --demo`` does and walks through its scenes."""

    def __init__(self, out: Path, suffix: str) -> None:
        from PySide6.QtWidgets import QApplication

        self.out = out
        self.suffix = suffix
        self.app = QApplication.instance() or QApplication(["tessera"])
        self.failures: list[str] = []

    # -- helpers -------------------------------------------------------------------------
    def settle(self, seconds: float = 0.4) -> None:
        from PySide6.QtCore import QEventLoop

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.02)

    def wait_until(self, done: Callable[[], object], what: str, seconds: float = 20.0) -> None:
        deadline = time.monotonic() + seconds
        while not done():
            if time.monotonic() > deadline:
                raise RuntimeError(f"waited {seconds:g} s for {what}")
            self.settle(0.05)

    def save(self, name: str) -> None:
        """The whole screen, window manager and all."""
        self.settle()
        screen = self.app.primaryScreen()
        path = self.out / f"{name}{self.suffix}.png"
        screen.grabWindow(0).save(str(path))
        print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")

    def find(self, kind: type, what: str, seconds: float = 10.0) -> object:
        """The visible top-level or child widget of type ``kind``."""
        from PySide6.QtWidgets import QApplication

        def visible() -> object:
            for top in QApplication.topLevelWidgets():
                for widget in (top, *top.findChildren(kind)):
                    if isinstance(widget, kind) and widget.isVisible():
                        return widget
            return None

        self.wait_until(visible, what, seconds)
        return visible()

    def touch_for_the_operator(self) -> None:
        """Press Touch on the operator's virtual key when it asks to sign a change (the
        demo vault is signed: every change waits for that touch, #9), as the person at
        the keyboard would; the scenes that show that moment switch this off."""
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication

        from tessera.gui.prompts import TouchPrompt

        self.auto_operator = True
        seen: dict[int, float] = {}

        def tick() -> None:
            if not self.auto_operator or getattr(self, "window", None) is None:
                return
            for top in QApplication.topLevelWidgets():
                if not (isinstance(top, TouchPrompt) and top.isVisible()
                        and "as the operator" in top.text.text()):
                    continue
                first = seen.setdefault(id(top), time.monotonic())
                if time.monotonic() - first < 0.6:
                    continue  # a person reads the prompt first
                for name, row in self.window.keys_panel.rows.items():
                    if name in top.text.text() and row.touch.isEnabled():
                        row.touch.click()

        self.operator_timer = QTimer()
        self.operator_timer.timeout.connect(tick)
        self.operator_timer.start(100)

    def scene(self, name: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:  # a scene that fails is reported, the others still run
            self.failures.append(name)
            print(f"  ✗ {name}:\n{traceback.format_exc()}", file=sys.stderr)
            self.close_extras()

    def close_extras(self) -> None:
        from PySide6.QtWidgets import QApplication, QDialog

        for top in QApplication.topLevelWidgets():
            if top is not self.window and top.isVisible():
                if isinstance(top, QDialog):
                    top.reject()
                top.close()
        self.settle()

    # -- the run ---------------------------------------------------------------------------
    def run(self, full: bool) -> int:
        from tessera.gui.app import configure_app, demo_vault_path, open_window
        from tessera.gui.release_window import ReleaseWindow
        from tessera.gui.theme import Theme, apply_theme

        ReleaseWindow.confirm_abort = staticmethod(lambda parent: True)  # type: ignore[assignment]
        configure_app(self.app)
        apply_theme(self.app, Theme.LIGHT)
        window = open_window(demo_vault_path(), demo=True)  # as `tessera gui --demo`
        if window is None:
            raise RuntimeError("the demo did not open")
        self.window = window
        self.wait_until(window.isVisible, "the main window")
        self.settle(1.0)
        self.touch_for_the_operator()
        try:
            self.scene("main", lambda: self.main_screens(window))
            self.scene("signing", lambda: self.signing(window))
            self.scene("release", lambda: self.release(window))
            if full:
                self.scene("enrol", lambda: self.enrol(window))
                self.scene("create", lambda: self.create(window))
                self.scene("lifecycle", lambda: self.lifecycle(window))
                self.scene("organisation", lambda: self.organisation(window))
                self.scene("operator", lambda: self.operator(window))
                self.scene("dark", lambda: self.dark(window))
        finally:
            window.close()
            window.context.close()
        if self.failures:
            print(f"screenshots: these scenes failed: {', '.join(self.failures)}",
                  file=sys.stderr)
            return 1
        return 0

    def main_screens(self, window: object) -> None:
        from tessera.gui.main_window import PAGES

        w = window  # type: ignore[assignment]
        w.records.select_record(w.context.vault.get_record(RECORD).id)
        self.save("main-records")
        for name in ("custodians", "tokens", "review"):
            w.show_page(PAGES.index(name.capitalize()))
            self.save(f"main-{name}")
        w.show_page(PAGES.index("Audit"))
        w.audit.verify()
        self.save("main-audit")
        w.show_page(PAGES.index("Records"))

    def release(self, window: object) -> None:
        """Request, a PIN, a wrong PIN, a key waiting for a touch, a missing key, a sheet."""
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        from tessera.custody.demo import DEMO_PIN
        from tessera.gui.paper_entry import PaperEntryDialog
        from tessera.gui.prompts import PinDialog
        from tessera.gui.release_window import ReleaseWindow

        w = window  # type: ignore[assignment]
        w.records.select_record(w.context.vault.get_record(RECORD).id)
        w.release_selected()
        release = self.find(ReleaseWindow, "the release window")
        self.save("release-request")
        QTest.keyClicks(release.reason_edit, "Deploy key leaked in a CI log; install a new one")
        QTest.keyClicks(release.ticket_edit, "INC-1042")
        QTest.mouseClick(release.start_button, Qt.MouseButton.LeftButton)
        self.wait_until(lambda: release.ceremony is not None, "the ceremony to start")
        ids = {s.name: s.custodian_id for s in release.ceremony.slots()}
        rows = release.rows

        def pin_dialog() -> PinDialog:
            return self.find(PinDialog, "the PIN dialog")  # type: ignore[return-value]

        QTest.mouseClick(rows[ids["Alice"]].key_button, Qt.MouseButton.LeftButton)
        dialog = pin_dialog()
        self.save("release-pin")
        QTest.keyClicks(dialog.pin_edit, WRONG_PIN)
        QTest.keyClick(dialog.pin_edit, Qt.Key.Key_Return)
        alice = rows[ids["Alice"]]

        def asked_again() -> PinDialog | None:
            for top in self.app.topLevelWidgets():
                for d in (top, *top.findChildren(PinDialog)):
                    if isinstance(d, PinDialog) and d.isVisible() and d.attempts_label.text():
                        return d
            return None

        # The PIN is asked again in place, or the row says it was wrong (then ask again).
        self.wait_until(lambda: asked_again() or (release.job is None
                                                  and "PIN" in alice.state_label.text()),
                        "the wrong PIN to be answered", 15)
        self.save("release-wrong-pin")
        if asked_again() is None:
            QTest.mouseClick(alice.key_button, Qt.MouseButton.LeftButton)
        dialog = pin_dialog()
        QTest.keyClicks(dialog.pin_edit, DEMO_PIN)
        QTest.keyClick(dialog.pin_edit, Qt.Key.Key_Return)
        alice_key = next(k for k in w.context.virtual.keys if k.name.startswith("Alice"))
        panel_row = w.keys_panel.rows[alice_key.name]
        self.wait_until(lambda: panel_row.touch.isDefault(), "Alice's key to blink", 15)
        self.settle(0.8)  # the "touch your key" prompt shows after 0.5 s
        self.save("release-touch")
        QTest.mouseClick(panel_row.touch, Qt.MouseButton.LeftButton)
        self.wait_until(lambda: release.ceremony.progress().describe() == "1 of 2"
                        and release.job is None, "Alice's approval", 15)
        self.save("release-progress")

        # Bob's YubiKey is not plugged in when he steps up.
        bob_key = next(k for k in w.context.virtual.keys if k.name.startswith("Bob"))
        bob_row = w.keys_panel.rows[bob_key.name]
        if bob_key.present:
            QTest.mouseClick(bob_row.plug, Qt.MouseButton.LeftButton)
        self.wait_until(lambda: not bob_key.present, "Bob's key pulled out")
        QTest.mouseClick(rows[ids["Bob"]].key_button, Qt.MouseButton.LeftButton)
        self.settle(2.0)
        self.save("release-missing-key")
        with contextlib.suppress(Exception):
            for top in self.app.topLevelWidgets():
                if isinstance(top, PinDialog) and top.isVisible():
                    top.reject()
        if release.job is not None:
            release.job.cancel()
        self.wait_until(lambda: release.job is None, "the key operation to stop", 15)
        QTest.mouseClick(bob_row.plug, Qt.MouseButton.LeftButton)  # plug it back in

        # Carol approves with her sheet instead: the words dialog shows the fingerprint.
        QTest.mouseClick(rows[ids["Carol"]].paper_button, Qt.MouseButton.LeftButton)
        paper = self.find(PaperEntryDialog, "the sheet-words dialog")
        for field, word in zip(paper.entry.fields, ("acad", "acid", "acne", "acqu"),
                               strict=False):
            QTest.keyClicks(field, word)  # four letters pick the word
            QTest.keyClick(field, Qt.Key.Key_Space)
        self.save("release-sheet-words")
        paper.reject()
        self.settle(1.0)  # as a person would, between two clicks
        release.close()
        self.wait_until(lambda: not release.isVisible(), "the release window to close")

    def enrol(self, window: object) -> None:
        from PySide6.QtWidgets import QWizard

        from tessera.gui.enrol_wizard import EnrolWizard

        w = window  # type: ignore[assignment]
        w.actions_["enrol"].trigger()
        wizard = self.find(EnrolWizard, "the enrol wizard")
        self.save("enrol-1-person")
        wizard.person_page.name.setText("Dana Whitfield")
        wizard.person_page.contact.setText("dana@example.invalid")
        wizard.person_page.role.setText("Database owner")
        wizard.next()
        self.save("enrol-2-kind")
        wizard.next()
        self.save("enrol-3-device")
        wizard.reject()
        # A custodian who enrolled on their own machine sent their public key.
        from tessera.core import age
        from tessera.gui.enrol_wizard import KeyChoice

        w.actions_["enrol"].trigger()
        wizard = self.find(EnrolWizard, "the enrol wizard")
        wizard.person_page.name.setText("Frank Osei")
        wizard.person_page.role.setText("On-call lead")
        wizard.next()
        wizard.kind_page.buttons[KeyChoice.REMOTE].setChecked(True)
        wizard.next()
        wizard.recipient_page.recipient.setText(
            age.X25519Identity.generate().recipient.to_string())
        self.save("enrol-3-public-key")
        wizard.button(QWizard.WizardButton.CommitButton).click()
        self.wait_until(lambda: wizard.currentPage() is wizard.result_page, "the result page")
        self.save("enrol-4-result-remote")
        wizard.accept()

    def create(self, window: object) -> None:
        from PySide6.QtCore import Qt

        from tessera.gui.create_wizard import CreateRecordWizard

        w = window  # type: ignore[assignment]
        w.actions_["new-record"].trigger()
        wizard = self.find(CreateRecordWizard, "the create wizard")
        facts = wizard.facts_page
        facts.label.setText("Prod AWS root — break-glass")
        facts.system.setText("AWS")
        facts.account.setText("1234-5678-9012")
        facts.owner.setText("Platform")
        facts.environment.setCurrentText("production")
        self.save("create-1-facts")
        wizard.next()
        people = wizard.custodians_page
        for i in range(people.people.count()):
            item = people.people.item(i)
            if item.text().split(" — ")[0] in ("Alice", "Bob", "Carol"):
                item.setCheckState(Qt.CheckState.Checked)
        people.threshold.setValue(2)
        self.save("create-2-custodians")
        wizard.next()
        secret = wizard.secret_page
        secret.typed.setText("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        secret.confirm.setText("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        self.save("create-3-secret")
        wizard.next()
        self.save("create-4-review")
        wizard.next()  # Seal record: the words exist now, until the sheets are printed
        self.wait_until(lambda: wizard.currentPage() is wizard.done_page, "the sealed page")
        self.save("create-5-sealed")
        from tessera.gui.sheet_handoff import SheetHandoff

        # Nothing is printed here: answer the "words on no paper" question with the
        # audited discard, as an operator who will reprint would.
        SheetHandoff.ask_discard = staticmethod(lambda _parent, _names: True)
        wizard.done(0)

    def lifecycle(self, window: object) -> None:
        from tessera.gui.policy_dialog import PolicyDialog
        from tessera.gui.reshare_window import ReshareWindow, RevokeWindow
        from tessera.gui.rotate_wizard import RotateWizard

        w = window  # type: ignore[assignment]
        w.records.select_record(w.context.vault.get_record(RECORD).id)
        for name, kind, action in (("reshare-request", ReshareWindow, "reshare"),
                                   ("revoke-request", RevokeWindow, "revoke"),
                                   ("rotate-1-reason", RotateWizard, "rotate"),
                                   ("policy-record", PolicyDialog, "policy")):
            button = w.records.detail.lifecycle_buttons[action]
            button.click()
            opened = self.find(kind, name)
            self.save(name)
            opened.close()
            self.settle()

    def organisation(self, window: object) -> None:
        from tessera.gui.organisation_dialog import OrganisationDialog

        w = window  # type: ignore[assignment]
        w.actions_["organisation"].trigger()
        dialog = self.find(OrganisationDialog, "the organisation dialog")
        dialog.name.setText("Example Corp — Platform Security")
        dialog.contact.setText("Security on-call +44 20 7946 0000")
        dialog.url.setText("https://wiki.example.org/break-glass")
        self.save("organisation")
        dialog.reject()

    def operator(self, window: object) -> None:
        """A session nobody operates yet, as a real signed vault opens: the question once
        the window is up, only looking, and a change that asks it again (declined here,
        so the demo vault is not changed)."""
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QMessageBox

        from tessera.gui.operator import OperatorDialog
        from tessera.gui.organisation_dialog import OrganisationDialog

        w = window  # type: ignore[assignment]
        operating = w.operator.token
        w.operator.choose(None)
        w.operator_control.offer()
        offered = self.find(OperatorDialog, "the question on opening")
        self.save("operator-offer")
        offered.reject()  # type: ignore[attr-defined]
        self.save("operator-only-looking")
        w.actions_["organisation"].trigger()
        dialog = self.find(OrganisationDialog, "the organisation dialog")
        dialog.name.setText("Example Corp — Platform Security")

        def shoot_the_note() -> None:
            note = self.find(QMessageBox, "the nothing-changed note")
            self.save("operator-declined")
            note.accept()  # type: ignore[attr-defined]

        def shoot_the_question() -> None:
            asked = self.find(OperatorDialog, "the question at a change")
            self.save("operator-asks")
            QTimer.singleShot(0, shoot_the_note)
            asked.reject()  # type: ignore[attr-defined]

        QTimer.singleShot(0, shoot_the_question)
        dialog.save()
        dialog.reject()
        w.operator.choose(operating)

    def signing(self, window: object) -> None:
        """Who operates, a change waiting for the operator's touch, and an unsigned vault's
        offer to sign its genesis (a second window on a throw-away unsigned demo)."""
        from PySide6.QtCore import QTimer

        from tessera.gui.organisation_dialog import OrganisationDialog
        from tessera.gui.prompts import TouchPrompt

        w = window  # type: ignore[assignment]
        self.auto_operator = False
        w.actions_["organisation"].trigger()
        dialog = self.find(OrganisationDialog, "the organisation dialog")
        dialog.name.setText("Example Corp — Platform Security")
        shots: list[str] = []

        def shoot_then_touch() -> None:
            prompt = next((t for t in self.app.topLevelWidgets()
                           if isinstance(t, TouchPrompt) and t.isVisible()), None)
            if prompt is None:
                QTimer.singleShot(100, shoot_then_touch)
                return
            self.save("signing-operator-touch")
            shots.append("done")
            self.auto_operator = True  # the operator touches now

        QTimer.singleShot(100, shoot_then_touch)
        dialog.buttons.accepted.emit()  # Save: waits here for the operator's touch
        self.auto_operator = True
        if not shots:
            raise RuntimeError("the operator's touch prompt was not shown")
        self.settle()
        self.save("signing-operator")
        self.genesis()

    def genesis(self) -> None:
        from PySide6.QtCore import QSettings

        from tessera.custody.demo import build_demo_vault
        from tessera.gui.context import AppContext
        from tessera.gui.genesis_dialog import GenesisDialog
        from tessera.gui.main_window import MainWindow

        folder = Path(tempfile.mkdtemp(prefix="tessera-unsigned-"))
        path = folder / "unsigned-vault.sqlite3"
        build_demo_vault(path, touch="immediate")  # an older, unsigned vault
        context = AppContext.open(path, touch=AUTO_TOUCH)
        other = MainWindow(context, settings=QSettings(str(folder / "s.ini"),
                                                       QSettings.Format.IniFormat))
        other.show()
        try:
            self.wait_until(other.isVisible, "the unsigned vault's window")
            self.settle(1.0)
            self.save("genesis-offer")
            other.operator_control.button.click()
            dialog = self.find(GenesisDialog, "the genesis dialog")
            self.save("genesis-1-choose")
            dialog.sign_button.click()
            self.wait_until(lambda: dialog.adopted is not None, "the genesis to be signed", 60)
            self.save("genesis-2-signed")
            dialog.close()
        finally:
            other.close()
            context.close()
            shutil.rmtree(folder, ignore_errors=True)

    def dark(self, window: object) -> None:
        from tessera.gui.main_window import PAGES
        from tessera.gui.theme import Theme

        w = window  # type: ignore[assignment]
        w.set_theme(Theme.DARK)  # switched at run time, as a person would
        w.show_page(PAGES.index("Records"))
        self.save("dark-records")
        w.show_page(PAGES.index("Audit"))
        self.save("dark-audit")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
