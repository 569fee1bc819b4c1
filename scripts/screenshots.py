"""Render every main screen and wizard page of the GUI into ``docs/screenshots/``.

Runs offscreen on a throw-away demo vault (virtual keys that touch themselves, PINs
answered with the demo PIN), so the pictures show exactly what a new user sees:

    .venv/bin/python scripts/screenshots.py                # 100 %, every screen
    .venv/bin/python scripts/screenshots.py --scale 2      # 200 %, the main screens

Each scale runs in its own process (Qt reads ``QT_SCALE_FACTOR`` once, at start).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
SIZE = (1400, 820)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the PNG files")
    parser.add_argument("--scale", type=float, default=1.0, help="1 for 100 %%, 2 for 200 %%")
    parser.add_argument("--all-scales", action="store_true",
                        help="render at 100 %% and, in a second process, at 200 %%")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.all_scales:
        import subprocess

        for scale in ("1", "2"):
            code = subprocess.call([sys.executable, __file__, "--out", str(args.out),  # noqa: S603
                                    "--scale", scale])
            if code:
                return code
        return 0
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["QT_SCALE_FACTOR"] = f"{args.scale:g}"
    sys.path.insert(0, str(ROOT / "app"))
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tessera-shots-") as tmp:
        return Shooter(args.out, args.scale, Path(tmp)).run()


class Shooter:
    """Builds the demo, opens each screen, drives wizards, saves PNGs."""

    def __init__(self, out: Path, scale: float, tmp: Path) -> None:
        from PySide6.QtCore import QCoreApplication, QSettings
        from PySide6.QtWidgets import QApplication

        self.out = out
        self.scale = scale
        self.tmp = tmp
        self.suffix = "" if scale == 1 else f"@{scale:g}x"
        QCoreApplication.setOrganizationName("Tessera screenshots")
        QCoreApplication.setApplicationName("Tessera screenshots")
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp))
        self.app = QApplication.instance() or QApplication(["tessera"])
        self.saved: list[Path] = []

    # -- helpers -------------------------------------------------------------------------
    def settle(self, rounds: int = 5) -> None:
        from PySide6.QtCore import QEventLoop

        for _ in range(rounds):
            self.app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)

    def wait_until(self, done: Callable[[], bool], seconds: float = 20.0) -> None:
        import time

        deadline = time.monotonic() + seconds
        while not done():
            if time.monotonic() > deadline:
                raise RuntimeError("the screen did not reach the expected state in time")
            self.settle(1)

    def save(self, widget: object, name: str) -> None:
        self.settle()
        path = self.out / f"{name}{self.suffix}.png"
        widget.grab().save(str(path))  # type: ignore[attr-defined]
        self.saved.append(path)
        print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")

    # -- the run ---------------------------------------------------------------------------
    def run(self) -> int:
        from tessera.custody.demo import DEMO_PIN
        from tessera.gui.app import configure_app, ensure_demo_vault
        from tessera.gui.context import AppContext
        from tessera.gui.main_window import MainWindow
        from tessera.gui.prompts import NewPinDialog, PinDialog
        from tessera.gui.theme import Theme, apply_theme

        def answer(_parent: object, _token: str, _extra: object,
                   done: Callable[[str | None], None]) -> None:
            done(DEMO_PIN)

        PinDialog.ask = classmethod(lambda cls, *a: answer(*a))  # type: ignore[method-assign,assignment]
        NewPinDialog.ask = classmethod(lambda cls, *a: answer(*a))  # type: ignore[method-assign,assignment]
        configure_app(self.app)
        apply_theme(self.app, Theme.LIGHT)
        path = ensure_demo_vault(self.tmp / "demo-vault.sqlite3")
        context = AppContext.open(path, touch="immediate")
        window = MainWindow(context, poll_devices=True)
        window.resize(*SIZE)
        window.show()
        self.wait_until(lambda: "key" in window.devices_label.text())
        print(f"Screenshots at {self.scale:g}x:")
        try:
            self.main_screens(window, "main")
            self.enrol_wizard(window)
            self.create_wizard(window)
            self.release_window(window)
            self.lifecycle_screens(window)
            window.show_page(0)
            window.records.select_record(context.vault.get_record("Demo: CI deploy key").id)
            self.save(window, "main-records-after")
            apply_theme(self.app, Theme.DARK)
            window.set_theme(Theme.DARK)
            self.main_screens(window, "dark", pages=("records", "audit"))
        finally:
            window.close()
            context.close()
        return 0

    def main_screens(self, window: object, prefix: str,
                     pages: tuple[str, ...] = ("records", "custodians", "tokens", "audit",
                                              "review")
                     ) -> None:
        from tessera.gui.main_window import PAGES

        for name in pages:
            window.show_page(PAGES.index(name.capitalize()))  # type: ignore[attr-defined]
            if name == "audit":
                window.audit.verify()  # type: ignore[attr-defined]
            self.save(window, f"{prefix}-{name}")

    def enrol_wizard(self, window: object) -> None:
        from PySide6.QtWidgets import QWizard

        from tessera.core import age
        from tessera.gui.enrol_wizard import EnrolWizard, KeyChoice

        if self.scale != 1:
            return
        context = window.context  # type: ignore[attr-defined]
        wizard = EnrolWizard(context, window)  # type: ignore[arg-type]
        wizard.show()
        self.save(wizard, "enrol-1-person")
        wizard.person_page.name.setText("Dana Whitfield")
        wizard.person_page.contact.setText("dana@example.invalid")
        wizard.person_page.role.setText("Database owner")
        self.save(wizard, "enrol-1-person-filled")
        wizard.next()
        self.save(wizard, "enrol-2-kind")
        wizard.next()
        self.save(wizard, "enrol-3-device")
        wizard.enrol_page.begin()
        self.wait_until(lambda: wizard.token is not None and wizard.currentPage()
                        is wizard.result_page)
        wizard.result_page.run_test()
        self.wait_until(lambda: wizard.result_page.test_result.text().startswith(("✓", "✗")))
        self.save(wizard, "enrol-4-result")
        wizard.accept()

        wizard = EnrolWizard(context, window)  # type: ignore[arg-type]
        wizard.show()
        wizard.person_page.name.setText("Frank Osei")
        wizard.person_page.role.setText("On-call lead")
        wizard.next()
        wizard.kind_page.buttons[KeyChoice.REMOTE].setChecked(True)
        wizard.next()
        wizard.recipient_page.recipient.setText(
            age.X25519Identity.generate().recipient.to_string())
        self.save(wizard, "enrol-3-recipient")
        wizard.button(QWizard.WizardButton.CommitButton).click()
        self.save(wizard, "enrol-4-result-remote")
        wizard.accept()

    def create_wizard(self, window: object) -> None:
        from PySide6.QtCore import Qt

        from tessera.gui import print_sheets
        from tessera.gui.create_wizard import CreateRecordWizard

        if self.scale != 1:
            return
        context = window.context  # type: ignore[attr-defined]
        wizard = CreateRecordWizard(context, window)  # type: ignore[arg-type]
        wizard.show()
        facts = wizard.facts_page
        facts.label.setText("Prod AWS root — break-glass")
        facts.system.setText("AWS")
        facts.account.setText("1234-5678-9012")
        facts.owner.setText("Platform")
        facts.environment.setCurrentText("production")
        self.save(wizard, "create-1-facts")
        wizard.next()
        people = wizard.custodians_page
        for i in range(people.people.count()):
            item = people.people.item(i)
            if item.text().split(" — ")[0] in ("Alice", "Bob", "Carol"):
                item.setCheckState(Qt.CheckState.Checked)
        people.threshold.setValue(1)
        self.save(wizard, "create-2-custodians-refused")
        people.threshold.setValue(2)
        self.save(wizard, "create-2-custodians")
        people.editor.use_groups.setChecked(True)
        people.editor.group_threshold.setValue(2)
        ids = people.editor.chosen()
        people.editor.set_group(ids[0], 0)
        people.editor.set_group(ids[1], 1)
        people.editor.set_group(ids[2], 1)
        people.editor.group_spins[1].setValue(2)
        self.save(wizard, "create-2-custodians-groups")
        people.editor.use_groups.setChecked(False)
        wizard.next()
        secret = wizard.secret_page
        secret.typed.setText("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        secret.confirm.setText("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        self.save(wizard, "create-3-secret")
        wizard.next()
        self.save(wizard, "create-4-review")
        wizard.next()
        print_sheets.preview_sheets = lambda _p, _s, _paper: True  # type: ignore[assignment]
        wizard.preview_sheets()
        envelopes = wizard.done_page.envelopes
        if envelopes is not None:
            for row in range(envelopes.table.rowCount()):
                envelopes.set_envelope(row, f"TE-{4711 + row}")
            envelopes.witness.setText("Grace Hopper")
        self.save(wizard, "create-5-sealed")
        handoff = wizard.done_page.handoff
        handoff.hand_copy.setChecked(True)
        dialog = handoff.show_words()
        if dialog is not None:
            self.save(dialog, "create-6-hand-copy-ask")
            dialog.reveal()
            self.save(dialog, "create-6-hand-copy-words")
            dialog.reject()
        wizard.accept()

    def lifecycle_screens(self, window: object) -> None:
        from tessera.gui.policy_dialog import PolicyDialog
        from tessera.gui.reshare_window import ReshareWindow, RevokeWindow
        from tessera.gui.rewrap_wizard import RewrapWizard
        from tessera.gui.rotate_wizard import RotateWizard

        if self.scale != 1:
            return
        context = window.context  # type: ignore[attr-defined]
        record = context.vault.get_record("Demo: CI deploy key")
        for name, widget, size in (
                ("reshare-request", ReshareWindow(context, record.id), (820, 720)),
                ("revoke-request", RevokeWindow(context, record.id), (820, 640)),
                ("rotate-1-reason", RotateWizard(context, record.id), (720, 620)),
                ("rewrap-1-whose", RewrapWizard(context, record.id), (720, 640)),
                ("policy-record", PolicyDialog(context, record.id), (520, 380))):
            widget.resize(*size)
            widget.show()
            self.save(widget, name)
            if name == "rewrap-1-whose":
                widget.next()  # type: ignore[attr-defined]
                self.save(widget, "rewrap-2-prove")
            widget.close()

    def release_window(self, window: object) -> None:
        from tessera.gui.release_window import ReleaseWindow

        context = window.context  # type: ignore[attr-defined]
        record = context.vault.get_record("Demo: CI deploy key")
        release = ReleaseWindow(context, record.id, None)
        release.resize(820, 640)
        release.show()
        self.save(release, "release-request")
        # The ceremony under way: Alice has approved with her key, Bob and Carol wait.
        release.reason_edit.setText("Deploy key leaked in a CI log; install a fresh one")
        release.ticket_edit.setText("INC-1042")
        release.start()
        self.wait_until(lambda: release.ceremony is not None)
        alice = next(s for s in release.ceremony.slots() if s.name == "Alice")
        release.contribute_token(alice.custodian_id, alice.tokens[0].id)
        self.wait_until(lambda: release.ceremony.progress().describe() == "1 of 2"
                        and release.job is None)
        self.save(release, "release-progress")
        release.ceremony.abort()
        release.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
