"""Why a plugged-in FIDO2 key cannot be seen on Linux: a hidraw node this user may not open.

python-fido2 skips ``/dev/hidraw*`` nodes it cannot open, so without this check a
custodian whose key lacks the udev rule hears "no security key found" with the key in
the port. The report descriptor in sysfs is world-readable, so Tessera can tell a FIDO
device (usage page 0xF1D0) from a keyboard without opening it, and name the fix.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tessera.core.errors import TokenError

SYS_HIDRAW = Path("/sys/class/hidraw")
DEV = Path("/dev")
FIDO_USAGE_PAGE = b"\x06\xd0\xf1"  # HID item "Usage Page (0xF1D0)", CTAP 2.1 §11.2.8.1

UDEV_FIX = (
    "install the udev rule that lets the logged-in user open security keys: "
    "'sudo apt install libu2f-udev' (or copy Yubico's 70-u2f.rules to /etc/udev/rules.d/ "
    "and run 'sudo udevadm control --reload && sudo udevadm trigger'), then unplug the "
    "key and plug it back in"
)


class HidAccessDenied(TokenError):
    """A FIDO2 key is plugged in but its hidraw device cannot be opened by this user."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        super().__init__(
            f"A security key is plugged in ({', '.join(paths)}) but this user may not open "
            f"it. To fix it, {UDEV_FIX}."
        )


def unopenable_fido_devices(sys_dir: Path = SYS_HIDRAW, dev_dir: Path = DEV) -> list[str]:
    """The FIDO hidraw nodes that opening read-write refuses with a permission error."""
    if not sys.platform.startswith("linux"):
        return []
    try:
        entries = sorted(sys_dir.iterdir())
    except OSError:  # no hidraw class at all (no HID devices) or unreadable sysfs
        return []
    denied: list[str] = []
    for entry in entries:
        try:
            descriptor = (entry / "device" / "report_descriptor").read_bytes()
        except OSError:
            continue
        if FIDO_USAGE_PAGE not in descriptor:
            continue
        node = dev_dir / entry.name
        try:
            fd = os.open(node, os.O_RDWR)
        except PermissionError:
            denied.append(str(node))
            continue
        except OSError:
            continue  # gone meanwhile
        os.close(fd)
    return denied


def check_hid_access(sys_dir: Path = SYS_HIDRAW, dev_dir: Path = DEV) -> None:
    """Raise :class:`HidAccessDenied` when a FIDO key is present but unopenable."""
    denied = unopenable_fido_devices(sys_dir, dev_dir)
    if denied:
        raise HidAccessDenied(denied)
