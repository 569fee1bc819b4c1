"""One version number everywhere: pyproject, the package, `tessera --version`, CHANGELOG,
the AppStream release, the kit's name (issue #15)."""

from __future__ import annotations

import importlib.util
import re
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import tessera
from helpers.cli import run

ROOT = Path(__file__).resolve().parents[3]
METAINFO = ROOT / "packaging" / "invalid.tessera_custody.Tessera.metainfo.xml"


def kit_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tessera_kit", ROOT / "packaging" / "kit.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pyproject_version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def changelog_release() -> tuple[str, str]:
    match = re.search(r"^## (\S+) — (\d{4}-\d{2}-\d{2})$", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert match, "CHANGELOG.md has no '## VERSION — DATE' entry"
    return match.group(1), match.group(2)


def test_package_and_command_say_the_pyproject_version() -> None:
    version = pyproject_version()
    assert tessera.__version__ == version
    result = run("--version")
    assert result.code == 0
    assert re.search(rf"\b{re.escape(version)}$", result.out.strip()), result.out


def test_changelog_and_metainfo_latest_release_is_this_version() -> None:
    version, date = changelog_release()
    assert version == pyproject_version()
    releases = ET.parse(METAINFO).getroot().findall("./releases/release")
    assert releases[0].get("version") == version
    assert releases[0].get("date") == date


def test_kit_name_carries_the_version() -> None:
    kit = kit_module()
    assert kit.version() == pyproject_version()
    assert kit.kit_name() == f"tessera-offline-kit-{pyproject_version()}-linux-x86_64"
