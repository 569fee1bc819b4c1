"""Tessera's age files open in the stock ``age`` binary, and the binary's files open in Tessera.

This is the promise of DESIGN §2: recovery never depends on Tessera. ``age`` reads
passphrases only from a terminal, so the scrypt cases drive it through a pseudo-terminal.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import select
import shutil
import subprocess
import termios
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tessera.core.age import (
    PivP256Recipient,
    ScryptIdentity,
    ScryptRecipient,
    X25519Identity,
    X25519Recipient,
    decrypt,
    encrypt,
    read_stanzas,
)

pytestmark = pytest.mark.interop

SIZES = [0, 1, 64 * 1024, 64 * 1024 + 1, 200 * 1024 + 7]
PASSPHRASE = "correct horse battery staple"
# A public key from age-plugin-yubikey's own output (see test_age_piv.py): stock age
# has no plugin for it, and must still parse the stanza and skip it.
YUBIKEY_RECIPIENT = "age1yubikey1qgad8tvv2y97zflqndlnms0ajtk7my54u9299v6ep5jrgpm08rtdjt6sus7"


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"the `{name}` binary is needed for the age interoperability tests: "
            "run `apt-get install age` (the Makefile's bootstrap installs it)"
        )
    return path


def _plaintext(size: int) -> bytes:
    # Deterministic, incompressible-looking content so chunk boundaries carry real data.
    blocks = (hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(size // 32 + 1))
    return b"".join(blocks)[:size]


@dataclass(frozen=True)
class StockKey:
    """A key pair made by age-keygen: its key file and its public recipient."""

    key_file: Path
    recipient: str


@pytest.fixture(scope="module")
def age() -> str:
    return _binary("age")


@pytest.fixture(scope="module")
def stock_keys(tmp_path_factory: pytest.TempPathFactory) -> list[StockKey]:
    keygen = _binary("age-keygen")
    keys = []
    for n in range(2):
        key_file = tmp_path_factory.mktemp("keys") / f"key{n}.txt"
        subprocess.run([keygen, "-o", str(key_file)], check=True, capture_output=True)
        recipient = subprocess.run(
            [keygen, "-y", str(key_file)], check=True, capture_output=True, text=True
        ).stdout.strip()
        keys.append(StockKey(key_file, recipient))
    return keys


def _identity_of(key: StockKey) -> X25519Identity:
    lines = key.key_file.read_text().splitlines()
    secret = next(line for line in lines if line.startswith("AGE-SECRET-KEY-1"))
    return X25519Identity.from_string(secret)


def _run_with_terminal(
    args: Sequence[str], answers: Sequence[str]
) -> subprocess.CompletedProcess[bytes]:
    """Run ``args`` with a pseudo-terminal as its controlling terminal, answering passphrase prompts.

    Output must go to files (``-o``): stdout is only drained after the process ends.
    """
    master, slave = os.openpty()

    def become_terminal_owner() -> None:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        list(args),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=become_terminal_owner,
        pass_fds=(slave,),
    )
    os.close(slave)
    pending = [answer.encode() + b"\n" for answer in answers]
    prompt = b""
    try:
        while process.poll() is None:
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(master, 1024)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            prompt += chunk
            if pending and b"passphrase" in prompt.lower() and prompt.rstrip().endswith(b":"):
                os.write(master, pending.pop(0))
                prompt = b""
        stdout, stderr = process.communicate(timeout=60)
    finally:
        os.close(master)
    assert not pending, f"age did not ask for every passphrase: {stderr!r}"
    return subprocess.CompletedProcess(list(args), process.returncode or 0, stdout, stderr)


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
@pytest.mark.parametrize("size", SIZES)
def test_stock_age_opens_tessera_file(
    age: str, stock_keys: list[StockKey], tmp_path: Path, size: int, armor: bool
) -> None:
    plaintext = _plaintext(size)
    recipients = [
        X25519Identity.generate().recipient,
        *(X25519Recipient.from_string(key.recipient) for key in stock_keys),
        PivP256Recipient.from_string(YUBIKEY_RECIPIENT),
    ]
    encrypted = tmp_path / "share.age"
    encrypted.write_bytes(encrypt(plaintext, recipients, armor=armor))
    for key in stock_keys:
        result = subprocess.run(
            [age, "-d", "-i", str(key.key_file), str(encrypted)], capture_output=True, check=False
        )
        assert result.returncode == 0, result.stderr.decode()
        assert result.stdout == plaintext


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
@pytest.mark.parametrize("size", [0, 1, 64 * 1024, 200 * 1024 + 7])
def test_tessera_opens_stock_age_file(
    age: str, stock_keys: list[StockKey], tmp_path: Path, size: int, armor: bool
) -> None:
    plaintext = _plaintext(size)
    source = tmp_path / "plain.bin"
    source.write_bytes(plaintext)
    encrypted = tmp_path / "out.age"
    args = [age, *(["-a"] if armor else []), "-o", str(encrypted)]
    for key in stock_keys:
        args += ["-r", key.recipient]
    subprocess.run([*args, str(source)], check=True, capture_output=True)

    data = encrypted.read_bytes()
    assert data.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----") == armor
    assert [s.type for s in read_stanzas(data)] == ["X25519", "X25519"]
    for key in stock_keys:
        assert decrypt(data, [_identity_of(key)]) == plaintext


def test_tessera_opens_stock_passphrase_file(age: str, tmp_path: Path) -> None:
    plaintext = _plaintext(1000)
    source = tmp_path / "plain.bin"
    source.write_bytes(plaintext)
    encrypted = tmp_path / "out.age"
    result = _run_with_terminal(
        [age, "-p", "-o", str(encrypted), str(source)], [PASSPHRASE, PASSPHRASE]
    )
    assert result.returncode == 0, result.stderr.decode()
    data = encrypted.read_bytes()
    assert [s.type for s in read_stanzas(data)] == ["scrypt"]
    assert decrypt(data, [ScryptIdentity(PASSPHRASE)]) == plaintext


def test_stock_age_opens_tessera_passphrase_file(age: str, tmp_path: Path) -> None:
    plaintext = _plaintext(70_000)
    encrypted = tmp_path / "out.age"
    encrypted.write_bytes(encrypt(plaintext, [ScryptRecipient(PASSPHRASE, work_factor=10)]))
    decrypted = tmp_path / "out.bin"
    result = _run_with_terminal([age, "-d", "-o", str(decrypted), str(encrypted)], [PASSPHRASE])
    assert result.returncode == 0, result.stderr.decode()
    assert decrypted.read_bytes() == plaintext


def test_stock_age_rejects_tessera_file_for_other_key(
    age: str, stock_keys: list[StockKey], tmp_path: Path
) -> None:
    encrypted = tmp_path / "share.age"
    encrypted.write_bytes(
        encrypt(b"secret", [X25519Recipient.from_string(stock_keys[0].recipient)])
    )
    result = subprocess.run(
        [age, "-d", "-i", str(stock_keys[1].key_file), str(encrypted)],
        capture_output=True,
        check=False,
    )
    assert result.returncode != 0
    assert result.stdout == b""
