"""Software tokens: keys in the OS keyring, or in a passphrase-protected file where no
keyring works; exported identities open shares with the stock `age` binary."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from tessera.core import age
from tessera.core.errors import PinInvalid, WrongToken
from tessera.tokens.base import TokenInfo
from tessera.tokens.software import SoftwareDriver, SoftwareKeyStore, enroll, keyring_available


class Prompts:
    def __init__(self, passphrase: str | None = "horse battery") -> None:
        self.passphrase = passphrase
        self.asked = 0

    def request_pin(self, token: str, attempts_left: int | None) -> str | None:
        self.asked += 1
        return self.passphrase

    def request_new_pin(self, token: str, reason: str) -> str | None:
        return self.passphrase

    def touch_needed(self, token: str) -> None:
        raise AssertionError("a software key needs no touch")

    def touch_done(self, token: str) -> None:
        pass

    def notice(self, message: str) -> None:
        pass


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


def token_of(enrolled, token_id: str = "t1") -> TokenInfo:  # type: ignore[no-untyped-def]
    return TokenInfo(token_id, "c1", "Carol", enrolled.kind, enrolled.label, enrolled.recipient,
                     enrolled.facts)


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SoftwareKeyStore:
    monkeypatch.delenv("TESSERA_PASSPHRASE", raising=False)
    return SoftwareKeyStore(tmp_path / "keys", use_keyring=False, work_factor=10)


def test_file_store_round_trip_and_wrong_passphrase(store: SoftwareKeyStore) -> None:
    enrolled = enroll("Carol", store, Prompts())
    files = list(store.directory.iterdir())
    assert len(files) == 1 and oct(files[0].stat().st_mode & 0o777) == "0o600"
    assert oct(store.directory.stat().st_mode & 0o777) == "0o700"
    assert b"AGE-SECRET-KEY" not in files[0].read_bytes()
    token = token_of(enrolled)
    envelope = age.encrypt(b"share words", [age.parse_recipient(enrolled.recipient)])
    driver = SoftwareDriver(store)
    challenge = os.urandom(32)
    unlocked = driver.unlock(token, envelope, challenge, Prompts(), threading.Event())
    assert bytes(unlocked.share) == b"share words"
    assert driver.verify(token, challenge, unlocked.evidence)
    assert not driver.verify(token, os.urandom(32), unlocked.evidence)
    assert not driver.verify(token_of(enrolled, "t2"), challenge, unlocked.evidence)
    with pytest.raises(PinInvalid):
        driver.unlock(token, envelope, challenge, Prompts("wrong"), threading.Event())


def test_an_envelope_for_someone_else_names_the_custodian(store: SoftwareKeyStore) -> None:
    enrolled = enroll("Carol", store, Prompts())
    other = age.X25519Identity.generate()
    envelope = age.encrypt(b"x", [other.recipient])
    with pytest.raises(WrongToken, match="Carol"):
        SoftwareDriver(store).unlock(token_of(enrolled), envelope, os.urandom(32), Prompts(),
                                     threading.Event())


def test_passphrase_from_the_environment(store: SoftwareKeyStore,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_PASSPHRASE", "from env")
    prompts = Prompts(None)
    enrolled = enroll("Carol", store, prompts)
    envelope = age.encrypt(b"x", [age.parse_recipient(enrolled.recipient)])
    unlocked = SoftwareDriver(store).unlock(token_of(enrolled), envelope, os.urandom(32),
                                            prompts, threading.Event())
    assert bytes(unlocked.share) == b"x" and prompts.asked == 0


def test_keyring_store_writes_no_file(tmp_path: Path) -> None:
    backend = MemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        assert keyring_available()
        store = SoftwareKeyStore(tmp_path / "keys")
        assert store.use_keyring
        enrolled = enroll("Carol", store, Prompts())
        assert enrolled.facts["store"] == "keyring"
        assert not (tmp_path / "keys").exists()
        assert len(backend.items) == 1
        envelope = age.encrypt(b"x", [age.parse_recipient(enrolled.recipient)])
        unlocked = SoftwareDriver(store).unlock(token_of(enrolled), envelope, os.urandom(32),
                                                Prompts(), threading.Event())
        assert bytes(unlocked.share) == b"x"
    finally:
        keyring.set_keyring(previous)


@pytest.mark.interop
def test_exported_identity_opens_the_share_with_stock_age(store: SoftwareKeyStore,
                                                          tmp_path: Path) -> None:
    binary = shutil.which("age")
    assert binary, "the age binary is missing: apt-get install age (make test installs it)"
    enrolled = enroll("Carol", store, Prompts())
    # Debian's age 1.1 knows no post-quantum identities: the classical line, for a
    # classical envelope (the hybrid line is tested with the age authors' npm client).
    identity = SoftwareDriver(store).export_identity(token_of(enrolled), Prompts(),
                                                     classical=True)
    key = tmp_path / "carol.key"
    key.write_text(identity + "\n")
    envelope = tmp_path / "share.age"
    envelope.write_bytes(age.encrypt(b"thirty-three words", [age.parse_recipient(
        enrolled.recipient)]))
    out = subprocess.run([binary, "-d", "-i", str(key), str(envelope)], capture_output=True,
                         check=True, timeout=30)
    assert out.stdout == b"thirty-three words"
