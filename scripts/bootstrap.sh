#!/usr/bin/env bash
# Prepare a fresh Debian/Ubuntu machine for Tessera: system packages (when root),
# then the locked Python dependencies into .venv. Safe to run again; fast when done.
set -euo pipefail
cd "$(dirname "$0")/.."

# libpcsclite-dev + swig: pyscard (yubikey-manager) has no Linux wheel without them.
# age: the stock binary the interop tests compare against.
# pcscd + vsmartcard-vpcd: the PC/SC daemon and its virtual reader driver, which the
# end-to-end PIV tests (tests/pcsc/) drive through a private pcscd they start and stop.
# xvfb, xauth, openbox, poppler-utils, imagemagick: screenshots (a real window manager on
# a virtual screen) and sheet rendering checks.
# libegl1, libgl1, libxkbcommon0, libfontconfig1, libdbus-1-3: what Qt needs even offscreen;
# libxcb-cursor0 and libxkbcommon-x11-0: Qt's xcb platform plugin on an X11 desktop.
# libwayland-cursor0, libwayland-egl1: the wayland plugins PySide6 ships (the offline
# kit's app build bundles them, and make test-dist checks every library resolves).
# appstream, desktop-file-utils, binutils, man-db: make test-dist validates the metainfo and
# the desktop entry, PyInstaller reads ELF headers, and the man page is rendered.
SYSTEM_PACKAGES=(libpcsclite-dev swig age pcscd vsmartcard-vpcd poppler-utils xvfb xauth openbox imagemagick
                 libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4
                 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0
                 libfontconfig1 libdbus-1-3 fonts-dejavu-core
                 libwayland-cursor0 libwayland-egl1
                 appstream desktop-file-utils binutils man-db)

missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "tessera: installing system packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "tessera: these system packages are missing: ${missing[*]}" >&2
        echo "tessera: install them, then run this command again:" >&2
        echo "    sudo apt-get install ${missing[*]}" >&2
        exit 3
    fi
fi

# Node.js and npm (Debian's nodejs, npm): the age authors' TypeScript age implementation
# (npm age-encryption, pinned with its integrity hash in tests/interop/node/package-lock.json)
# is the independent implementation the post-quantum interop tests compare against.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "tessera: installing nodejs and npm"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
    else
        echo "tessera: node and npm are missing: sudo apt-get install nodejs npm" >&2
        exit 3
    fi
fi
node_stamp=tests/interop/node/node_modules/.tessera-lock
node_wanted=$(sha256sum < tests/interop/node/package-lock.json)
if [[ ! -f $node_stamp ]] || [[ "$(cat "$node_stamp")" != "$node_wanted" ]]; then
    # npm ci installs exactly the lock file and checks every integrity hash; no scripts run.
    (cd tests/interop/node && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    echo "$node_wanted" > "$node_stamp"
fi

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "tessera: Python 3.11 or newer is needed (found: $("$PYTHON" --version 2>&1))." >&2
    echo "tessera: set PYTHON=/path/to/python3.11 and run again." >&2
    exit 3
fi
if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
    echo "tessera: Python's venv module is missing: sudo apt-get install python3-venv" >&2
    exit 3
fi

stamp=.venv/.tessera-lock
wanted=$(cat requirements.lock pyproject.toml | sha256sum)
if [[ -f $stamp ]] && [[ "$(cat "$stamp")" == "$wanted" ]]; then
    touch "$stamp"
    exit 0
fi
[[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade --disable-pip-version-check "pip>=24"
# Every dependency is pinned with hashes; nothing unlocked is installed.
.venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
echo "$wanted" > "$stamp"
echo "tessera: environment ready in .venv"
