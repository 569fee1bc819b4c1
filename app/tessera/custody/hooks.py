"""The revocation hook: a per-record command run after a completed release.

An organisation uses it to disable the credential that was just released (revoke
the API key, flag the break-glass account) so "released — rotation due" turns into
action without anyone remembering. The command is an argument list run without a
shell; the record id and the release id are appended as its last two arguments.
Its environment is a short allow-list (no vault path, no token facts, nothing from
the operator's environment that could be secret); stdin is empty. Its exit status
and the tail of its output are written to the audit log; a failure or a timeout is
returned to the caller to show, never swallowed.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from tessera.core import canonical
from tessera.core.errors import IntegrityError
from tessera.custody.signing import verify_vault
from tessera.vault import Vault

# Names copied from the operator's environment: enough to find programs and speak the
# right language, nothing that usually carries a credential.
ENV_ALLOW = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
             "SYSTEMROOT", "WINDIR", "COMSPEC", "PATHEXT")
OUTPUT_TAIL = 2000  # characters of stdout / stderr kept in the audit entry at most
KEEP_BYTES = 4 * OUTPUT_TAIL  # bytes of each stream held while the hook runs
TAIL_JSON_BYTES = 3000  # the JSON form of a kept tail (the log keeps 4 KiB a value)


@dataclass(frozen=True)
class HookOutcome:
    """What the hook did: ``ok`` only when it ran, finished in time and exited 0."""

    record_id: str
    release_id: str
    command: tuple[str, ...]
    exit_status: int | None
    timed_out: bool
    stdout: str
    stderr: str
    error: str = ""  # why it could not run at all (program missing, not executable)

    @property
    def ok(self) -> bool:
        return self.exit_status == 0 and not self.timed_out and not self.error

    def describe(self) -> str:
        """One sentence for the operator."""
        name = os.path.basename(self.command[0]) if self.command else "the hook"
        if self.error:
            return f"the revocation hook {name} could not run: {self.error}"
        if self.timed_out:
            return f"the revocation hook {name} did not finish in time and was stopped"
        if self.exit_status == 0:
            return f"the revocation hook {name} succeeded"
        tail = (self.stderr or self.stdout).strip().splitlines()
        last = f": {tail[-1][:200]}" if tail else ""
        return f"the revocation hook {name} failed with exit status {self.exit_status}{last}"


def hook_environment(source: Mapping[str, str] | None = None, *, record_id: str,
                     release_id: str) -> dict[str, str]:
    """The allow-listed environment the hook runs with."""
    env = {k: v for k, v in (os.environ if source is None else source).items()
           if k in ENV_ALLOW}
    env.setdefault("PATH", os.defpath)
    env["TESSERA_RECORD_ID"] = record_id
    env["TESSERA_RELEASE_ID"] = release_id
    return env


def run_revocation_hook(vault: Vault, record_id: str, release_id: str, *,
                        actor: str) -> HookOutcome | None:
    """Run the record's hook for a completed release; ``None`` when it has none.

    Blocks until the hook ends or its timeout passes (call it from a worker thread
    in the GUI). The outcome is in the audit log as ``hook.run`` or ``hook.fail``.
    """
    release = vault.get_release(release_id)
    # Run a hook only as the vault's signed log has it: a row planted after the vault
    # was opened (a shared drive, a window left open) would run with the operator's
    # rights. Nothing is run and nothing written; the caller says so.
    state = verify_vault(vault)
    if not state.ok:
        return HookOutcome(record_id, release.id, (), None, False, "", "",
                           f"the vault does not verify ({state.problem}), so no hook was "
                           "run — run `tessera audit verify`")
    try:
        hook = vault.revocation_hook(record_id)
    except IntegrityError as exc:
        # A damaged stored hook must not go unnoticed: log the failure and say it.
        record = vault.get_record(record_id)
        outcome = HookOutcome(record.id, release.id, (), None, False, "", "", str(exc))
        vault.append_audit(actor, "hook.fail", record.id, {
            "release_id": release.id, "error": outcome.error})
        return outcome
    if hook is None:
        return None
    argv = [*hook.command, hook.record_id, release.id]
    outcome = _run(argv, hook.timeout_seconds,
                   hook_environment(record_id=hook.record_id, release_id=release.id),
                   hook.record_id, release.id)
    vault.append_audit(actor, "hook.run" if outcome.ok else "hook.fail", hook.record_id, {
        "release_id": release.id, "command": list(hook.command),
        "exit_status": outcome.exit_status, "timed_out": outcome.timed_out,
        "timeout_seconds": hook.timeout_seconds, "error": outcome.error,
        "stdout": log_tail(outcome.stdout), "stderr": log_tail(outcome.stderr)})
    return outcome


def log_tail(text: str, budget: int = TAIL_JSON_BYTES) -> str:
    """The end of ``text`` made safe for the audit log, whatever bytes it held: control
    characters (terminal escapes included) shown as ``\\xNN``, and cut from the front
    until its JSON form fits ``budget`` bytes (the log keeps at most 4 KiB a value)."""
    shown = "".join(c if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cs")
                    else f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
                    for c in text[-OUTPUT_TAIL:])
    while len(canonical.dumps(shown)) > budget:
        shown = shown[len(shown) // 8 or 1:]
    return shown


def _run(argv: list[str], timeout: int, env: dict[str, str], record_id: str,
         release_id: str) -> HookOutcome:
    command = tuple(argv[:-2])
    posix = os.name == "posix"
    try:
        # No shell, fixed argv chosen by the record's administrator, minimal environment.
        proc = subprocess.Popen(  # noqa: S603
            argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=posix)
    except OSError as exc:
        return HookOutcome(record_id, release_id, command, None, False, "", "",
                           exc.strerror or type(exc).__name__)
    if posix:
        out, err, timed_out = _collect(proc, timeout)
    else:  # pragma: no cover - Windows pipes cannot be selected on
        timed_out = False
        try:
            raw_out, raw_err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill(proc, posix)
            raw_out, raw_err = proc.communicate()
        out, err = bytearray(raw_out[-KEEP_BYTES:]), bytearray(raw_err[-KEEP_BYTES:])
    return HookOutcome(record_id, release_id, command, None if timed_out else proc.returncode,
                       timed_out, _text(out), _text(err))


def _collect(proc: subprocess.Popen[bytes], timeout: int) -> tuple[bytearray, bytearray, bool]:
    """Read the hook's output until both pipes close or the timeout passes, keeping only
    the last :data:`KEEP_BYTES` of each (a hook printing 200 MB costs no memory). On
    timeout the hook's process group is killed and its pipes are abandoned: a child
    that left the group with ``setsid`` and still holds them cannot keep us waiting."""
    assert proc.stdout is not None and proc.stderr is not None  # noqa: S101 - PIPE above
    kept = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    deadline = time.monotonic() + timeout
    timed_out = False
    with selectors.DefaultSelector() as selector:
        for pipe in (proc.stdout, proc.stderr):
            selector.register(pipe, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = proc.poll() is None
                break
            for key, _ in selector.select(left):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                buffer = kept[key.fd]
                buffer += chunk
                del buffer[:-KEEP_BYTES]
    out, err = kept[proc.stdout.fileno()], kept[proc.stderr.fileno()]
    proc.stdout.close()
    proc.stderr.close()
    if not timed_out:
        try:  # the pipes are closed; the hook itself may still be running
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
    if timed_out:
        _kill(proc, True)  # the hook and everything still in its process group
    proc.wait()
    return out, err, timed_out


def _kill(proc: subprocess.Popen[bytes], posix: bool) -> None:
    """Stop the hook and anything it started (its own process group on POSIX)."""
    if posix:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
            return
        except (ProcessLookupError, PermissionError):
            pass
    proc.kill()


def _text(data: bytes | bytearray | None) -> str:
    return bytes(data or b"").decode("utf-8", "replace")[-OUTPUT_TAIL:]
