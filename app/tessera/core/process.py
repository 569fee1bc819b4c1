"""Which process owns an open ceremony, and whether that process still runs.

An open release is stamped with its owner: host name, boot id, process id and the
process's start time. A process id alone is not enough: after a crash the number is
reused by an unrelated process, and a session would then look alive for ever. On
Linux the boot id (``/proc/sys/kernel/random/boot_id``) and the start time in clock
ticks since boot (field 22 of ``/proc/<pid>/stat``) make the stamp unique; elsewhere
the answer is "unknown" unless the process id is provably free, and nothing unknown
is ever expired automatically.
"""

from __future__ import annotations

import enum
import os
import platform
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


class Liveness(enum.Enum):
    RUNNING = "running"
    GONE = "gone"
    UNKNOWN = "unknown"  # another machine, or a platform where this cannot be told


@dataclass(frozen=True)
class ProcessStamp:
    """Who runs a ceremony: enough to tell later whether that very process is gone."""

    host: str
    boot_id: str
    pid: int
    started: str  # clock ticks since boot on Linux, "" where unknown

    def describe(self) -> str:
        return f"process {self.pid} on {self.host}"


def _boot_id(proc: Path) -> str:
    try:
        return (proc / "sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return ""


def _start_ticks(proc: Path, pid: int) -> str | None:
    """The process's start time, or None when there is no such process (Linux)."""
    try:
        stat = (proc / str(pid) / "stat").read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError:
        return ""
    # The command name (field 2) is in parentheses and may itself hold ") ": the
    # fields after it start after the last ")".
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else ""  # field 22 of the whole line


def current(proc: Path = PROC) -> ProcessStamp:
    """The stamp of this process."""
    pid = os.getpid()
    return ProcessStamp(host=platform.node(), boot_id=_boot_id(proc), pid=pid,
                        started=_start_ticks(proc, pid) or "")


def liveness(stamp: ProcessStamp, proc: Path = PROC) -> Liveness:
    """Whether the stamped process still runs, as far as this machine can tell."""
    here = current(proc)
    if stamp.host != here.host:
        return Liveness.UNKNOWN
    if stamp.boot_id and here.boot_id:
        if stamp.boot_id != here.boot_id:
            return Liveness.GONE  # the machine was restarted since
        started = _start_ticks(proc, stamp.pid)
        if started is None:
            return Liveness.GONE
        if started and stamp.started:
            return Liveness.RUNNING if started == stamp.started else Liveness.GONE
        return Liveness.UNKNOWN
    return Liveness.UNKNOWN
