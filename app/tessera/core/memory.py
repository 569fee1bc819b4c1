"""Overwrite secret bytes once they have served (DEKs, secrets, shares in ``bytearray``s).

Python cannot promise that no copy survives elsewhere in memory, but the buffers Tessera
controls are zeroed as soon as they are no longer needed.
"""

from __future__ import annotations


def wipe(buffer: bytearray) -> None:
    """Zero ``buffer`` in place (its length is kept)."""
    buffer[:] = bytes(len(buffer))
