"""Wait for a custodian's key: "Insert Carol's key", then carry on by itself.

As Yubico Authenticator and Trezor Suite do, a step that needs a key which is not
plugged in does not fail with "this is not Carol's key". :func:`run_with_key` runs the
step; only when it fails the way a missing key makes it fail does it ask the driver,
silently (no PIN, no touch), whether the key is there. If not, it tells the front end
through the optional ``key_missing`` / ``key_arrived`` methods of its prompts, looks
again until the key appears (or the step is cancelled), and runs the step again.

Looking only after a failure keeps the usual path (the key is there) exactly as it was:
a YubiKey behind pcscd is not opened twice in a row, which a reader can refuse
("sharing violation") while it still settles from the first opening.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from tessera.core.errors import NoKeyFound, UserCancelled, WrongToken
from tessera.custody.drivers import TokenDrivers
from tessera.tokens.base import TokenInfo

T = TypeVar("T")

POLL_SECONDS = 0.3  # how often a missing key is looked for
SETTLE_SECONDS = 0.5  # a key just plugged in is left to settle before it is used


def key_name(token: TokenInfo) -> str:
    """ "Carol's key (Carol's security key)", or just the label when it names her."""
    if token.custodian_name.lower() in token.label.lower():
        return token.label
    return f"{token.custodian_name}'s key ({token.label})"


def wait_for_key(drivers: TokenDrivers, token: TokenInfo, prompts: Any,
                 cancel: threading.Event) -> bool:
    """If ``token``'s key is not plugged in, ask for it and return once it is (True).

    False when the key is there, or when the driver cannot tell (``present`` gives
    ``None``): then nothing was waited for. Raises :class:`UserCancelled` on cancel.
    """
    driver = drivers.for_token(token)
    present: Callable[[TokenInfo], bool | None] | None = getattr(driver, "present", None)
    if present is None or present(token) is not False:
        return False
    missing = getattr(prompts, "key_missing", None)
    arrived = getattr(prompts, "key_arrived", None)
    if missing is not None:
        missing(key_name(token))
    try:
        while not cancel.wait(POLL_SECONDS):
            if present(token) is not False:
                return True
        raise UserCancelled()
    finally:
        if arrived is not None:
            arrived()


def run_with_key(drivers: TokenDrivers, token: TokenInfo, prompts: Any,
                 cancel: threading.Event, step: Callable[[], T]) -> T:
    """Run ``step``; if it failed because ``token``'s key is not plugged in, ask for the
    key, wait for it and run ``step`` again. A key that is there but is not the right
    one keeps its "this is not Carol's key"."""
    try:
        return step()
    except (WrongToken, NoKeyFound):
        if not wait_for_key(drivers, token, prompts, cancel):
            raise
    if cancel.wait(SETTLE_SECONDS):
        raise UserCancelled()
    return step()
