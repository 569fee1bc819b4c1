"""The offline kit, proven: built once, verified, installed with no network, run.

Run by `make test-dist` (not by `make test`: building the kit takes minutes). The kit is
built by packaging/kit.py in the build environment (TESSERA_DIST_PYTHON, .venv-dist).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# (absolute: some builds run in another folder; not resolved, a venv's python is a link)
DIST_PYTHON = os.path.abspath(os.environ.get("TESSERA_DIST_PYTHON",
                                             str(ROOT / ".venv-dist" / "bin" / "python")))
KIT_PY = ROOT / "packaging" / "kit.py"
EPOCH = "1764633600"  # 2025-12-02T00:00:00Z: any fixed value will do
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
AS_ROOT = os.geteuid() == 0


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(*args: str, log: Path) -> None:
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH}
    started = time.monotonic()
    with log.open("w") as out:
        result = subprocess.run([DIST_PYTHON, str(KIT_PY), *args], stdout=out,
                                stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    text = log.read_text()
    print(f"\n[kit.py {args[0]}: {time.monotonic() - started:.0f} s]")
    print("\n".join(line for line in text.splitlines()
                    if line.startswith(("app build:", "kit:", "  ", "tarball:", "SHA256 of"))))
    assert result.returncode == 0, text[-4000:]


@pytest.fixture(scope="session")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A kit built earlier (with SOURCE_DATE_EPOCH=EPOCH), while working on these tests.
    if os.environ.get("TESSERA_TEST_KIT"):
        return Path(os.environ["TESSERA_TEST_KIT"])
    out = tmp_path_factory.mktemp("dist")
    build("kit", "--out", str(out), log=out / "build.log")
    path = out / f"tessera-offline-kit-{VERSION}-linux-x86_64"
    assert path.is_dir()
    return path


def lock_pins(text: str) -> dict[str, tuple[str, set[str]]]:
    pins: dict[str, tuple[str, set[str]]] = {}
    for block in re.split(r"\n(?=[a-z0-9])", text):
        match = re.match(r"([a-z0-9_.\-]+)==(\S+)", block)
        if match:
            pins[match.group(1)] = (match.group(2).rstrip("\\").strip(),
                                    set(re.findall(r"sha256:([0-9a-f]{64})", block)))
    return pins


def dist_name(filename: str) -> tuple[str, str]:
    stem = filename.removesuffix(".tar.gz").removesuffix(".whl")
    name, version = stem.split("-")[:2]
    return re.sub(r"[-_.]+", "-", name).lower(), version


# -- what is in the kit ------------------------------------------------------------------

def test_kit_name_wheel_and_sdist_carry_the_version(kit: Path) -> None:
    assert kit.name == f"tessera-offline-kit-{VERSION}-linux-x86_64"
    assert (kit.parent / f"{kit.name}.tar.gz").is_file()
    assert (kit / "wheelhouse" / f"tessera-{VERSION}-py3-none-any.whl").is_file()
    assert (kit / "wheelhouse" / f"tessera-{VERSION}.tar.gz").is_file()
    assert (kit / "VERSION").read_text().strip() == VERSION
    version = subprocess.run([str(kit / "app" / "tessera" / "tessera"), "--version"],
                             capture_output=True, text=True, check=True).stdout
    assert version.strip().endswith(VERSION)


def test_the_tarball_unpacks_to_a_kit_that_verifies(kit: Path, tmp_path: Path) -> None:
    with tarfile.open(kit.parent / f"{kit.name}.tar.gz") as tar:
        tar.extractall(tmp_path, filter="tar")
    result = subprocess.run(["bash", str(tmp_path / kit.name / "install.sh"), "--verify-only"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / kit.name / "install.sh").stat().st_mode & 0o111


def test_wheelhouse_is_exactly_the_locked_runtime_set_plus_tessera(kit: Path) -> None:
    runtime = lock_pins((ROOT / "packaging" / "runtime.lock").read_text())
    found: dict[str, str] = {}
    for path in (kit / "wheelhouse").iterdir():
        name, version = dist_name(path.name)
        if name == "tessera":
            assert version == VERSION
            continue
        assert name not in found, f"two files for {name} in the wheelhouse"
        found[name] = version
        locked_version, hashes = runtime[name]
        assert version == locked_version
        if sha256(path) not in hashes:
            # Built here from the locked sdist: that sdist is in sources/ and is the locked one.
            (sdist,) = (kit / "sources").glob(f"{path.name.split('-')[0]}-{version}.tar.gz")
            assert sha256(sdist) in hashes, f"{path.name}: neither it nor its sdist is locked"
    assert found == {name: pin[0] for name, pin in runtime.items()}
    install_lock = lock_pins((kit / "requirements.lock").read_text())
    assert set(install_lock) == set(runtime) | {"tessera"}


def test_runtime_pins_are_the_development_pins() -> None:
    """packaging/runtime.lock and build.lock never drift from requirements.lock."""
    dev = lock_pins((ROOT / "requirements.lock").read_text())
    runtime = lock_pins((ROOT / "packaging" / "runtime.lock").read_text())
    build_lock = lock_pins((ROOT / "packaging" / "build.lock").read_text())
    for name, pin in runtime.items():
        assert dev[name] == pin, name
        assert build_lock[name] == pin, name


def test_sha256sums_covers_every_file_and_install_sh_accepts_it(kit: Path) -> None:
    listed = {line[66:] for line in (kit / "SHA256SUMS").read_text().splitlines()}
    present = {p.relative_to(kit).as_posix() for p in kit.rglob("*")
               if (p.is_file() or p.is_symlink()) and p.name != "SHA256SUMS"}
    assert listed == present
    result = subprocess.run(["bash", str(kit / "install.sh"), "--verify-only"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "kit verified" in result.stdout


def test_debian_packages_are_there(kit: Path) -> None:
    names = {p.name.split("_")[0] for p in (kit / "debs").glob("*.deb")}
    assert {"pcscd", "libpcsclite1", "libccid", "libxcb-cursor0", "age"} <= names


def test_sbom_is_valid_cyclonedx_and_lists_every_package(kit: Path) -> None:
    check = ("import sys\nfrom cyclonedx.schema import SchemaVersion\n"
             "from cyclonedx.validation.json import JsonStrictValidator\n"
             "error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())\n"
             "print(error or 'valid')\nsys.exit(1 if error else 0)\n")
    result = subprocess.run([DIST_PYTHON, "-c", check, str(kit / "sbom.cdx.json")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    sbom = json.loads((kit / "sbom.cdx.json").read_text())
    refs = {c["bom-ref"]: c for c in sbom["components"]}
    files = [p for d in ("wheelhouse", "debs", "sources", "tools") for p in (kit / d).iterdir()]
    for path in files:
        component = refs[path.relative_to(kit).as_posix()]
        assert component["hashes"] == [{"alg": "SHA-256", "content": sha256(path)}]
    assert "app/tessera" in refs


# -- tampering ---------------------------------------------------------------------------

def tampered_copy(kit: Path, tmp_path: Path) -> Path:
    copy = tmp_path / kit.name
    subprocess.run(["cp", "-al", str(kit), str(copy)], check=True)  # hard links: cheap
    return copy


def test_a_kit_with_one_byte_of_one_wheel_changed_is_refused_naming_the_file(
        kit: Path, tmp_path: Path) -> None:
    copy = tampered_copy(kit, tmp_path)
    wheel = next((copy / "wheelhouse").glob("cryptography-*.whl"))
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 0x01
    wheel.unlink()  # break the hard link before writing
    wheel.write_bytes(bytes(data))
    prefix = tmp_path / "prefix"
    result = subprocess.run(["bash", str(copy / "install.sh"), "--from", "wheelhouse",
                             "--no-system", "--prefix", str(prefix)], capture_output=True, text=True)
    assert result.returncode != 0
    assert f"wheelhouse/{wheel.name} does not match SHA256SUMS" in result.stderr
    assert "nothing was installed" in result.stderr
    assert not prefix.exists()


def test_a_kit_with_an_added_file_is_refused(kit: Path, tmp_path: Path) -> None:
    copy = tampered_copy(kit, tmp_path)
    (copy / "wheelhouse" / "evil-1.0-py3-none-any.whl").write_bytes(b"PK")
    result = subprocess.run(["bash", str(copy / "install.sh"), "--verify-only"],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "wheelhouse/evil-1.0-py3-none-any.whl is in the kit but not in SHA256SUMS" in result.stderr


# -- installed with no network, then run -------------------------------------------------

def offline(*cmd: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run in a new network namespace: no interface but a downed loopback."""
    return subprocess.run(["unshare", "--net", "--", *cmd], capture_output=True, text=True,
                          env=env, timeout=timeout)


def clean_env(home: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": str(home), "LANG": "C.UTF-8",
            "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_RUNTIME_DIR": str(home / "run"), "QT_QPA_PLATFORM": "offscreen"}


def install_and_run_offline(kit: Path, tmp_path: Path, *install_args: str) -> None:
    if not AS_ROOT:
        pytest.fail("unshare --net needs root (CI runs as root); run make test-dist as root")
    home = tmp_path / "home"
    (home / "run").mkdir(parents=True, mode=0o700)
    env = clean_env(home)
    # /proc/self/net follows the network namespace (/sys/class/net would show the host's).
    interfaces = offline("cat", "/proc/self/net/dev", env=env).stdout.splitlines()[2:]
    assert [line.split(":")[0].strip() for line in interfaces] == ["lo"], \
        "the namespace must have no network"
    prefix = tmp_path / "prefix"
    result = offline("bash", str(kit / "install.sh"), "--prefix", str(prefix), *install_args,
                     env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    tessera = str(prefix / "bin" / "tessera")
    version = offline(tessera, "--version", env=env)
    assert version.stdout.strip() == f"tessera, version {VERSION}", version.stdout + version.stderr

    demo = offline(tessera, "demo", env=env)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "released" in demo.stdout.lower()

    gui = subprocess.Popen(["unshare", "--net", "--", tessera, "gui", "--demo"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(6)
        still_running = gui.poll() is None
    finally:
        gui.terminate()
        output = gui.communicate(timeout=30)[0]
    assert still_running, f"tessera gui --demo exited early:\n{output}"
    assert (home / "data" / "tessera" / "demo").is_dir(), "the demo vault was not created"


def test_wheelhouse_install_into_a_fresh_prefix_with_no_network(kit: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    install_and_run_offline(kit, tmp_path, "--from", "wheelhouse", "--root", str(root))
    assert (root / "etc/udev/rules.d/70-tessera-fido.rules").is_file()
    assert (root / "usr/local/share/applications/tessera.desktop").is_file()
    assert (root / "usr/local/share/man/man1/tessera.1.gz").is_file()
    hicolor = root / "usr/local/share/icons/hicolor"
    assert (hicolor / "scalable/apps/tessera.svg").is_file()
    assert (hicolor / "128x128/apps/tessera.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (root / "usr/local/bin/tessera").is_symlink()


def test_app_build_install_with_no_network(kit: Path, tmp_path: Path) -> None:
    install_and_run_offline(kit, tmp_path, "--from", "app", "--no-system")


# -- reproducibility ---------------------------------------------------------------------

def test_wheel_sdist_and_sbom_are_reproducible(kit: Path, tmp_path: Path) -> None:
    hashes = []
    for n in (1, 2):
        out = tmp_path / f"build{n}"
        build("python", "--out", str(out), log=tmp_path / f"python{n}.log")
        hashes.append({p.name: sha256(p) for p in out.iterdir()})
    assert hashes[0] == hashes[1]
    assert set(hashes[0]) == {f"tessera-{VERSION}-py3-none-any.whl", f"tessera-{VERSION}.tar.gz"}
    # The kit's own wheel and sdist, built earlier in another folder, are the same bytes.
    for name, digest in hashes[0].items():
        assert sha256(kit / "wheelhouse" / name) == digest

    copy = tmp_path / "kit"
    subprocess.run(["cp", "-al", str(kit), str(copy)], check=True)
    original = sha256(kit / "sbom.cdx.json")
    for _ in (1, 2):
        (copy / "sbom.cdx.json").unlink()
        build("sbom", str(copy), log=tmp_path / "sbom.log")
        assert sha256(copy / "sbom.cdx.json") == original


def test_a_second_app_build_is_identical_file_by_file(kit: Path, tmp_path: Path) -> None:
    """On the same machine; docs/PACKAGING.md says what differs on another one."""
    build("dist", "--out", str(tmp_path), log=tmp_path / "dist.log")

    def digests(app: Path) -> dict[str, str]:
        return {p.relative_to(app).as_posix(): sha256(p) for p in app.rglob("*")
                if p.is_file() and not p.is_symlink()}

    first, second = digests(kit / "app" / "tessera"), digests(tmp_path / "tessera")
    assert sorted(first) == sorted(second)
    assert [name for name in first if first[name] != second[name]] == []


def test_the_sdist_alone_rebuilds_the_same_wheel(kit: Path, tmp_path: Path) -> None:
    """A reviewer can check the shipped wheel against the shipped source."""
    with tarfile.open(kit / "wheelhouse" / f"tessera-{VERSION}.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    code = "import sys\nfrom setuptools import build_meta as b\nb.build_wheel(sys.argv[1])\n"
    subprocess.run([DIST_PYTHON, "-c", code, str(tmp_path / "out")], check=True,
                   cwd=tmp_path / f"tessera-{VERSION}", capture_output=True,
                   env={**os.environ, "SOURCE_DATE_EPOCH": EPOCH})
    name = f"tessera-{VERSION}-py3-none-any.whl"
    assert sha256(tmp_path / "out" / name) == sha256(kit / "wheelhouse" / name)
    with tarfile.open(kit / "wheelhouse" / f"tessera-{VERSION}.tar.gz") as tar:
        names = set(tar.getnames())
    assert f"tessera-{VERSION}/tools/tessera-recover" in names  # recovery without Tessera
    assert f"tessera-{VERSION}/docs/FORMAT.md" in names


def test_sdist_holds_sorted_members_with_the_fixed_time(kit: Path) -> None:
    with tarfile.open(kit / "wheelhouse" / f"tessera-{VERSION}.tar.gz") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert {m.mtime for m in members} == {int(EPOCH)}


# -- desktop integration, as a person sees it ---------------------------------------------

def test_metainfo_passes_appstreamcli_validate() -> None:
    metainfo = ROOT / "packaging" / "invalid.tessera_custody.Tessera.metainfo.xml"
    result = subprocess.run(["appstreamcli", "validate", "--no-net", str(metainfo)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation was successful" in result.stdout


def test_desktop_entry_passes_desktop_file_validate() -> None:
    result = subprocess.run(["desktop-file-validate", str(ROOT / "packaging" / "tessera.desktop")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_man_page_renders_without_warnings_and_lists_every_command(kit: Path) -> None:
    page = kit / "share" / "man" / "man1" / "tessera.1.gz"
    result = subprocess.run(["man", "--warnings", "-l", str(page)], capture_output=True,
                            text=True, env={**os.environ, "MANWIDTH": "80", "MANPAGER": "cat"})
    assert result.returncode == 0
    assert result.stderr == ""
    text = result.stdout
    assert "tessera - fallback credential custody" in text
    for command in ("init", "demo", "release", "drill", "audit", "gui", "record create"):
        assert re.search(rf"^\s+{command}\b", text, re.M), command
    assert VERSION in gzip.decompress(page.read_bytes()).decode()


def test_every_library_of_the_app_build_resolves(kit: Path) -> None:
    internal = kit / "app" / "tessera" / "_internal"
    missing = []
    for lib in sorted(internal.rglob("*.so*")):
        if lib.is_symlink():
            continue
        out = subprocess.run(["ldd", str(lib)], capture_output=True, text=True,
                             env={"LD_LIBRARY_PATH": str(internal)}).stdout
        missing += [f"{lib.relative_to(internal)}: {line.strip()}"
                    for line in out.splitlines() if "not found" in line]
    assert missing == []


def test_the_app_build_carries_the_compiled_json_judge(kit: Path) -> None:
    """core/canonical.py imports msgspec on first use and, without it, lets the stdlib
    judge canonical JSON: a build that left it out would work, only slower."""
    internal = kit / "app" / "tessera" / "_internal"
    assert list(internal.glob("msgspec/_core*.so")), "msgspec is not in the app build"
    # Its compiled core imports msgspec._utils by name, which no bytecode shows.
    listing = subprocess.run([str(Path(DIST_PYTHON).parent / "pyi-archive_viewer"), "--list",
                              "--recursive", str(kit / "app" / "tessera" / "tessera")],
                             capture_output=True, text=True, check=True).stdout
    assert "'msgspec._utils'" in listing


def test_no_unused_qt_module_is_shipped(kit: Path) -> None:
    pyside = kit / "app" / "tessera" / "_internal" / "PySide6"
    modules = sorted(p.name.split(".")[0] for p in pyside.glob("Qt*.abi3.so"))
    assert modules == ["QtCore", "QtGui", "QtPrintSupport", "QtSvg", "QtWidgets"]
    libs = {p.name for p in (pyside / "Qt" / "lib").iterdir()}
    assert not any(name.startswith(("libQt6Network", "libQt6Qml", "libQt6Quick")) for name in libs)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))

