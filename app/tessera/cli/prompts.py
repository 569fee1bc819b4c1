"""Terminal implementation of the token prompts (PIN, new PIN, touch notices).

Prompts go to stderr; answers come from the terminal without echo, or — when stdin
is not a terminal — one line at a time from stdin, so every flow can be scripted.
"""

from __future__ import annotations

import getpass
import sys
import threading


def read_line(prompt: str, *, secret: bool) -> str | None:
    """One answer from the person (or from stdin); None at end of input."""
    if sys.stdin.isatty():
        try:
            if secret:
                return getpass.getpass(prompt, stream=sys.stderr)
            sys.stderr.write(prompt)
            sys.stderr.flush()
            return input()
        except (EOFError, KeyboardInterrupt) as exc:
            if getattr(exc, "signum", None):  # SIGTERM/SIGHUP: end, do not just cancel
                raise
            sys.stderr.write("\n")
            return None
    sys.stderr.write(prompt + "\n")
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        return None
    return line.rstrip("\r\n")


class TerminalPrompts:
    def __init__(self) -> None:
        self._lock = threading.Lock()

    def request_pin(self, token: str, attempts_left: int | None) -> str | None:
        left = "" if attempts_left is None else f" ({attempts_left} attempts left)"
        with self._lock:
            return read_line(f"PIN for {token}{left}: ", secret=True)

    def request_new_pin(self, token: str, reason: str) -> str | None:
        with self._lock:
            sys.stderr.write(f"{reason}\n")
            first = read_line(f"New PIN for {token}: ", secret=True)
            if not first:
                return None
            second = read_line("Repeat it: ", secret=True)
            if second != first:
                sys.stderr.write("The two entries differ; nothing was changed.\n")
                return None
            return first

    def touch_needed(self, token: str) -> None:
        sys.stderr.write(f"Touch {token} now…\n")
        sys.stderr.flush()

    def touch_done(self, token: str) -> None:
        pass

    def notice(self, message: str) -> None:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()

    def key_missing(self, which: str) -> None:
        """The key is not plugged in: say which, and that Tessera carries on by itself."""
        sys.stderr.write(f"Insert {which}: waiting for it… (Ctrl+C stops)\n")
        sys.stderr.flush()

    def key_arrived(self) -> None:
        pass
