"""A commit waiting for its signatures (a person's PIN and touch) does not stop other
threads from reading: they see the last committed state, never the pending change."""

from __future__ import annotations

import threading
from pathlib import Path

from tessera.vault import Vault


class SlowSigner:
    """Signs only when told to, as a key waits for its touch."""

    token_id = "slow-token"

    def __init__(self) -> None:
        self.waiting = threading.Event()
        self.touched = threading.Event()

    def sign(self, challenge: bytes) -> dict[str, object]:
        self.waiting.set()
        self.touched.wait()
        return {"token_id": self.token_id, "method": "software", "algorithm": "none",
                "signature": "", "data": {}}


def test_reads_from_another_thread_see_the_committed_state_while_a_commit_is_signed(
        tmp_path: Path) -> None:
    vault = Vault.open(tmp_path / "vault.sqlite3", create=True)
    vault.add_custodian("Alice", "", "", actor="op")
    signer = SlowSigner()
    failures: list[BaseException] = []

    def write() -> None:
        try:
            with vault.signed_by(signer):
                vault.add_custodian("Bob", "", "", actor="op")
        except BaseException as exc:  # reported below
            failures.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert signer.waiting.wait(30)
        # The writer holds the vault while its key waits: a read is not held up until
        # the touch (before this design it waited for it), and Bob, not yet signed and
        # committed, is not in it.
        seen: list[object] = []
        reader = threading.Thread(target=lambda: seen.extend(
            ([c.name for c in vault.list_custodians()], vault.audit_head()[0])))
        reader.start()
        reader.join(30)  # a guard against hanging the run, not a speed check
        assert not reader.is_alive(), "the read waited for the signature"
        assert seen == [["Alice"], 2]  # vault.create, custodian.add (Alice)
    finally:
        signer.touched.set()
        writer.join(30)
    assert not failures
    assert [c.name for c in vault.list_custodians()] == ["Alice", "Bob"]
    vault.close()


def test_a_write_from_another_thread_is_refused_as_busy_while_a_commit_is_signed(
        tmp_path: Path) -> None:
    import pytest

    from tessera.core.errors import NotFound
    from tessera.vault.errors import VaultBusy

    vault = Vault.open(tmp_path / "vault.sqlite3", create=True)
    signer = SlowSigner()
    writer = threading.Thread(target=lambda: _signed_add(vault, signer, "Bob"))
    writer.start()
    outcome: list[BaseException | None] = []

    def other_write() -> None:
        try:
            vault.add_custodian("Carol", "", "", actor="op")
            outcome.append(None)
        except BaseException as exc:  # reported below
            outcome.append(exc)

    try:
        assert signer.waiting.wait(30)
        other = threading.Thread(target=other_write)
        other.start()
        other.join(30)  # a guard against hanging the run, not a speed check
        assert not other.is_alive(), "the write waited for the signature"
    finally:
        signer.touched.set()
        writer.join(30)
    assert len(outcome) == 1 and isinstance(outcome[0], VaultBusy)
    with pytest.raises(NotFound):  # nothing of Carol was written
        vault.get_custodian("Carol")
    assert [c.name for c in vault.list_custodians()] == ["Bob"]
    vault.close()


def _signed_add(vault: Vault, signer: SlowSigner, name: str) -> None:
    with vault.signed_by(signer):
        vault.add_custodian(name, "", "", actor="op")
