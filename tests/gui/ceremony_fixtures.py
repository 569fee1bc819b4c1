"""Fixtures for the ceremony windows: a demo vault on virtual keys, its AppContext, Qt hygiene.

Test modules import what they use explicitly (``from gui.ceremony_fixtures import ...``);
``tests/gui/conftest.py`` belongs to the shell's tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, QtMsgType

from tessera.custody.demo import DEMO_PIN, DEMO_RECORD, build_demo_vault
from tessera.custody.drivers import TokenDrivers
from tessera.gui.context import AppContext
from tessera.gui.worker import TokenWorker
from tessera.tokens.base import TokenInfo
from tessera.tokens.virtual.devices import VirtualDevices
from tessera.vault import Vault

ACTOR = "ceremony test"

# The offscreen platform says what it cannot do (raise, grab, size hints); not our bugs.
_HARMLESS = ("This plugin does not support",)


@dataclass
class DemoSetup:
    context: AppContext
    record_id: str
    tokens: dict[str, TokenInfo]  # custodian name -> token
    words: dict[str, str]  # custodian name -> the words on their sealed sheet
    custodian_ids: dict[str, str]  # custodian name -> id

    @property
    def vault(self) -> Vault:
        return self.context.vault

    def key(self, name: str):  # the custodian's virtual key
        token = self.tokens[name]
        return next(k for k in self.context.virtual.keys if k.name == token.label)


@pytest.fixture(name="worker")
def worker_fixture(qtbot) -> Iterator[TokenWorker]:
    w = TokenWorker()
    yield w
    w.shutdown()


@pytest.fixture(name="demo")
def demo_fixture(tmp_path: Path, worker: TokenWorker) -> Iterator[DemoSetup]:
    """The demo vault (Alice FIDO2, Bob PIV, Carol FIDO2; a 2-of-3 record), touch manual."""
    path = tmp_path / "vault.sqlite3"
    sheets: dict[str, str] = {}
    built = build_demo_vault(path, touch="immediate", on_mnemonics=sheets.update)
    vault = Vault.open(path)
    virtual = VirtualDevices.for_vault(path, touch="immediate")
    drivers = TokenDrivers.for_vault(path, demo=True, **virtual.providers())
    context = AppContext(vault, path, drivers, actor=ACTOR, demo=True, virtual=virtual,
                         worker=worker)
    record = vault.get_record(DEMO_RECORD)
    manifest = vault.get_version(record.id).manifest
    words = {e.custodian: sheets[e.key] for e in manifest.shares}
    sheets.clear()
    ids = {e.custodian: e.custodian_id for e in manifest.shares}
    yield DemoSetup(context, record.id, dict(built.tokens), words, ids)
    worker.shutdown()
    vault.close()


@pytest.fixture(name="fail_on_qt_warnings")
def fail_on_qt_warnings_fixture(qtlog) -> Iterator[None]:
    """Fail the test when Qt printed a warning we did not expect."""
    yield
    bad = [r.message for r in qtlog.records
           if r.type in (QtMsgType.QtWarningMsg, QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg)
           and not any(h in r.message for h in _HARMLESS)]
    assert not bad, f"unexpected Qt warnings: {bad}"


def answer_pin(pin: str = DEMO_PIN):
    """A replacement for ``PinDialog.ask`` that types ``pin`` and records the question."""
    asked: list[int | None] = []

    def ask(parent, token, attempts_left, done):
        asked.append(attempts_left)
        done(pin)
        return None

    ask.asked = asked  # type: ignore[attr-defined]
    return ask


class Ticker(QObject):
    """Counts QTimer ticks: proof that the GUI event loop keeps turning."""

    def __init__(self, interval_ms: int = 10) -> None:
        from PySide6.QtCore import QTimer

        super().__init__()
        self.ticks = 0
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        self.ticks += 1


# Fixtures are registered under their short names ("demo", "worker", ...) when a test
# module imports these functions.
FIXTURES = (demo_fixture, fail_on_qt_warnings_fixture, worker_fixture)
