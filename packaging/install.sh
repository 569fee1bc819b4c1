#!/usr/bin/env bash
# Install Tessera from this offline kit alone: no network is used or needed.
#
#   sudo ./install.sh                       app build into /opt/tessera, Debian packages,
#                                           udev rule, desktop entry, man page
#   sudo ./install.sh --from wheelhouse     the same, but a Python venv from the wheelhouse
#   ./install.sh --no-system --prefix ~/.local/opt/tessera
#                                           as a normal user: only the program, no system files
#
# The kit is checked against SHA256SUMS before anything is touched; a kit with a changed,
# missing or extra file is refused and the file is named. Compare SHA256SUMS itself with a
# second source first (docs in PACKAGING.md).
set -euo pipefail
umask 022

prog=install.sh
die() { echo "$prog: $*" >&2; exit 2; }
usage() {
    cat <<'EOF'
usage: install.sh [--from app|wheelhouse] [--prefix DIR] [--no-system] [--root DIR] [--verify-only]
  --from app         the app build, which needs no Python (default)
  --from wheelhouse  a Python 3.11 venv installed from the kit's hash-checked wheels
  --prefix DIR       where Tessera goes (default /opt/tessera); DIR/bin/tessera is the command
  --no-system        no Debian packages, udev rule, desktop entry, man page or /usr/local/bin link
  --root DIR         put the udev rule, desktop entry, man page and link under DIR instead of /
  --verify-only      check the kit against SHA256SUMS and stop
EOF
}

from=app prefix=/opt/tessera system=1 root="" verify_only=0
while (($#)); do
    case $1 in
        --from) from=${2:-}; shift 2 ;;
        --prefix) prefix=${2:-}; shift 2 ;;
        --no-system) system=0; shift ;;
        --root) root=${2:-}; shift 2 ;;
        --verify-only) verify_only=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done
[[ $from == app || $from == wheelhouse ]] || die "--from takes app or wheelhouse, not '$from'"
[[ -n $prefix ]] || die "--prefix needs a directory"

kit=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$kit"

# -- 1. verify the whole kit before touching anything ----------------------------------
[[ -f SHA256SUMS ]] || die "this kit has no SHA256SUMS; refusing to install an unverifiable kit"
if grep -qvE '^[0-9a-f]{64}  [A-Za-z0-9._+@/-]+$' SHA256SUMS || grep -qE '  (/|.*(^|/)\.\./)' SHA256SUMS; then
    die "SHA256SUMS is malformed (a line is not '<sha256>  <relative path>'); refusing the kit"
fi
refused=0
while IFS= read -r line; do
    refused=1
    file=${line%: *}
    echo "$prog: REFUSED: $file does not match SHA256SUMS (${line##*: })" >&2
done < <(sha256sum --check --quiet SHA256SUMS 2>/dev/null | grep -E ': FAILED' || true)
while IFS= read -r file; do
    refused=1
    echo "$prog: REFUSED: $file is in the kit but not in SHA256SUMS" >&2
done < <(comm -13 <(cut -c67- SHA256SUMS | LC_ALL=C sort) \
                  <(find . \( -type f -o -type l \) ! -path ./SHA256SUMS | sed 's|^\./||' | LC_ALL=C sort))
while IFS= read -r link; do
    target=$(realpath -m -- "$link")
    if [[ $target != "$kit"/* ]]; then
        refused=1
        echo "$prog: REFUSED: $link is a link that leaves the kit (to $target)" >&2
    fi
done < <(find . -type l)
if ((refused)); then
    die "this kit does not match its SHA256SUMS: nothing was installed. Get the kit again and compare SHA256SUMS with a second source."
fi
echo "$prog: kit verified: $(wc -l < SHA256SUMS) files match SHA256SUMS ($(sha256sum SHA256SUMS | cut -c1-16)…)"
((verify_only)) && exit 0

if ((system)) && [[ $(id -u) -ne 0 ]]; then
    die "installing the system parts (Debian packages, udev rule) needs root: run with sudo, or add --no-system --prefix DIR to install only the program"
fi
if [[ -e $prefix && -n $(ls -A "$prefix" 2>/dev/null) ]]; then
    die "$prefix is not empty; remove it first or choose another --prefix"
fi

# -- 2. Debian packages ------------------------------------------------------------------
if ((system)); then
    echo "$prog: installing Debian packages: $(cd debs && ls | sed 's/_.*//' | tr '\n' ' ')"
    dpkg -i --skip-same-version debs/*.deb >/dev/null || die "dpkg could not install the kit's Debian packages (see above); nothing else was changed"
fi

# -- 3. Tessera itself -------------------------------------------------------------------
mkdir -p "$prefix/bin" 2>/dev/null || die "cannot create $prefix: choose a --prefix you can write to"
prefix=$(cd "$prefix" && pwd)
if [[ $from == app ]]; then
    cp -a app/tessera "$prefix/app"
    ln -sfn ../app/tessera "$prefix/bin/tessera"
else
    python=${PYTHON:-python3}
    "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null \
        || die "the wheelhouse is for Python 3.11 ($python is $("$python" --version 2>&1)); use --from app, which needs no Python"
    "$python" -m venv --without-pip "$prefix/venv"
    pip_wheel=$(echo tools/pip-*.whl)
    # pip runs from its own wheel; only files of this kit are used (--no-index), each one
    # checked against the hash in requirements.lock (--require-hashes).
    "$prefix/venv/bin/python" "$pip_wheel/pip" install --quiet --disable-pip-version-check \
        --no-index --find-links wheelhouse --require-hashes --only-binary=:all: \
        -r requirements.lock
    ln -sfn ../venv/bin/tessera "$prefix/bin/tessera"
fi
echo "$prog: Tessera $(cat VERSION) installed in $prefix ($from)"

# -- 4. desktop integration --------------------------------------------------------------
if ((system)); then
    install -D -m 0644 etc/udev/rules.d/70-tessera-fido.rules "$root/etc/udev/rules.d/70-tessera-fido.rules"
    for f in share/applications/tessera.desktop share/metainfo/*.metainfo.xml \
             share/icons/hicolor/*/apps/tessera.* share/man/man1/tessera.1.gz; do
        install -D -m 0644 "$f" "$root/usr/local/$f"
    done
    mkdir -p "$root/usr/local/bin"
    ln -sfn "$prefix/bin/tessera" "$root/usr/local/bin/tessera"
    if [[ -z $root ]]; then
        udevadm control --reload 2>/dev/null && udevadm trigger --subsystem-match=hidraw 2>/dev/null || true
        gtk-update-icon-cache -q /usr/local/share/icons/hicolor 2>/dev/null || true
        update-desktop-database -q /usr/local/share/applications 2>/dev/null || true
    fi
    echo "$prog: desktop entry, udev rule for FIDO2 keys and man page installed${root:+ under $root}"
    echo "$prog: for YubiKey PIV start the smart-card service: systemctl enable --now pcscd.socket"
fi
echo "$prog: next: run a drill before the real ceremony: $prefix/bin/tessera demo"
