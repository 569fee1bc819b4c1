"""Opening, creating and migrating vault files."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest
from vault_fixtures import ACTOR, open_vault, populate

from tessera.core.errors import NotFound, PolicyError
from tessera.core.policy import Policy
from tessera.vault import NotAVault, Vault, VaultTooNew, schema
from tessera.vault.paths import ENV_VAR, default_path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_vault_is_private_and_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "new-dir" / "vault.sqlite3"
    vault = open_vault(path)
    vault.add_custodian("Alice", "", "", ACTOR)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    for suffix in ("-wal", "-shm"):
        side = Path(str(path) + suffix)
        if side.exists():
            assert mode(side) & 0o077 == 0
    assert vault.schema_version == schema.schema_version()
    vault_id = vault.vault_id
    vault.close()

    again = Vault.open(path)
    assert again.vault_id == vault_id
    assert [c.name for c in again.list_custodians()] == ["Alice"]
    assert [e.action for e in again.audit_entries()] == ["vault.create", "custodian.add"]
    assert again.policy == Policy()
    assert not again.is_demo
    again.close()


def test_open_loosened_vault_tightens_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "v.sqlite3"
    open_vault(path).close()
    path.chmod(0o644)
    Vault.open(path).close()
    assert mode(path) == 0o600


def test_missing_vault_is_not_created_without_asking(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no vault"):
        Vault.open(tmp_path / "nothing.sqlite3")
    assert not (tmp_path / "nothing.sqlite3").exists()


def test_empty_file_becomes_a_vault_only_on_create(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite3"
    path.touch(mode=0o600)
    with pytest.raises(NotAVault, match="empty"):
        Vault.open(path)
    vault = Vault.open(path, create=True, actor=ACTOR)
    assert vault.schema_version == schema.schema_version()
    assert vault.verify_audit().ok
    vault.close()


def test_other_files_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is a text file, certainly not SQLite" * 100)
    with pytest.raises(NotAVault):
        Vault.open(junk)
    other = tmp_path / "other.sqlite3"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    before = other.read_bytes()
    with pytest.raises(NotAVault, match="another program"):
        Vault.open(other, create=True)
    assert other.read_bytes() == before


def test_newer_vault_is_refused_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "v.sqlite3"
    open_vault(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {schema.schema_version() + 1}")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(VaultTooNew, match="newer Tessera"):
        Vault.open(path)
    assert path.read_bytes() == before


def test_older_vault_is_migrated_in_one_audited_step(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "v.sqlite3"
    populate(open_vault(path)).vault.close()

    def add_notes(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE custodians ADD COLUMN notes TEXT NOT NULL DEFAULT ''")

    n = schema.schema_version()
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, add_notes])
    vault = Vault.open(path, actor=ACTOR)
    assert vault.schema_version == n + 1
    last = vault.audit_entries()[-1]
    assert (last.action, dict(last.details)) == ("vault.migrate", {"from": n, "to": n + 1})
    assert len(vault.list_custodians()) == 3
    columns = [r[1] for r in vault._conn.execute("PRAGMA table_info(custodians)")]
    assert "notes" in columns
    vault.close()


def test_failed_migration_leaves_the_old_vault(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "v.sqlite3"
    populate(open_vault(path)).vault.close()

    def half_done(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE custodians ADD COLUMN notes TEXT")
        raise RuntimeError("power cut")

    n = schema.schema_version()
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, half_done])
    with pytest.raises(RuntimeError):
        Vault.open(path)
    monkeypatch.undo()
    vault = Vault.open(path)
    assert vault.schema_version == n
    columns = [r[1] for r in vault._conn.execute("PRAGMA table_info(custodians)")]
    assert "notes" not in columns
    assert vault.verify_audit().ok
    vault.close()


def test_demo_flag(tmp_path: Path) -> None:
    demo = open_vault(tmp_path / "demo.sqlite3", demo=True)
    assert demo.is_demo
    demo.close()
    real = tmp_path / "real.sqlite3"
    open_vault(real).close()
    with pytest.raises(PolicyError, match="not a demo vault"):
        Vault.open(real, demo=True)


def test_policy_change_is_audited(tmp_path: Path) -> None:
    vault = open_vault(tmp_path / "v.sqlite3")
    vault.set_policy(Policy(min_threshold=3, drill_days=30), ACTOR)
    assert vault.policy.min_threshold == 3
    entry = vault.audit_entries(action="vault.policy")[0]
    assert entry.details["changes"] == {"min_threshold": {"from": 2, "to": 3},
                                        "drill_days": {"from": 90, "to": 30}}


def test_default_path_follows_environment(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "mine.sqlite3"))
    assert Vault.default_path() == tmp_path / "mine.sqlite3"
    monkeypatch.delenv(ENV_VAR)
    assert default_path().name == "vault.sqlite3"
    assert "tessera" in str(default_path()).lower()


def test_failed_creation_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "v.sqlite3"
    with pytest.raises(Exception, match="actor"):
        Vault.open(path, create=True, actor=" ")
    assert not path.exists()
    assert not any(p.name.startswith("v.sqlite3") for p in tmp_path.iterdir())
    assert os.listdir(tmp_path) == []
