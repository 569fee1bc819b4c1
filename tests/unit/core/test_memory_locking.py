"""The DEK is kept out of swap while it exists (mlock), where the limits permit it.

Read from ``/proc/self/status`` (VmLck: locked memory of this process), so it is what
the kernel says, not what our code believes.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

import pytest

from tessera.core import dumps, quorum

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc (Linux)")


def locked_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmLck:"):
            return int(line.split()[1])
    raise AssertionError("no VmLck line")


def may_lock() -> bool:
    soft, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    return soft == resource.RLIM_INFINITY or soft >= 64 * 1024


@pytest.mark.skipif(not may_lock(), reason="RLIMIT_MEMLOCK below 64 KiB here")
def test_lock_pages_locks_and_unlocks() -> None:
    before = locked_kib()
    buffer = bytearray(16 * 1024)
    with dumps.pages_locked(buffer) as locked:
        assert locked
        assert locked_kib() >= before + 16
    assert locked_kib() == before


@pytest.mark.skipif(not may_lock(), reason="RLIMIT_MEMLOCK below 64 KiB here")
def test_the_dek_is_locked_while_the_payload_is_decrypted(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    from tessera.core.age import X25519Identity
    from tessera.core.manifest import new_record_id
    from tessera.core.sealing import RecordFacts, ShareHolder, seal_version

    ids = {f"c{i}": X25519Identity.generate() for i in range(3)}
    holders = [ShareHolder(c, c, (i.recipient.to_string(),)) for c, i in ids.items()]
    words: dict[str, str] = {}
    sealed = seal_version(b"secret", RecordFacts("r", {}), 1, [(2, holders)],
                          record_id=new_record_id(), version=1, epoch=1, created_by="t",
                          on_mnemonics=words.update)
    session = quorum.QuorumSession(sealed.manifest)
    for entry in sealed.manifest.shares[:2]:
        session.offer(entry.custodian_id, words[entry.key], method="software")
    seen: list[int] = []
    real = quorum.decrypt_payload
    base = locked_kib()

    def spy(dek: bytearray, *args: object) -> bytearray:
        seen.append(locked_kib())
        return real(dek, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(quorum, "decrypt_payload", spy)
    assert bytes(session.release(sealed.ciphertext)) == b"secret"
    assert seen and seen[0] > base
    assert locked_kib() == base
