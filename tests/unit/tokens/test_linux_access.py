"""Linux permission problems name their fix: the udev rule, or starting pcscd."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tessera.tokens.hid_access import HidAccessDenied, check_hid_access, unopenable_fido_devices

FIDO_DESCRIPTOR = bytes.fromhex("06d0f10901a1010920150026ff007508954081020921150026ff00750895409102c0")
KEYBOARD_DESCRIPTOR = bytes.fromhex("05010906a101050719e029e7150025017501950881020501c0")
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def tree():
    """A folder the unprivileged child can reach (pytest's tmp_path is root-only)."""
    base = Path(tempfile.mkdtemp(prefix="tessera-hidraw-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base)


def fake_hidraw(tmp_path: Path, name: str, descriptor: bytes, mode: int) -> tuple[Path, Path]:
    sys_dir, dev_dir = tmp_path / "sys", tmp_path / "dev"
    (sys_dir / name / "device").mkdir(parents=True)
    (sys_dir / name / "device" / "report_descriptor").write_bytes(descriptor)
    dev_dir.mkdir(exist_ok=True)
    node = dev_dir / name
    node.write_bytes(b"")
    node.chmod(mode)
    sys_dir.chmod(0o755)
    tmp_path.chmod(0o755)
    for p in (sys_dir / name, sys_dir / name / "device", dev_dir):
        p.chmod(0o755)
    (sys_dir / name / "device" / "report_descriptor").chmod(0o444)
    return sys_dir, dev_dir


def run_as_unprivileged(sys_dir: Path, dev_dir: Path) -> str:
    """The check in a process that really lacks the permission (root opens anything).

    As root a forked child drops to ``nobody`` first; it runs the already loaded code
    and reports through a pipe.
    """
    if os.geteuid() != 0:
        try:
            check_hid_access(sys_dir, dev_dir)
        except HidAccessDenied as e:
            return str(e)
        return "ok"
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        text = ""
        try:
            os.setgid(65534)
            os.setuid(65534)
            try:
                check_hid_access(sys_dir, dev_dir)
                text = "ok"
            except HidAccessDenied as e:
                text = str(e)
        except BaseException as e:  # reported to the parent, which fails the test
            text = f"child failed: {e!r}"
        try:
            os.write(write_end, text.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        text = pipe.read().decode()
    os.waitpid(pid, 0)
    return text


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="hidraw is Linux only")
def test_a_fido_key_this_user_may_not_open_names_the_udev_rule(tree: Path):
    sys_dir, dev_dir = fake_hidraw(tree, "hidraw3", FIDO_DESCRIPTOR, 0o600 if
                                   os.geteuid() == 0 else 0o000)
    message = run_as_unprivileged(sys_dir, dev_dir)
    assert "hidraw3" in message and "udev rule" in message and "libu2f-udev" in message


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="hidraw is Linux only")
def test_an_unopenable_keyboard_is_not_a_security_key(tree: Path):
    sys_dir, dev_dir = fake_hidraw(tree, "hidraw0", KEYBOARD_DESCRIPTOR, 0o600 if
                                   os.geteuid() == 0 else 0o000)
    assert run_as_unprivileged(sys_dir, dev_dir) == "ok"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="hidraw is Linux only")
def test_an_openable_key_is_fine(tmp_path: Path):
    sys_dir, dev_dir = fake_hidraw(tmp_path, "hidraw1", FIDO_DESCRIPTOR, 0o666)
    assert unopenable_fido_devices(sys_dir, dev_dir) == []
    check_hid_access(sys_dir, dev_dir)
    assert issubclass(HidAccessDenied, Exception)


def test_pcscd_not_running_names_systemctl_start(tmp_path: Path):
    """A real PC/SC client with no service behind its socket, through the real CLI."""
    env = {**os.environ, "PCSCLITE_CSOCK_NAME": str(tmp_path / "no-pcscd.comm"),
           "TESSERA_VAULT": str(tmp_path / "vault.sqlite3"), "TESSERA_ACTOR": "op"}
    tessera = Path(sys.executable).with_name("tessera")
    subprocess.run([tessera, "init"], env=env, check=True, capture_output=True)
    listing = subprocess.run([tessera, "token", "list"], env=env, capture_output=True,
                             text=True, check=False)
    assert listing.returncode == 0
    assert "sudo systemctl start pcscd" in listing.stderr
