"""Fixtures for lifecycle tests: the ceremony vault of tests/helpers (Alice on a
virtual FIDO2 key, Bob on a virtual YubiKey PIV, Carol on a software key; 2 of 3)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers.ceremony import Ceremony, ScriptedPrompts, build


@pytest.fixture()
def c(tmp_path: Path) -> Ceremony:
    return build(tmp_path)


Approve = Callable[..., None]


@pytest.fixture()
def approve(c: Ceremony) -> Approve:
    """``approve(ceremony, "Alice", "Bob")``: each approves with their virtual token."""

    def run(ceremony: object, *names: str) -> None:
        for name in names:
            ceremony.contribute_token(  # type: ignore[attr-defined]
                c.tokens[name].id, ScriptedPrompts(), threading.Event())

    return run
