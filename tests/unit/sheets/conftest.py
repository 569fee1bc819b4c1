"""Sheet tests paint with Qt: make sure an application object exists first."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _qt_application(qapp):  # pytest-qt's QApplication; painting needs one
    return qapp
