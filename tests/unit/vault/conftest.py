"""The vault tests' populated worlds hold virtual FIDO2 keys (proven under the demo CA,
which these tests' workstation trusts: tests/helpers/attestation.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _trusts_demo_ca(trust_demo_ca):  # type: ignore[no-untyped-def]
    return trust_demo_ca
