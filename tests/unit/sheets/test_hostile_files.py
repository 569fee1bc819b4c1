"""Hostile files and paths: huge or crafted scans, symbolic links at output paths, a
careless umask, a vault path pointed at someone else's file, and processes killed
while they hold share content (nothing with share words may outlive them)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.cli import run
from tessera.core.errors import InputError
from tessera.sheets import scan

sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))
from test_cli_flow import create, setup_custodians, vault_path  # noqa: F401 (fixture)

HANG_GUARD_S = 120  # only so that a broken build cannot hang the suite


@pytest.fixture()
def umask_000() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def kill_when(proc: subprocess.Popen[str] | subprocess.Popen[bytes], marker: Path, *,
              group: bool = False) -> None:
    """SIGKILL ``proc`` (and its process group) as soon as it has created ``marker``."""
    guard = threading.Timer(HANG_GUARD_S, proc.kill)
    guard.start()
    try:
        while not marker.exists() and proc.poll() is None:
            threading.Event().wait(0.05)
        assert marker.exists(), f"{marker.name} never appeared"
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        guard.cancel()


# -- output paths -------------------------------------------------------------------------

def _release_out(out: Path) -> list[str]:
    return ["release", "AWS root", "--reason", "r", "--ticket", "T", "--approve", "Alice",
            "--approve", "Bob", "--out", str(out)]


OUTPUTS = {
    "audit export --out": lambda out: ["audit", "export", "--out", str(out)],
    "audit export --format csv": lambda out: ["audit", "export", "--format", "csv", "--out",
                                              str(out)],
    "export FILE": lambda out: ["export", "AWS root", str(out)],
    "review --csv": lambda out: ["review", "--csv", str(out)],
    "review --pdf": lambda out: ["review", "--pdf", str(out)],
    "release --out": _release_out,
}


@pytest.mark.usefixtures("vault_path")
@pytest.mark.parametrize("command", sorted(OUTPUTS))
def test_an_output_path_that_is_a_symlink_is_replaced_and_the_file_is_0600(
        tmp_path: Path, umask_000: None, command: str) -> None:
    setup_custodians()
    create()
    victim = tmp_path / "victim.txt"
    victim.write_text("someone else's file")
    out = tmp_path / "out.file"
    out.symlink_to(victim)
    r = run(*OUTPUTS[command](out))
    assert r.code == 0, r.text
    assert victim.read_text() == "someone else's file"
    assert not out.is_symlink()
    assert mode(out) == 0o600
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.usefixtures("vault_path")
def test_sheet_folders_are_0700_and_sheets_0600_under_umask_000(
        tmp_path: Path, umask_000: None) -> None:
    setup_custodians()
    create()
    out = tmp_path / "new" / "sheets"
    r = run("sheet", "print", "AWS root", "--out", str(out))
    assert r.code == 0, r.text
    assert mode(out) == 0o700 and mode(out.parent) == 0o700
    assert [mode(p) for p in out.glob("*.pdf")] == [0o600] * 3
    r = run("transcript", "AWS root", "--out", str(tmp_path / "t.pdf"))
    assert r.code == 0, r.text
    assert mode(tmp_path / "t.pdf") == 0o600


def test_vault_at_an_unrelated_file_is_refused_without_touching_it(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    notes.chmod(0o644)
    r = run("--vault", str(notes), "record", "list")
    assert r.code != 0 and "not a Tessera vault" in r.err
    assert mode(notes) == 0o644
    assert notes.read_text() == "my notes"


# -- sheet scan -----------------------------------------------------------------------------

def test_a_huge_file_is_refused_from_its_size_without_reading_it(tmp_path: Path) -> None:
    huge = tmp_path / "scan.png"
    with huge.open("wb") as f:
        f.truncate(8 * 2**30)  # 8 GiB, sparse
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="8192 MiB; a scan or photo of a sheet is under"):
            scan.scan_file(huge)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def _blank_pdf(path: Path, pages: int) -> Path:
    from PySide6.QtGui import QPageSize, QPainter, QPdfWriter

    writer = QPdfWriter(str(path))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    painter = QPainter(writer)
    for page in range(pages):
        if page:
            writer.newPage()
        painter.drawText(100, 100, f"page {page + 1}")
    painter.end()
    del writer
    return path


@pytest.fixture()
def spy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pdftoppm ahead of the real one on PATH that logs its environment and arguments."""
    folder = tmp_path / "bin"
    folder.mkdir()
    log = tmp_path / "pdftoppm.log"
    wrapper = folder / "pdftoppm"
    real = subprocess.run(["sh", "-c", "command -v pdftoppm"], capture_output=True,
                          text=True, check=False).stdout.strip()
    if not real:
        pytest.skip("poppler-utils (pdftoppm) is not installed")
    wrapper.write_text(f'#!/bin/sh\nenv >> "{log}"\necho "ARGS $*" >> "{log}"\n'
                       f'exec {real} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("TESSERA_PASSPHRASE", "correct horse battery staple")
    return log


def test_a_3000_page_pdf_is_refused_before_any_page_is_rasterised(tmp_path: Path,
                                                                    spy: Path) -> None:
    pdf = _blank_pdf(tmp_path / "many.pdf", 3000)
    with pytest.raises(InputError, match="3000 pages; Tessera reads at most 200"):
        scan.scan_file(pdf)
    assert not spy.exists()  # pdftoppm never ran


def test_pdftoppm_gets_a_minimal_environment(tmp_path: Path, spy: Path) -> None:
    scan.scan_file(_blank_pdf(tmp_path / "one.pdf", 1), dpi=50)
    logged = spy.read_text()
    assert "ARGS" in logged
    assert "TESSERA_PASSPHRASE" not in logged
    assert "correct horse" not in logged
    assert "TESSERA_VAULT" not in logged


def test_an_oversized_page_is_refused_with_its_size(tmp_path: Path) -> None:
    from PySide6.QtCore import QSizeF
    from PySide6.QtGui import QPageSize, QPainter, QPdfWriter

    path = tmp_path / "poster.pdf"
    writer = QPdfWriter(str(path))
    writer.setPageSize(QPageSize(QSizeF(2000, 2000), QPageSize.Unit.Millimeter))
    painter = QPainter(writer)
    painter.drawText(100, 100, "poster")
    painter.end()
    del writer
    with pytest.raises(InputError, match="page 1 is 2000 × 2000 mm; sheets are A4 or US Letter"):
        scan.scan_file(path)


def test_a_scan_killed_while_rasterising_leaves_no_page_images(tmp_path: Path) -> None:
    """pdftoppm finishes a page, then the scan is killed with SIGKILL: no rasterised page
    (which would show share QR codes) may be left in the temporary directory."""
    pdf = _blank_pdf(tmp_path / "sheet.pdf", 2)
    folder, temp, marker = tmp_path / "bin", tmp_path / "tmp", tmp_path / "rasterised"
    folder.mkdir()
    temp.mkdir()
    real = subprocess.run(["sh", "-c", "command -v pdftoppm"], capture_output=True,
                          text=True, check=False).stdout.strip()
    if not real:
        pytest.skip("poppler-utils (pdftoppm) is not installed")
    wrapper = folder / "pdftoppm"
    wrapper.write_text(f'#!/bin/sh\n{real} "$@" > "{tmp_path}/page.out"\n'
                       f'touch "{marker}"\nexec sleep 600\n')
    wrapper.chmod(0o755)
    env = {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}",
           "TMPDIR": str(temp), "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen([sys.executable, "-m", "tessera", "sheet", "scan", str(pdf),
                             "--dpi", "100"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    kill_when(proc, marker, group=True)
    assert [p.name for p in temp.rglob("*")] == []


# -- sheet printing killed mid-paint -------------------------------------------------------

KILLED_PAINTER = """
import os, sys, threading
import tessera.sheets.render as render
real = render.paint_sheets
def paint(*args, **kwargs):
    pages = real(*args, **kwargs)
    open(os.environ["PAINTED"], "w").close()
    threading.Event().wait(600)
    return pages
render.paint_sheets = paint
from tessera.launcher import main
main(sys.argv[1:])
"""


@pytest.mark.usefixtures("vault_path")
@pytest.mark.parametrize("command", ["sheet print", "record create --sheets"])
def test_sheets_killed_while_painting_leave_no_file(tmp_path: Path, command: str) -> None:
    setup_custodians()
    out, painted = tmp_path / "sheets", tmp_path / "painted"
    if command == "sheet print":
        create()
        args = ["sheet", "print", "AWS root", "--out", str(out)]
    else:
        args = ["record", "create", "--label", "GCP root", "--custodian", "Alice",
                "--custodian", "Bob", "--custodian", "Carol", "--threshold", "2",
                "--sheets", str(out)]
    env = {**os.environ, "PAINTED": str(painted), "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_PAINTER, *args], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, text=True)
    assert proc.stdin is not None
    proc.stdin.write("a secret to split\n")
    proc.stdin.close()
    kill_when(proc, painted)
    assert [p.name for p in out.iterdir()] == []  # no .pdf.tmp, no half PDF


def test_a_kept_demo_folder_is_0700_under_umask_000(tmp_path: Path, umask_000: None) -> None:
    folder = tmp_path / "kept" / "demo"
    r = run("demo", "--keep", str(folder))
    assert r.code == 0, r.text
    assert mode(folder) == 0o700 and mode(folder.parent) == 0o700
    assert mode(folder / "demo-vault.sqlite3") == 0o600
