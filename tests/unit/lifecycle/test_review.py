"""The access review flags each finding on a vault built to contain it, and writes the
same review as CSV and PDF."""

from __future__ import annotations

import csv
import io
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from helpers.ceremony import Ceremony, ScriptedPrompts
from helpers.cli import run
from tessera.core.policy import SplitPlan
from tessera.core.review import (
    FindingKind,
    HolderView,
    RecordView,
    Review,
    TokenView,
    build_review,
    review_csv,
)
from tessera.custody.create import create_record
from tessera.custody.release import ReleaseCeremony, drill
from tessera.custody.reshare import ReshareCeremony
from tessera.custody.review import gather_review, overdue_drills
from tessera.sheets.review_report import write_review_pdf
from tessera.vault.sheet_registry import SheetRegistry


def kinds(review: Review, record_id: str) -> set[tuple[FindingKind, str]]:
    return {(f.kind, f.custodian) for f in review.findings_for(record_id)}


@pytest.fixture()
def audited(c: Ceremony) -> tuple[Ceremony, str]:
    """Deploy key: released, reshared (old sheets left), Alice drilled. Build signing:
    Alice holds two shares and Bob, a custodian, owns it."""
    prompts, cancel = ScriptedPrompts(), threading.Event()
    release = ReleaseCeremony(c.vault, c.drivers, c.record_id, reason="restore",
                              ticket="INC-1", requested_by="op")
    for name in ("Alice", "Bob"):
        release.contribute_token(c.tokens[name].id, prompts, cancel)
    release.finish()
    registry = SheetRegistry(c.vault)
    for share in c.vault.get_version(c.record_id).manifest.shares:
        registry.record_printed(f"OLD-{share.key.upper()}", c.record_id, 1, share.key,
                                actor="op")
    reshare = ReshareCeremony(c.vault, c.drivers, c.record_id, reason="r", ticket="T",
                              requested_by="op")
    for name in ("Alice", "Bob"):
        reshare.contribute_token(c.tokens[name].id, prompts, cancel)
    reshare.finish()
    drill(c.vault, c.drivers, c.record_id, c.tokens["Alice"].id, prompts, cancel, actor="op")
    other = create_record(c.vault, b"signing key", label="Build signing",
                          plan=SplitPlan.simple(2, ["Alice", "Alice", "Bob"]),
                          nhi={"owner": "bob"}, actor="op")
    return c, other.record_id


def test_review_flags_each_finding(audited: tuple[Ceremony, str]) -> None:
    c, signing = audited
    review = gather_review(c.vault)
    deploy = kinds(review, c.record_id)
    assert (FindingKind.ROTATION_DUE, "") in deploy
    assert (FindingKind.SHEETS_OUTSTANDING, "") in deploy
    assert (FindingKind.SOFTWARE_ON_HARDWARE_ONLY, "Carol") in deploy
    assert {(FindingKind.NEVER_DRILLED, "Bob"), (FindingKind.NEVER_DRILLED, "Carol")} <= deploy
    assert (FindingKind.NEVER_DRILLED, "Alice") not in deploy
    assert not any(k is FindingKind.LOSS_BELOW_THRESHOLD for k, _ in deploy)
    assert not any(k in (FindingKind.DRILL_OVERDUE, FindingKind.ROTATION_OVERDUE)
                   for k, _ in deploy)
    sheets = next(f for f in review.findings_for(c.record_id)
                  if f.kind is FindingKind.SHEETS_OUTSTANDING)
    assert "OLD-G0M0" in sheets.text
    build = kinds(review, signing)
    assert (FindingKind.MULTIPLE_SHARES, "Alice") in build
    assert (FindingKind.CUSTODIAN_IS_OWNER, "Bob") in build
    assert (FindingKind.LOSS_BELOW_THRESHOLD, "Alice") in build
    assert (FindingKind.LOSS_BELOW_THRESHOLD, "Bob") not in build
    # Who can hold it: custodian → tokens → kinds, K of N.
    view = next(r for r in review.records if r.record_id == c.record_id)
    assert view.k_of_n == "2 of 3" and view.epoch == 2
    assert {(h.name, t.kind) for h in view.holders for t in h.tokens} == {
        ("Alice", "fido2"), ("Bob", "piv"), ("Carol", "software")}


def test_time_makes_drills_and_rotations_overdue(audited: tuple[Ceremony, str]) -> None:
    c, signing = audited
    later = datetime.now(UTC) + timedelta(days=400)
    review = gather_review(c.vault, later)
    for record_id in (c.record_id, signing):
        found = kinds(review, record_id)
        assert (FindingKind.ROTATION_OVERDUE, "") in found
        assert (FindingKind.DRILL_OVERDUE, "Alice") in found
    assert not overdue_drills(c.vault)
    due = overdue_drills(c.vault, later)
    assert {(d.label, d.custodian) for d in due} >= {("Deploy key", "Alice"),
                                                     ("Build signing", "Bob")}
    # Changing the record's drill period moves the schedule.
    c.vault.set_record_policy(signing, {"drill_days": 1}, "op")
    tomorrow = datetime.now(UTC) + timedelta(days=2)
    assert {d.label for d in overdue_drills(c.vault, tomorrow)} == {"Build signing"}


def test_csv_and_pdf(audited: tuple[Ceremony, str], tmp_path: Path) -> None:
    c, _ = audited
    review = gather_review(c.vault)
    rows = list(csv.DictReader(io.StringIO(review_csv(review))))
    carol = next(r for r in rows if r["record"] == "Deploy key" and r["custodian"] == "Carol")
    assert carol["token_kind"] == "software" and carol["k_of_n"] == "2 of 3"
    assert "Software key on a hardware-only record" in carol["findings"]
    assert "Superseded sheets not destroyed" in carol["findings"]
    pdf = tmp_path / "review.pdf"
    assert write_review_pdf(review, pdf, vault_name="test") >= 1
    assert pdf.read_bytes().startswith(b"%PDF")
    assert pdf.stat().st_mode & 0o077 == 0


def test_review_through_the_cli(audited: tuple[Ceremony, str], tmp_path: Path) -> None:
    c, _ = audited
    c.vault.close()
    r = run("--vault", str(c.path), "review", "--csv", str(tmp_path / "r.csv"), "--pdf",
            str(tmp_path / "r.pdf"))
    assert r.code == 0, r.text
    assert "Build signing — sealed, 2 of 3" in r.out
    assert "[high] Single point of loss: Losing Alice" in r.out
    assert (tmp_path / "r.csv").read_text().startswith("record,record_id")
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
    assert "No drill is overdue." in run("--vault", str(c.path), "drill").out


def _view(**changes: object) -> RecordView:
    token = TokenView("t1", "key", "fido2", "active", "2026-01-01T00:00:00Z",
                      "2026-01-02T00:00:00Z", "2026-01-02T00:00:00Z")
    holders = tuple(HolderView(f"c{i}", name, "", "", (f"g{g}m{m}",), (g,), (token,))
                    for i, (name, g, m) in enumerate([("A", 0, 0), ("B", 0, 1), ("C", 1, 0),
                                                       ("D", 1, 1)]))
    base: dict[str, object] = dict(
        record_id="r", label="L", owner="", system="", environment="", state="sealed",
        state_display="sealed", state_reason="", state_since="2026-01-01T00:00:00Z",
        version=1, epoch=1, fingerprint="TSR-X", quorum="2 of 2 groups", group_threshold=2,
        groups=((2, 2), (1, 2)), holders=holders, hardware_only=True, drill_days=90,
        rotation_days=365, version_created_at="2026-01-01T00:00:00Z",
        secret_since="2026-01-01T00:00:00Z", last_release_at=None, outstanding_sheets=())
    base.update(changes)
    return RecordView(**base)  # type: ignore[arg-type]


def test_groups_and_paper_only_shares() -> None:
    now = datetime(2026, 2, 1, tzinfo=UTC)
    view = _view()
    found = {(f.kind, f.custodian) for f in build_review([view], now).findings}
    # Group 1 needs both A and B; group 2 needs either C or D.
    assert (FindingKind.LOSS_BELOW_THRESHOLD, "A") in found
    assert (FindingKind.LOSS_BELOW_THRESHOLD, "B") in found
    assert (FindingKind.LOSS_BELOW_THRESHOLD, "C") not in found
    lost = TokenView("t2", "old key", "piv", "lost", "2026-01-01T00:00:00Z", None, None)
    holders = (view.holders[0], view.holders[1], view.holders[2],
               HolderView("c3", "D", "", "", ("g1m1",), (1,), (lost,)))
    found = {(f.kind, f.custodian) for f in build_review([_view(holders=holders)],
                                                         now).findings}
    assert (FindingKind.PAPER_ONLY, "D") in found
    assert (FindingKind.NEVER_DRILLED, "D") not in found  # a lost token is not scheduled
    assert build_review([_view(state="retired", state_display="retired")], now).findings == ()


def test_drill_without_arguments_lists_overdue_drills(c: Ceremony,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import tessera.cli.release as release_cli

    class Later(datetime):
        @classmethod
        def now(cls, tz: object = None) -> Later:  # type: ignore[override]
            return cls.fromtimestamp(datetime.now(UTC).timestamp() + 100 * 86400, UTC)

    c.vault.close()
    monkeypatch.setattr(release_cli, "datetime", Later)
    r = run("--vault", str(c.path), "drill")
    assert r.code == 0, r.text
    assert "Overdue drills" in r.out
    lines = [line for line in r.out.splitlines() if "Deploy key" in line]
    assert len(lines) == 3 and all("(last never)" in line for line in lines)


def test_a_review_cannot_be_edited_after_it_was_made() -> None:
    """The GUI, the CSV and the PDF read one Review object: none of them (nor a plugin
    handed it) can change a record's view, a finding or a drill under the others."""
    review = build_review([_view()], datetime(2026, 6, 1, tzinfo=UTC))
    assert review.findings and review.drills
    for item, name, value in ((review.records[0], "state", "retired"),
                              (review.findings[0], "text", "nothing to see"),
                              (review.drills[0], "overdue", False)):
        with pytest.raises(AttributeError):
            setattr(item, name, value)
        assert getattr(item, name) != value
