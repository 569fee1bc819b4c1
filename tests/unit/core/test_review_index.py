"""The review answers per record and per holder from an index: the same findings, in
the same order, as reading the whole list."""

from __future__ import annotations

from tessera.core.review import DrillDue, Finding, FindingKind, Review, Severity


def test_findings_and_drills_per_record_match_a_full_scan() -> None:
    findings = tuple(
        Finding(FindingKind.NEVER_DRILLED, Severity.LOW, f"rec-{n % 7}", f"Record {n % 7}",
                f"finding {n}", custodian=("Alice", "Bob", "")[n % 3])
        for n in range(60))
    drills = tuple(
        DrillDue(f"rec-{n % 7}", f"Record {n % 7}", f"c{n}", "Alice", f"tok-{n % 4}",
                 "Alice's key", None, f"2026-01-{n % 28 + 1:02d}T00:00:00Z", n % 2 == 0)
        for n in range(30))
    review = Review("2026-02-01T00:00:00Z", (), findings, drills)
    for record in (f"rec-{n}" for n in range(8)):
        assert review.findings_for(record) == [f for f in findings if f.record_id == record]
        for who in ("Alice", "Bob", "", "Carol"):
            assert review.findings_for(record, who) == [
                f for f in findings if f.record_id == record and f.custodian == who]
        for token in (f"tok-{n}" for n in range(5)):
            assert review.drill_for(record, token) == next(
                (d for d in drills if d.record_id == record and d.token_id == token), None)
    review.findings_for("rec-1").clear()  # a caller changing its list changes nothing
    assert len(review.findings_for("rec-1")) == 9
