"""Quorum releases with their approvals, and drills.

A release is opened for the record's current version with the canonical request the
tokens sign; each custodian approves once; completing it needs approvals that meet
the manifest's quorum and marks the record *released — rotation due* in the same
transaction.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable

from tessera.core import canonical, process
from tessera.core.errors import (
    FormatError,
    InputError,
    IntegrityError,
    NotFound,
    PolicyError,
    QuorumNotMet,
)
from tessera.core.manifest import Manifest
from tessera.core.process import Liveness, ProcessStamp
from tessera.core.request import MAX_REASON, MAX_TICKET, Request
from tessera.core.token_types import ApprovalMethod, Evidence, TokenInfo, TokenState

from .codec import MAX_NAME, clean_text, enum_value, evidence_from_json, evidence_json
from .custodians import KIND_NAMES
from .errors import Conflict
from .models import (
    Approval,
    Custodian,
    Drill,
    RecordState,
    Release,
    ReleaseState,
    VersionData,
)
from .records import RecordsMixin

MAX_REQUEST = 16 * 1024
_CLOSED_RECORD_STATES = (RecordState.RETIRED, RecordState.SUPERSEDED)
QUORUM_PURPOSES = ("release", "reshare")


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _owner_text(stamp: ProcessStamp) -> str:
    return canonical.dumps({"host": stamp.host, "boot_id": stamp.boot_id, "pid": stamp.pid,
                            "started": stamp.started}).decode("utf-8")


def _owner_from_text(text: str | None) -> ProcessStamp | None:
    """The stored stamp; None when absent or unreadable (then nothing is expired)."""
    if not text:
        return None
    try:
        data = canonical.loads(text.encode("utf-8"))
        return ProcessStamp(host=str(data["host"]), boot_id=str(data["boot_id"]),
                            pid=int(data["pid"]), started=str(data["started"]))
    except (FormatError, KeyError, TypeError, ValueError):
        return None


def quorum_progress(manifest: Manifest, custodian_ids: Iterable[str]) -> tuple[int, int]:
    """(have, need) for the given approving custodians.

    With one group: shares held against the threshold. With several: groups whose
    member threshold is met against the group threshold.
    """
    # A custodian holding several shares approves once per share.
    approvals: dict[str, int] = {}
    for cid in custodian_ids:
        approvals[cid] = approvals.get(cid, 0) + 1
    held = [0] * len(manifest.groups)
    for share in manifest.shares:
        if approvals.get(share.custodian_id, 0) > 0:
            approvals[share.custodian_id] -= 1
            held[share.group] += 1
    if len(manifest.groups) == 1:
        return held[0], manifest.groups[0].threshold
    met = sum(1 for g, n in zip(manifest.groups, held, strict=True) if n >= g.threshold)
    return met, manifest.group_threshold


class ReleasesMixin(RecordsMixin):
    """Releases, approvals and drills."""

    # -- releases ------------------------------------------------------------------
    def start_release(self, record_id: str, request_bytes: bytes, release_id: str,
                      reason: str, ticket: str, requested_by: str, *,
                      purpose: str = "release",
                      owner_stamp: ProcessStamp | None = None) -> Release:
        """Open a release of the record's current version.

        ``request_bytes`` is the canonical :class:`~tessera.core.request.Request` the
        approving tokens sign; it must describe this release exactly. ``purpose``
        "reshare" opens a quorum that makes a new share set: it is approved and
        checked like a release, but completing it reveals nothing and leaves the
        record's state alone. The release is stamped with the process running it
        (``owner_stamp``, this process by default): an open quorum whose process is
        provably gone is expired when the next one is asked for.
        """
        if purpose not in QUORUM_PURPOSES:
            raise ValueError(f"a quorum is opened for {' or '.join(QUORUM_PURPOSES)}")
        reason = clean_text(_collapse(reason), "reason", MAX_REASON, required=True)
        ticket = clean_text(_collapse(ticket), "ticket reference", MAX_TICKET, required=True)
        requested_by = clean_text(_collapse(requested_by), "requester", MAX_NAME, required=True)
        if not isinstance(request_bytes, bytes) or len(request_bytes) > MAX_REQUEST:
            raise InputError("the release request must be bytes of at most 16 KiB")
        request = Request.from_bytes(request_bytes)
        with self.transaction() as conn:
            record = self.get_record(record_id)
            if record.state in _CLOSED_RECORD_STATES:
                raise PolicyError(f"record {record.label!r} is {record.state.display}; "
                                  "it cannot be released")
            current = self.get_version(record.id)
            expected = {
                "purpose": purpose, "request_id": release_id, "record_id": record.id,
                "version": current.version, "epoch": current.epoch,
                "manifest": current.manifest.digest.hex(), "reason": reason,
                "ticket": ticket, "requested_by": requested_by,
            }
            actual = request.to_json()
            wrong = sorted(k for k, v in expected.items() if actual.get(k) != v)
            if wrong:
                raise InputError("the release request does not describe this release "
                                 f"({', '.join(wrong)} differ)")
            if conn.execute("SELECT 1 FROM releases WHERE id = ?",
                            (release_id,)).fetchone() is not None:
                raise Conflict(f"release {release_id} already exists")
            self._expire_stale(record.id, requested_by)
            open_row = conn.execute("SELECT id, requested_by, requested_at, owner FROM releases"
                                    " WHERE record_id = ? AND state = 'open'",
                                    (record.id,)).fetchone()
            if open_row is not None:
                owner = _owner_from_text(open_row["owner"])
                where = f" by {owner.describe()}" if owner is not None else ""
                raise PolicyError(
                    f"a quorum of {record.label!r} requested by {open_row['requested_by']} at "
                    f"{open_row['requested_at']} is still open{where}; finish it there, or "
                    f"abort it: tessera release abort {open_row['id']}")
            request_hash = hashlib.sha256(request_bytes).hexdigest()
            stamp = owner_stamp or process.current()
            conn.execute("INSERT INTO releases (id, record_id, version, request, request_sha256,"
                         " reason, ticket, requested_by, requested_at, state, owner)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)",
                         (release_id, record.id, current.version, request_bytes, request_hash,
                          reason, ticket, requested_by, self.now(), _owner_text(stamp)))
            self._audit(requested_by, f"{purpose}.start", release_id, {
                "record_id": record.id, "label": record.label, "version": current.version,
                "fingerprint": current.fingerprint, "reason": reason, "ticket": ticket,
                "request_sha256": request_hash})
            return self.get_release(release_id)

    def get_release(self, release_id: str) -> Release:
        with self.reading() as conn:
            row = conn.execute("SELECT * FROM releases WHERE id = ?", (release_id,)).fetchone()
            if row is None:
                raise NotFound(f"there is no release {release_id!r} in this vault")
            approvals = conn.execute("SELECT * FROM approvals WHERE release_id = ? ORDER BY id", (release_id,)).fetchall()
        return self._release_from_rows(row, approvals)

    def list_releases(self, record_id: str | None = None) -> list[Release]:
        with self.reading() as conn:
            if record_id is None:
                ids = conn.execute("SELECT id FROM releases ORDER BY requested_at, rowid")
            else:
                record = self.get_record(record_id)
                ids = conn.execute("SELECT id FROM releases WHERE record_id = ?"
                                   " ORDER BY requested_at, rowid", (record.id,))
            return [self.get_release(r[0]) for r in ids.fetchall()]

    def _release_from_rows(self, row: sqlite3.Row, approvals: list[sqlite3.Row]) -> Release:
        where = f"release {row['id']}"
        items = tuple(
            Approval(release_id=a["release_id"], custodian_id=a["custodian_id"],
                     token_id=a["token_id"], method=enum_value(ApprovalMethod, a["method"], where),
                     evidence=evidence_from_json(a["evidence"], f"{where} approval evidence"),
                     at=a["at"])
            for a in approvals)
        request = row["request"]
        if hashlib.sha256(request).hexdigest() != row["request_sha256"]:
            raise IntegrityError(f"{where}: the stored request was changed or damaged")
        try:
            purpose = Request.from_bytes(request).purpose
        except FormatError:
            raise IntegrityError(f"{where}: the stored request is damaged") from None
        if purpose not in QUORUM_PURPOSES:
            raise IntegrityError(f"{where}: the stored request is for a {purpose}")
        return Release(id=row["id"], record_id=row["record_id"], version=row["version"],
                       request=request, reason=row["reason"], ticket=row["ticket"],
                       requested_by=row["requested_by"], requested_at=row["requested_at"],
                       state=enum_value(ReleaseState, row["state"], where), finished_at=row["finished_at"],
                       approvals=items, purpose=purpose)

    def _open_release(self, release_id: str) -> Release:
        release = self.get_release(release_id)
        if release.state is not ReleaseState.OPEN:
            raise PolicyError(f"release {release_id} is already {release.state.value}")
        return release

    def _share_holder(self, manifest: Manifest, custodian_id: str) -> Custodian:
        custodian = self.get_custodian(custodian_id)
        if not manifest.shares_of(custodian.id):
            raise PolicyError(f"{custodian.name} holds no share of version {manifest.version}")
        return custodian

    def _check_token_use(self, data: VersionData, custodian: Custodian, token_id: str | None,
                         method: ApprovalMethod, evidence_token: str | None) -> TokenInfo | None:
        """The token used is this custodian's, active, holds their share, fits the method."""
        if method is ApprovalMethod.PAPER:
            if token_id is not None:
                raise InputError("a paper-sheet contribution names no token")
            return None
        if token_id is None:
            raise InputError(f"a {method.value} approval must name the token used")
        if evidence_token is not None and evidence_token != token_id:
            raise InputError("the evidence was produced by a different token")
        token = self.get_token(token_id)
        if token.custodian_id != custodian.id:
            raise PolicyError(f"that token belongs to {token.custodian_name}, not {custodian.name}")
        if token.state is not TokenState.ACTIVE:
            raise PolicyError(f"{custodian.name}'s token {token.label!r} is {token.state.value}")
        if token.kind.value != method.value:
            raise InputError(f"a {KIND_NAMES[token.kind]} cannot give a {method.value} approval")
        if not data.holds(custodian.id, token):
            raise PolicyError(f"{custodian.name}'s share of this version is not wrapped to "
                              f"{token.label!r}")
        return token

    def add_approval(self, release_id: str, custodian_id: str, token_id: str | None,
                     evidence: Evidence, actor: str) -> Approval:
        """Record one custodian's approval (their token's signed evidence, or paper)."""
        method = ApprovalMethod(evidence.method)
        evidence_text = evidence_json(evidence)
        with self.transaction() as conn:
            release = self._open_release(release_id)
            data = self.get_version(release.record_id, release.version)
            manifest = data.manifest
            custodian = self._share_holder(manifest, custodian_id)
            self._check_token_use(data, custodian, token_id, method, evidence.token_id)
            given = sum(1 for a in release.approvals if a.custodian_id == custodian.id)
            if given >= len(manifest.shares_of(custodian.id)):
                raise Conflict(f"{custodian.name} has already approved this release")
            at = self.now()
            conn.execute("INSERT INTO approvals (release_id, custodian_id, token_id, method,"
                         " evidence, at) VALUES (?, ?, ?, ?, ?, ?)",
                         (release.id, custodian.id, token_id, method.value, evidence_text, at))
            have, need = quorum_progress(
                manifest, [*(a.custodian_id for a in release.approvals), custodian.id])
            self._audit(actor, f"{release.purpose}.approve", release.id, {
                "custodian_id": custodian.id, "custodian": custodian.name, "method": method.value,
                "token_id": token_id, "algorithm": evidence.algorithm,
                "progress": f"{min(have, need)} of {need}"})
            return Approval(release.id, custodian.id, token_id, method, evidence, at)

    def finish_release(self, release_id: str, outcome: ReleaseState | str, actor: str) -> Release:
        """Complete ("released", needs a met quorum) or abort an open release."""
        result = ReleaseState(outcome)
        if result is ReleaseState.OPEN:
            raise ValueError("a release finishes as released or aborted")
        with self.transaction() as conn:
            release = self._open_release(release_id)
            record = self.get_record(release.record_id)
            now = self.now()
            details: dict[str, object] = {"record_id": record.id, "label": record.label,
                                          "version": release.version,
                                          "approvals": len(release.approvals)}
            if result is ReleaseState.RELEASED:
                manifest = self.get_version(record.id, release.version).manifest
                have, need = quorum_progress(manifest, (a.custodian_id for a in release.approvals))
                if have < need:
                    raise QuorumNotMet(have, need)
            if result is ReleaseState.RELEASED and release.purpose == "release":
                conn.execute("UPDATE records SET state = 'released', state_reason = ?,"
                             " state_since = ?, last_release_at = ? WHERE id = ?",
                             (f"released for {release.ticket}", now, now, record.id))
                details["record_state"] = RecordState.RELEASED.value
            conn.execute("UPDATE releases SET state = ?, finished_at = ? WHERE id = ?",
                         (result.value, now, release.id))
            action = (f"{release.purpose}.complete" if result is ReleaseState.RELEASED
                      else f"{release.purpose}.abort")
            self._audit(actor, action, release.id, details)
            return self.get_release(release.id)

    def release_owner(self, release_id: str) -> ProcessStamp | None:
        """The process that opened the release (None for one opened before this was kept)."""
        with self.reading() as conn:
            row = conn.execute("SELECT owner FROM releases WHERE id = ?",
                               (release_id,)).fetchone()
            if row is None:
                raise NotFound(f"there is no release {release_id!r} in this vault")
            return _owner_from_text(row["owner"])

    def abort_release(self, release_id: str, actor: str, *, force: bool = False) -> Release:
        """Abort an open quorum left behind (a closed terminal, a killed process).

        One still being run by a live process on this machine is refused unless
        ``force``: aborting it would pull the quorum from under custodians at work.
        The audit entry names who aborted it and which process had it open.
        """
        with self.transaction():
            release = self._open_release(release_id)
            owner = self.release_owner(release.id)
            alive = Liveness.UNKNOWN if owner is None else process.liveness(owner)
            if alive is Liveness.RUNNING and not force:
                raise PolicyError(
                    f"release {release.id} is still being run by {owner.describe()}"  # type: ignore[union-attr]
                    "; finish or cancel it there (or abort it anyway with --force)")
            return self._close_open(release, actor, "abort", {
                "owner": owner.describe() if owner else "unknown",
                "owner_state": alive.value})

    def _expire_stale(self, record_id: str, actor: str) -> list[Release]:
        """Abort the record's open quorums whose process is provably gone (audited)."""
        conn = self._require_write()
        expired = []
        for row in conn.execute("SELECT id, owner FROM releases WHERE record_id = ?"
                                " AND state = 'open'", (record_id,)).fetchall():
            owner = _owner_from_text(row["owner"])
            if owner is None or process.liveness(owner) is not Liveness.GONE:
                continue
            release = self.get_release(row["id"])
            expired.append(self._close_open(release, actor, "expire", {
                "owner": owner.describe(), "owner_state": Liveness.GONE.value}))
        return expired

    def _close_open(self, release: Release, actor: str, verb: str,
                    extra: dict[str, object]) -> Release:
        conn = self._require_write()
        record = self.get_record(release.record_id)
        conn.execute("UPDATE releases SET state = 'aborted', finished_at = ? WHERE id = ?",
                     (self.now(), release.id))
        self._audit(actor, f"{release.purpose}.{verb}", release.id, {
            "record_id": record.id, "label": record.label, "version": release.version,
            "approvals": len(release.approvals), **extra})
        return self.get_release(release.id)

    # -- drills --------------------------------------------------------------------
    def record_drill(self, record_id: str, version: int, custodian_id: str,
                     token_id: str | None, method: ApprovalMethod | str, ok: bool,
                     evidence: Evidence | None, actor: str) -> Drill:
        """Log a drill; a passed one updates the token's and the record's last drill."""
        how = ApprovalMethod(method)
        evidence_text = None if evidence is None else evidence_json(evidence)
        with self.transaction() as conn:
            record = self.get_record(record_id)
            data = self.get_version(record.id, version)
            custodian = self._share_holder(data.manifest, custodian_id)
            token = self._check_token_use(data, custodian, token_id, how,
                                          None if evidence is None else evidence.token_id)
            at = self.now()
            conn.execute("INSERT INTO drills (record_id, version, custodian_id, token_id, method,"
                         " ok, at, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (record.id, version, custodian.id, token_id, how.value, int(bool(ok)),
                          at, evidence_text))
            if ok:
                conn.execute("UPDATE records SET last_drill_at = ? WHERE id = ?", (at, record.id))
                if token is not None:
                    conn.execute("UPDATE tokens SET last_drill_at = ? WHERE id = ?",
                                 (at, token.id))
            self._audit(actor, "drill.pass" if ok else "drill.fail", record.id, {
                "label": record.label, "version": version, "custodian_id": custodian.id,
                "custodian": custodian.name, "token_id": token_id, "method": how.value})
            return Drill(record.id, version, custodian.id, token_id, how, bool(ok), at, evidence)

    def list_drills(self, record_id: str | None = None,
                    custodian_id: str | None = None) -> list[Drill]:
        clauses: list[str] = []
        args: list[str] = []
        if record_id is not None:
            clauses.append("record_id = ?")
            args.append(self.get_record(record_id).id)
        if custodian_id is not None:
            clauses.append("custodian_id = ?")
            args.append(custodian_id)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        with self.reading() as conn:
            # Only fixed fragments are joined; every value is a bound parameter.
            rows = conn.execute("SELECT * FROM drills" + where + " ORDER BY id",  # noqa: S608
                                args).fetchall()
        return [Drill(r["record_id"], r["version"], r["custodian_id"], r["token_id"],
                      enum_value(ApprovalMethod, r["method"], f"drill {r['id']}"), bool(r["ok"]), r["at"],
                      None if r["evidence"] is None
                      else evidence_from_json(r["evidence"], f"drill {r['id']} evidence"))
                for r in rows]
