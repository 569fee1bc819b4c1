"""Build Tessera's distributions: wheel and sdist, the app build, the offline kit and its SBOM.

Run from the build environment ``.venv-dist`` (``packaging/build.lock``), through the
Makefile targets ``dist`` and ``offline-kit``::

    python packaging/kit.py python --out DIR   # wheel + sdist (reproducible)
    python packaging/kit.py dist --out DIR     # the app build (PyInstaller, one folder)
    python packaging/kit.py kit --out DIR      # the offline kit (folder + tarball)
    python packaging/kit.py sbom KITDIR        # (re)write KITDIR/sbom.cdx.json

Every timestamp comes from ``SOURCE_DATE_EPOCH`` (default: the time of the last commit),
so building the wheel, the sdist and the SBOM twice gives the same bytes.
"""

from __future__ import annotations

import argparse
import email.parser
import gzip
import hashlib
import inspect
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import uuid
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
RUNTIME_LOCK = PACKAGING / "runtime.lock"
BUILD_LOCK = PACKAGING / "build.lock"
APP_ID = "invalid.tessera_custody.Tessera"

# Debian packages the kit carries: what Tessera needs at run time beyond a standard
# Debian 12 desktop. PC/SC for YubiKey PIV (pcscd with the CCID driver, libpcsclite1 for
# pyscard), the stock age binary (recovery without Tessera, docs/FORMAT.md), and the X11
# libraries Qt's xcb platform plugin loads that a desktop does not always have.
DEBS = ["pcscd", "libpcsclite1", "libccid", "age",
        "libxcb-cursor0", "libxcb-icccm4", "libxcb-image0", "libxcb-keysyms1",
        "libxcb-render-util0", "libxkbcommon-x11-0", "libxcb-util1"]
# What the kit assumes every Debian 12 desktop (GNOME, KDE or Xfce task) already has.
# The build refuses a kit in which some Depends of a carried package is neither carried
# nor in this list (docs/PACKAGING.md repeats it).
ASSUMED_PRESENT = {
    "libc6", "libgcc-s1", "libstdc++6", "libsystemd0", "libudev1", "init-system-helpers",
    "libusb-1.0-0", "libxcb1", "libxcb-render0", "libxcb-shm0", "libxcb-xkb1",
    "libxkbcommon0", "libx11-6", "libx11-xcb1", "libegl1", "libgl1", "libfontconfig1",
    "libfreetype6", "libdbus-1-3", "libglib2.0-0", "python3",
}


def version() -> str:
    """The one version number: ``[project] version`` in pyproject.toml."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def kit_name(ver: str | None = None) -> str:
    return f"tessera-offline-kit-{ver or version()}-linux-x86_64"


def source_date_epoch() -> int:
    value = os.environ.get("SOURCE_DATE_EPOCH")
    if value:
        return int(value)
    out = subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.strip()
    return int(out)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run(cmd: list[str], **kwargs: object) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kwargs)  # type: ignore[call-overload]


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"


# -- wheel and sdist ---------------------------------------------------------------------

def _source_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, check=True, capture_output=True).stdout
    return sorted(name for name in out.decode().split("\0") if name and (ROOT / name).is_file())


def normalize_tar_gz(path: Path, epoch: int) -> None:
    """Rewrite a .tar.gz with sorted members, fixed times, owners and modes."""
    with tarfile.open(path, "r:gz") as src:
        members = [(m, src.extractfile(m).read() if m.isfile() else None)  # type: ignore[union-attr]
                   for m in src.getmembers()]
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=epoch, compresslevel=9) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as dst:
        for member, data in sorted(members, key=lambda item: item[0].name):
            member.mtime = epoch
            member.uid = member.gid = 0
            member.uname = member.gname = ""
            member.mode = 0o755 if member.isdir() or member.mode & 0o100 else 0o644
            member.pax_headers = {}
            dst.addfile(member, io.BytesIO(data) if data is not None else None)
    path.write_bytes(buf.getvalue())


def build_python(out: Path, epoch: int) -> tuple[Path, Path]:
    """Tessera's wheel and sdist, built from the committed (and untracked) files only."""
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch)}
    with tempfile.TemporaryDirectory(prefix="tessera-src-") as tmp:
        src = Path(tmp) / "src"
        for name in _source_files():
            target = src / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / name, target)
            os.utime(target, (epoch, epoch))
        # (build_meta rewrites sys.argv, so the arguments are read first)
        code = ("import sys, pathlib\nfrom setuptools import build_meta as b\n"
                "out, result = sys.argv[1:3]\n"
                "names = [b.build_sdist(out), b.build_wheel(out)]\n"
                "pathlib.Path(result).write_text(' '.join(names))\n")
        result = Path(tmp) / "names"
        subprocess.run([sys.executable, "-c", code, str(out.resolve()), str(result)], cwd=src,
                       env=env, check=True, stdout=subprocess.DEVNULL)
        sdist_name, wheel_name = result.read_text().split()
    sdist, wheel = out / sdist_name, out / wheel_name
    normalize_tar_gz(sdist, epoch)
    return wheel, sdist


# -- the app build -----------------------------------------------------------------------

def install_wheel(wheel: Path) -> None:
    """Put this wheel into the build environment: the app build and the man page use it."""
    run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "--no-deps", "--no-index", "--force-reinstall", str(wheel)])


def build_app(out: Path, wheel: Path) -> Path:
    """PyInstaller one-folder build of the wheel (installed first); returns out/tessera."""
    install_wheel(wheel)
    work = out / "pyinstaller-work"
    # A fixed hash seed keeps PyInstaller's sets (the order of base_library.zip) stable.
    env = {**os.environ, "PYTHONHASHSEED": "0", "SOURCE_DATE_EPOCH": str(source_date_epoch())}
    run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
         "--distpath", str(out), "--workpath", str(work), str(PACKAGING / "tessera.spec")],
        env=env)
    shutil.rmtree(work)
    app = out / "tessera"
    print(f"app build: {app} — {mib(dir_size(app))} in "
          f"{sum(1 for p in app.rglob('*') if p.is_file())} files", flush=True)
    return app


# -- desktop integration -----------------------------------------------------------------

def _man_escape(text: str) -> str:
    return text.replace("\\", "\\e").replace("-", "\\-").replace("\n.", "\n\\&.")


def man_page(ver: str, epoch: int) -> str:
    """tessera(1), generated from the CLI's own help so it cannot drift from it."""
    import click

    from tessera.cli import cli

    date = time.strftime("%Y-%m-%d", time.gmtime(epoch))
    lines = [f'.TH TESSERA 1 "{date}" "Tessera {ver}" "User Commands"',
             ".SH NAME", "tessera \\- fallback credential custody (K\\-of\\-N shares locked to "
             "hardware tokens)",
             ".SH SYNOPSIS", ".B tessera", "[\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
             ".br", ".B tessera gui", "[\\fB\\-\\-demo\\fR] [\\fB\\-\\-vault\\fR \\fIFILE\\fR]",
             ".SH DESCRIPTION"]
    ctx = click.Context(cli, info_name="tessera")
    for paragraph in inspect.cleandoc(cli.help or "").split("\n\n"):
        text = _man_escape(" ".join(paragraph.split()))
        lines += [re.sub(r"`([^`]+)`", r"\\fB\1\\fR", text), ".PP"]
    lines.append(".SH OPTIONS")
    for param in cli.get_params(ctx):
        record = param.get_help_record(ctx)
        if record:
            lines += [".TP", f"\\fB{_man_escape(record[0])}\\fR", _man_escape(record[1])]
    lines += [".SH COMMANDS", ".TP", "\\fBgui\\fR [\\fB\\-\\-demo\\fR] [\\fB\\-\\-vault\\fR FILE]",
              "Open the desktop application (with \\fB\\-\\-demo\\fR: the demo vault with "
              "virtual keys)."]

    def walk(group: click.Group, prefix: str) -> Iterator[tuple[str, click.Command]]:
        for name in sorted(group.list_commands(ctx)):
            command = group.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            yield f"{prefix}{name}", command
            if isinstance(command, click.Group):
                yield from walk(command, f"{prefix}{name} ")

    for name, command in walk(cli, ""):
        sub = click.Context(command, info_name=name, parent=ctx)
        usage = " ".join(command.collect_usage_pieces(sub))
        lines += [".TP", f"\\fB{_man_escape(name)}\\fR {_man_escape(usage)}",
                  _man_escape(command.get_short_help_str(limit=200))]
    lines += [".SH ENVIRONMENT", ".TP", ".B TESSERA_VAULT", "The vault file.", ".TP",
              ".B TESSERA_ACTOR", "Who is operating (recorded in the audit log).", ".TP",
              ".B TESSERA_LOG", "Log level (default WARNING).",
              ".SH EXIT STATUS",
              "0 on success; a non\\-zero status with a message on standard error otherwise.",
              ".SH FILES", ".TP", ".I /etc/udev/rules.d/70\\-tessera\\-fido.rules",
              "Gives the person at the desktop access to FIDO2 keys (hidraw).",
              ".SH NOTES", "YubiKey PIV is reached through PC/SC: the \\fBpcscd\\fR service must "
              "be installed and running (\\fBsystemctl enable \\-\\-now pcscd.socket\\fR).",
              "Every command also takes \\fB\\-\\-help\\fR.",
              ".SH SEE ALSO", "\\fBage\\fR(1), \\fBpcscd\\fR(8)", ""]
    return "\n".join(lines)


ICON_SIZES = (32, 48, 64, 128, 256)


def render_icons(svg: Path, hicolor: Path) -> None:
    """PNG sizes of the app icon for desktops and software centres that want bitmaps."""
    code = """
import sys
from pathlib import Path
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer
app = QGuiApplication([])
renderer = QSvgRenderer(sys.argv[1])
for size in map(int, sys.argv[3:]):
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    out = Path(sys.argv[2]) / f"{size}x{size}" / "apps"
    out.mkdir(parents=True, exist_ok=True)
    assert image.save(str(out / "tessera.png"), "PNG")
"""
    subprocess.run([sys.executable, "-c", code, str(svg), str(hicolor), *map(str, ICON_SIZES)],
                   check=True, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})


def desktop_files(dest: Path, ver: str, epoch: int) -> None:
    """share/ of the kit: desktop entry, metainfo, icons, man page; etc/ with the udev rule."""
    apps = dest / "share" / "applications"
    meta = dest / "share" / "metainfo"
    icons = dest / "share" / "icons" / "hicolor" / "scalable" / "apps"
    man = dest / "share" / "man" / "man1"
    udev = dest / "etc" / "udev" / "rules.d"
    for d in (apps, meta, icons, man, udev):
        d.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PACKAGING / "tessera.desktop", apps / "tessera.desktop")
    shutil.copyfile(PACKAGING / f"{APP_ID}.metainfo.xml", meta / f"{APP_ID}.metainfo.xml")
    shutil.copyfile(ROOT / "resources" / "icons" / "tessera.svg", icons / "tessera.svg")
    render_icons(ROOT / "resources" / "icons" / "tessera.svg", dest / "share" / "icons" / "hicolor")
    shutil.copyfile(PACKAGING / "70-tessera-fido.rules", udev / "70-tessera-fido.rules")
    page = man / "tessera.1.gz"
    with page.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                               mtime=epoch) as gz:
        gz.write(man_page(ver, epoch).encode())


# -- wheelhouse and Debian packages ------------------------------------------------------

def _lock_entries(text: str) -> dict[str, str]:
    """name -> the whole entry (with its hash lines) of a uv/pip-compile lock."""
    entries: dict[str, str] = {}
    for block in re.split(r"\n(?=[a-z0-9])", text):
        match = re.match(r"([A-Za-z0-9_.\-]+)==", block)
        if match:
            entries[match.group(1).lower()] = "\n".join(
                line for line in block.splitlines() if not line.lstrip().startswith("#"))
    return entries


def build_sdist_wheel(sdist: Path, dest: Path, tmp: Path) -> Path:
    """The wheel of a locked sdist, built in the build environment (no download).

    The C compiler is told to write the source folder as "." into the binary, so the
    wheel does not carry the random name of the folder it was built in.
    """
    src = tmp / "sdist-build"
    shutil.rmtree(src, ignore_errors=True)
    with tarfile.open(sdist) as tar:
        tar.extractall(src, filter="data")
    (tree,) = src.iterdir()
    env = {**os.environ, "CFLAGS": f"-ffile-prefix-map={tree}=.",
           "SOURCE_DATE_EPOCH": str(source_date_epoch())}
    before = set(dest.iterdir())
    run([sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check",
         "--no-deps", "--no-build-isolation", "--no-cache-dir", "-w", str(dest), str(tree)],
        env=env)
    (new,) = set(dest.iterdir()) - before
    return new


def wheelhouse(dest: Path, sources: Path, tmp: Path, wheel: Path, sdist: Path) -> str:
    """Locked runtime wheels (hash-checked download), plus Tessera's wheel and sdist.

    A locked dependency published only as an sdist (pyscard has no Linux wheel) is
    built into a wheel here from its hash-checked sdist, which goes to ``sources/``.
    Returns the install lock: runtime.lock with such wheels' hashes, plus Tessera.
    """
    download = tmp / "download"
    run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
         "--no-deps", "--require-hashes", "-r", str(RUNTIME_LOCK), "-d", str(download)])
    dest.mkdir(parents=True)
    entries = _lock_entries(RUNTIME_LOCK.read_text())
    built: dict[str, Path] = {}
    for item in sorted(download.iterdir()):
        if item.suffix == ".whl":
            shutil.copyfile(item, dest / item.name)
            continue
        sources.mkdir(exist_ok=True)
        shutil.copyfile(item, sources / item.name)
        new = build_sdist_wheel(item, dest, tmp)
        name = new.name.split("-")[0].replace("_", "-").lower()
        built[name] = new
    shutil.copyfile(wheel, dest / wheel.name)
    shutil.copyfile(sdist, dest / sdist.name)
    if len(list(download.iterdir())) != len(entries):
        raise SystemExit(f"kit: {len(list(download.iterdir()))} files downloaded for "
                         f"{len(entries)} locked packages")
    lines = ["# Install lock of this kit: packaging/runtime.lock, with the hash of each wheel",
             "# built here from a locked sdist (sources/), plus Tessera's own wheel.",
             "# install.sh: pip install --no-index --require-hashes -r requirements.lock"]
    for name, entry in sorted(entries.items()):
        if name in built:
            pin = entry.splitlines()[0].rstrip(" \\")
            entry = f"{pin} \\\n    --hash=sha256:{sha256(built[name])}"
        lines.append(entry)
    lines.append(f"tessera=={version()} \\\n    --hash=sha256:{sha256(dest / wheel.name)}")
    return "\n".join(lines) + "\n"


def _depends(deb: Path) -> list[list[str]]:
    fields = []
    for field in ("Pre-Depends", "Depends"):
        out = subprocess.run(["dpkg-deb", "-f", str(deb), field], check=True,
                             capture_output=True, text=True).stdout.strip()
        fields += [group for group in out.split(",") if group.strip()]
    return [[alt.split()[0].split(":")[0] for alt in group.split("|")] for group in fields]


def debs(dest: Path) -> None:
    dest.mkdir(parents=True)
    # As root, apt downloads as its own user _apt: into a private folder given to that user.
    with tempfile.TemporaryDirectory(prefix="tessera-debs-") as tmp:
        if os.geteuid() == 0:
            shutil.chown(tmp, user="_apt")
        try:
            run(["apt-get", "download", "-q", *DEBS], cwd=tmp, stdout=subprocess.DEVNULL)
        except subprocess.CalledProcessError:
            run(["apt-get", "update", "-qq"])
            run(["apt-get", "download", "-q", *DEBS], cwd=tmp, stdout=subprocess.DEVNULL)
        for deb in sorted(Path(tmp).glob("*.deb")):
            shutil.move(deb, dest / deb.name)
    carried = {p.name.split("_")[0] for p in dest.glob("*.deb")}
    unmet = sorted({" | ".join(group) for deb in dest.glob("*.deb") for group in _depends(deb)
                    if not any(alt in carried or alt in ASSUMED_PRESENT for alt in group)})
    if unmet:
        raise SystemExit("kit: these dependencies of the carried Debian packages are neither "
                         "carried nor assumed present: " + ", ".join(unmet))


# -- SBOM --------------------------------------------------------------------------------

def _wheel_metadata(path: Path) -> email.message.Message:
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.BytesParser().parsebytes(z.read(name))


def _sdist_metadata(path: Path) -> email.message.Message:
    with tarfile.open(path) as t:
        member = next(m for m in t.getmembers() if m.name.count("/") == 1
                      and m.name.endswith("/PKG-INFO"))
        return email.parser.BytesParser().parsebytes(t.extractfile(member).read())  # type: ignore[union-attr]


def _python_component(path: Path, kit: Path) -> dict[str, object]:
    meta = _wheel_metadata(path) if path.suffix == ".whl" else _sdist_metadata(path)
    name, ver = meta["Name"], meta["Version"]
    normal = re.sub(r"[-_.]+", "-", name).lower()
    rel = path.relative_to(kit).as_posix()
    component: dict[str, object] = {
        "type": "library" if normal != "tessera" else "application",
        "bom-ref": rel, "name": normal, "version": ver,
        "purl": f"pkg:pypi/{normal}@{ver}?file_name={path.name}",
        "hashes": [{"alg": "SHA-256", "content": sha256(path)}],
    }
    expression = meta.get("License-Expression")
    if expression:
        component["licenses"] = [{"expression": expression}]
    return component


def _deb_component(path: Path, kit: Path) -> dict[str, object]:
    def field(name: str) -> str:
        return subprocess.run(["dpkg-deb", "-f", str(path), name], check=True,
                              capture_output=True, text=True).stdout.strip()
    name, ver, arch = field("Package"), field("Version"), field("Architecture")
    return {"type": "library" if name.startswith("lib") else "application",
            "bom-ref": path.relative_to(kit).as_posix(), "name": name, "version": ver,
            "purl": f"pkg:deb/debian/{name}@{quote(ver, safe='.-_~')}?arch={arch}&distro=debian-12",
            "hashes": [{"alg": "SHA-256", "content": sha256(path)}]}


def sbom(kit: Path, epoch: int) -> dict[str, object]:
    """A CycloneDX 1.6 SBOM of the kit: every file that is software, by content hash.

    The app build is one component whose sub-components are the locked runtime
    packages it bundles; its executable's hash is given (the whole folder is in
    SHA256SUMS). Serial number and timestamp derive from the content and
    SOURCE_DATE_EPOCH, so the same kit always gives the same SBOM.
    """
    ver = version()
    components: list[dict[str, object]] = []
    for path in sorted((kit / "wheelhouse").iterdir()) + sorted((kit / "sources").glob("*")) \
            + sorted((kit / "tools").glob("*.whl")):
        components.append(_python_component(path, kit))
    for path in sorted((kit / "debs").glob("*.deb")):
        components.append(_deb_component(path, kit))
    app = kit / "app" / "tessera"
    if app.is_dir():
        bundled = []
        for name, entry in sorted(_lock_entries(RUNTIME_LOCK.read_text()).items()):
            pin = entry.split()[0].split("==")[1]
            bundled.append({"type": "library", "bom-ref": f"app/{name}", "name": name,
                            "version": pin, "purl": f"pkg:pypi/{name}@{pin}"})
        components.append({
            "type": "application", "bom-ref": "app/tessera", "name": "tessera-app", "version": ver,
            "description": "PyInstaller one-folder build of Tessera (CLI and GUI), with its own "
                           "Python interpreter and the Qt libraries Tessera uses",
            "hashes": [{"alg": "SHA-256", "content": sha256(app / "tessera")}],
            "components": bundled})
    body = json.dumps(components, sort_keys=True).encode()
    document = {
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX", "specVersion": "1.6",
        "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, hashlib.sha256(body).hexdigest())}",
        "version": 1,
        "metadata": {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)),
            "tools": {"components": [{"type": "application", "name": "tessera packaging/kit.py",
                                      "version": ver}]},
            "component": {"type": "application", "bom-ref": "kit", "name": kit_name(ver),
                          "version": ver, "description": "Tessera offline ceremony kit"},
        },
        "components": components,
        "dependencies": [{"ref": "kit", "dependsOn": [c["bom-ref"] for c in components]}],
    }
    return document


def write_sbom(kit: Path, epoch: int) -> Path:
    path = kit / "sbom.cdx.json"
    path.write_text(json.dumps(sbom(kit, epoch), indent=2, sort_keys=True) + "\n")
    return path


# -- the kit -----------------------------------------------------------------------------

def _files(root: Path) -> Iterable[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink())


def write_sums(kit: Path) -> None:
    lines = []
    for path in _files(kit):
        rel = path.relative_to(kit).as_posix()
        if rel != "SHA256SUMS":
            if path.is_symlink() and not path.resolve().is_relative_to(kit.resolve()):
                raise SystemExit(f"kit: {rel} is a symbolic link that leaves the kit")
            lines.append(f"{sha256(path)}  {rel}\n")
    (kit / "SHA256SUMS").write_text("".join(lines))


def tarball(kit: Path, epoch: int) -> Path:
    out = kit.parent / f"{kit.name}.tar.gz"
    with out.open("wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=epoch, compresslevel=6) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in [kit, *_files(kit)]:
            info = tar.gettarinfo(str(path), arcname=path.relative_to(kit.parent).as_posix())
            info.mtime, info.uid, info.gid, info.uname, info.gname = epoch, 0, 0, "", ""
            if info.isreg():
                with path.open("rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    return out


def build_kit(out: Path, app: Path | None, epoch: int) -> Path:
    ver = version()
    kit = out / kit_name(ver)
    if kit.exists():
        shutil.rmtree(kit)
    kit.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="tessera-kit-") as tmp_name:
        tmp = Path(tmp_name)
        wheel, sdist = build_python(tmp / "python", epoch)
        if app is None:
            app = build_app(tmp / "app", wheel)
        else:
            install_wheel(wheel)
        shutil.copytree(app, kit / "app" / "tessera", symlinks=True)
        lock = wheelhouse(kit / "wheelhouse", kit / "sources", tmp, wheel, sdist)
        (kit / "requirements.lock").write_text(lock)
        pip_entry = _lock_entries(BUILD_LOCK.read_text())["pip"]
        (tmp / "pip.lock").write_text(pip_entry + "\n")
        run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
             "--no-deps", "--require-hashes", "--only-binary=:all:", "-r", str(tmp / "pip.lock"),
             "-d", str(kit / "tools")])
    debs(kit / "debs")
    desktop_files(kit, ver, epoch)
    (kit / "VERSION").write_text(ver + "\n")
    shutil.copyfile(PACKAGING / "install.sh", kit / "install.sh")
    (kit / "install.sh").chmod(0o755)
    for doc in ("CHANGELOG.md", "docs/PACKAGING.md"):
        shutil.copyfile(ROOT / doc, kit / Path(doc).name)
    write_sbom(kit, epoch)
    write_sums(kit)
    archive = tarball(kit, epoch)
    print(f"kit: {kit} — {mib(dir_size(kit))}", flush=True)
    for part in ("app", "wheelhouse", "sources", "tools", "debs", "share"):
        print(f"  {part:<11} {mib(dir_size(kit / part))}", flush=True)
    print(f"tarball: {archive} — {mib(archive.stat().st_size)}", flush=True)
    print(f"SHA256 of SHA256SUMS (compare with a second source): {sha256(kit / 'SHA256SUMS')}",
          flush=True)
    return kit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("python", "dist", "kit"):
        p = sub.add_parser(name)
        p.add_argument("--out", type=Path, default=ROOT / "dist")
        if name == "kit":
            p.add_argument("--app", type=Path, help="use this app build instead of building one")
    p = sub.add_parser("sbom")
    p.add_argument("kit", type=Path)
    sub.add_parser("version")
    args = parser.parse_args(argv)
    epoch = source_date_epoch()
    if args.command == "version":
        print(version())
    elif args.command == "python":
        for path in build_python(args.out, epoch):
            print(f"{sha256(path)}  {path}")
    elif args.command == "dist":
        wheel, _ = build_python(args.out / "python", epoch)
        build_app(args.out, wheel)
    elif args.command == "kit":
        build_kit(args.out, args.app, epoch)
    elif args.command == "sbom":
        print(write_sbom(args.kit, epoch))
    return 0


if __name__ == "__main__":
    sys.exit(main())
