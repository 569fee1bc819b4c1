"""The CLI with hardware tokens: virtual FIDO2 keys and YubiKeys driving the real
fido2 and yubikit code, PINs read from stdin as a script would type them."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.cli import run

PIN = "314159"

# Virtual keys in a real (hardware-only) vault: this workstation trusts their CA.
pytestmark = pytest.mark.usefixtures("trust_demo_ca")


@pytest.fixture()
def vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "vault.sqlite3"
    monkeypatch.setenv("TESSERA_VAULT", str(path))
    monkeypatch.setenv("TESSERA_ACTOR", "operator")
    assert run("init").code == 0  # a real (hardware-only) vault
    for name in ("Alice", "Bob", "Carol"):
        assert run("custodian", "add", name).code == 0
    return path


def enroll(name: str, kind: str) -> str:
    r = run("--virtual", "--virtual-touch", "immediate", "token", "enroll", name, "--kind",
            kind, input=f"{PIN}\n{PIN}\n")
    assert r.code == 0, r.text
    return r.text


def token_id(name: str, kind: str) -> str:
    """The id prefix `token list` shows for ``name``'s first ``kind`` token."""
    return next(line.split()[0] for line in run("token", "list").out.splitlines()
                if line.split()[1:3] == [name, kind])


def adopt(*tokens: str) -> None:
    """The custodians' tokens sign the vault (its genesis): no share is wrapped before."""
    r = run(*VIRTUAL, "audit", "adopt", *(a for t in tokens for a in ("--token", t)),
            input=f"{PIN}\n" * 4)
    assert r.code == 0, r.text


def create(tmp_path: Path, signer: str, label: str) -> None:
    secret = tmp_path / "secret-in"
    secret.write_text("s3cr3t")
    r = run(*VIRTUAL, "--sign-with", signer, "record", "create", "--label", label,
            "--secret-file", str(secret), "--custodian", "Alice", "--custodian", "Bob",
            "--custodian", "Carol", "-k", "2", input=f"{PIN}\n" * 4)
    assert r.code == 0, r.text  # hardware tokens: no --allow-software needed


VIRTUAL = ("--virtual", "--virtual-touch", "immediate")


def test_a_real_vault_wraps_nothing_before_its_custodians_sign_it(vault: Path) -> None:
    enroll("Alice", "fido2")
    enroll("Bob", "piv")
    r = run("record", "create", "--label", "R", "--custodian", "Alice", "--custodian", "Bob",
            "-k", "2", input="x\n")
    assert r.code == 78
    assert "not signed yet" in r.err and "tessera audit adopt --token" in r.err
    assert "Alice's" in r.err and "Bob's" in r.err  # the tokens that can sign, by label
    assert "R" not in run("record", "list").out.split()


def test_enrol_release_and_drill_with_fido2_and_piv(vault: Path, tmp_path: Path) -> None:
    text = enroll("Alice", "fido2")
    assert "no PIN yet" in text and "age1" in text
    text = enroll("Bob", "piv")
    assert "factory-default PIN" in text and "age1yubikey1" in text
    assert "PUK" in text
    enroll("Carol", "piv")
    listing = run("--virtual", "token", "list").out
    assert "Connected now:" in listing and "virtual YubiKey" in listing
    alice = token_id("Alice", "fido2")
    adopt(alice, token_id("Bob", "piv"))
    create(tmp_path, alice, "Vault root")
    out = tmp_path / "secret"
    r = run(*VIRTUAL, "--sign-with", alice, "release", "Vault root", "--reason",
            "DR test", "--ticket", "CHG-9", "--approve", "Alice", "--approve", "Bob",
            "--out", str(out), input=f"{PIN}\n" * 12)
    assert r.code == 0, r.text
    assert out.read_text() == "s3cr3t"
    r = run(*VIRTUAL, "--sign-with", alice, "drill", "Vault root", "Carol",
            input=f"{PIN}\n" * 4)
    assert r.code == 0, r.text
    verify = run("--virtual", "audit", "verify")
    assert verify.code == 0 and "All approval signatures verify" in verify.out


def test_wrong_pin_on_the_command_line(vault: Path, tmp_path: Path) -> None:
    enroll("Alice", "fido2")
    enroll("Bob", "piv")
    enroll("Carol", "fido2")
    bob = token_id("Bob", "piv")
    adopt(token_id("Alice", "fido2"), bob)
    create(tmp_path, bob, "R")
    # Bob signs the release request: his PIN is the first one asked, and it is wrong.
    r = run(*VIRTUAL, "--sign-with", bob, "release", "R", "--reason", "r",
            "--ticket", "t", "--approve", "Bob", "--approve", "Alice", "--out",
            str(tmp_path / "s"), input="000000\n")
    assert r.code == 69
    assert "Wrong PIN — 2 attempts left" in r.err
    assert "sealed" in run("record", "show", "R").out


def test_software_keys_need_allow_software_on_a_real_vault(vault: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    monkeypatch.setenv("TESSERA_PASSPHRASE", "pass phrase")
    r = run("token", "enroll", "Alice", "--kind", "software")
    assert r.code == 0
    assert "hardware-only" in r.err


def test_a_spare_token_opens_the_same_share(vault: Path, tmp_path: Path) -> None:
    enroll("Alice", "fido2")
    enroll("Alice", "piv")  # her spare
    enroll("Bob", "piv")
    enroll("Carol", "fido2")
    carol = token_id("Carol", "fido2")
    adopt(token_id("Bob", "piv"), carol)
    create(tmp_path, carol, "R")
    tokens = [line.split()[0] for line in run("token", "list").out.splitlines()
              if "Alice" in line]
    assert len(tokens) == 2
    for token in tokens:
        r = run(*VIRTUAL, "--sign-with", carol, "token", "drill", token,
                input=f"{PIN}\n" * 4)
        assert r.code == 0, r.text
        assert "opens share 1 (g0m0)" in r.out
    r = run(*VIRTUAL, "--sign-with", carol, "token", "retire", tokens[0], "--reason",
            "lost on a train", "--lost", input=f"{PIN}\n" * 4)
    assert r.code == 0
    assert "stays in the current envelopes of 1 record: R." in r.err
    assert "lost" in run("token", "list").out
