"""App-less recovery: the reference `shamir` CLI combines the words, and
tools/tessera-recover (only cryptography + shamir-mnemonic) decrypts the export."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers.paths import REPO
from helpers.sealed import make_sealed
from tessera.core import canonical

TOOL = REPO / "tools" / "tessera-recover"
SHAMIR = Path(sys.executable).with_name("shamir")


def export_of(fx) -> bytes:  # type: ignore[no-untyped-def]
    import base64

    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return canonical.dumps({
        "format": "tessera/export/v1", "manifest": b64(fx.sealed.manifest_bytes),
        "ciphertext": b64(fx.sealed.ciphertext),
        "envelopes": {k: b64(v) for k, v in fx.sealed.envelopes.items()},
        "custodians": [], "tokens": []})


def clean_env() -> dict[str, str]:
    """The tool runs with no tessera on its path: only its two libraries."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


def test_reference_shamir_cli_then_the_standalone_script(tmp_path: Path) -> None:
    secret = b"-----BEGIN EC PRIVATE KEY-----\nrecovery cert key\n"
    fx = make_sealed(secret, 3, 5)
    shares = [fx.mnemonics[k] for k in ("g0m4", "g0m0", "g0m2")]
    shamir = subprocess.run([str(SHAMIR), "recover"], input="\n".join(shares) + "\n",
                            capture_output=True, text=True, env=clean_env(), timeout=60)
    assert shamir.returncode == 0, shamir.stdout + shamir.stderr
    dek_hex = shamir.stdout.split("Your master secret is:")[1].split()[0]
    export = tmp_path / "record.tessera"
    export.write_bytes(export_of(fx))
    out = tmp_path / "secret.bin"
    r = subprocess.run([sys.executable, "-I", str(TOOL), "--export", str(export),
                        "--dek-hex", dek_hex, "--out", str(out)],
                       capture_output=True, text=True, env=clean_env(), timeout=60)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == secret
    assert fx.sealed.fingerprint in r.stderr


def test_script_combines_words_itself_and_refuses_too_few(tmp_path: Path) -> None:
    fx = make_sealed(b"token-123", 2, 3)
    export = tmp_path / "r.tessera"
    export.write_bytes(export_of(fx))
    words = [fx.mnemonics["g0m1"], fx.mnemonics["g0m2"]]
    r = subprocess.run([sys.executable, "-I", str(TOOL), "--export", str(export), "--stdout"],
                       input="\n".join(words) + "\n", capture_output=True, text=True,
                       env=clean_env(), timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "token-123"
    r = subprocess.run([sys.executable, "-I", str(TOOL), "--export", str(export), "--stdout"],
                       input=words[0] + "\n", capture_output=True, text=True, env=clean_env(),
                       timeout=60)
    assert r.returncode != 0
    assert "do not combine" in r.stderr


def test_script_refuses_a_changed_manifest(tmp_path: Path) -> None:
    import json

    fx = make_sealed(b"token-123", 2, 3)
    doc = json.loads(export_of(fx))
    import base64

    manifest = json.loads(base64.b64decode(doc["manifest"]))
    manifest["label"] = "Something else"
    doc["manifest"] = base64.b64encode(canonical.dumps(manifest)).decode()
    export = tmp_path / "r.tessera"
    export.write_bytes(canonical.dumps(doc))
    words = [fx.mnemonics["g0m0"], fx.mnemonics["g0m1"]]
    r = subprocess.run([sys.executable, "-I", str(TOOL), "--export", str(export), "--stdout"],
                       input="\n".join(words) + "\n", capture_output=True, text=True,
                       env=clean_env(), timeout=60)
    assert r.returncode != 0
    assert "does not decrypt" in r.stderr
