"""Wait for a custodian's key: "Insert Carol's key", then carry on by itself.

As Yubico Authenticator and Trezor Suite do, a step that needs a key which is not
plugged in does not fail with "this is not Carol's key". :func:`wait_for_key` asks the
driver, silently (no PIN, no touch), whether the key is there; if not, it tells the
front end through the optional ``key_missing`` / ``key_arrived`` methods of its
prompts and looks again until the key appears or the step is cancelled.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from tessera.core.errors import UserCancelled
from tessera.custody.drivers import TokenDrivers
from tessera.tokens.base import TokenInfo

POLL_SECONDS = 0.3  # how often a missing key is looked for


def key_name(token: TokenInfo) -> str:
    """ "Carol's key (Carol's security key)", or just the label when it names her."""
    if token.custodian_name.lower() in token.label.lower():
        return token.label
    return f"{token.custodian_name}'s key ({token.label})"


def wait_for_key(drivers: TokenDrivers, token: TokenInfo, prompts: Any,
                 cancel: threading.Event) -> None:
    """Return once ``token``'s key is plugged in, asking for it meanwhile (worker thread).

    When the driver cannot tell (``present`` gives ``None``) the operation goes ahead
    and the device call says what is wrong. Raises :class:`UserCancelled` on cancel.
    """
    driver = drivers.for_token(token)
    present: Callable[[TokenInfo], bool | None] | None = getattr(driver, "present", None)
    if present is None or present(token) is not False:
        return
    missing = getattr(prompts, "key_missing", None)
    arrived = getattr(prompts, "key_arrived", None)
    if missing is not None:
        missing(key_name(token))
    try:
        while not cancel.wait(POLL_SECONDS):
            if present(token) is not False:
                return
        raise UserCancelled()
    finally:
        if arrived is not None:
            arrived()
