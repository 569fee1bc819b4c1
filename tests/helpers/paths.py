"""Where the repository and the shared test data are (CI: ``<repo>/../shared``)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED_TESTDATA = REPO.parent / "shared" / "testdata"


def vector_path(*parts: str) -> Path:
    path = SHARED_TESTDATA.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"published test vectors missing: {path} (the shared/ folder must sit beside "
            "the repository, as in CI)")
    return path
