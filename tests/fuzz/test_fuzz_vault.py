"""``.tessera`` imports from outside, against a real vault: a damaged or crafted file
is imported correctly or refused with a clean error, and a refused file leaves every
row of the vault exactly as it was."""

from __future__ import annotations

import json
import sqlite3

import pytest
from fuzzing import clean, fuzz, json_paths, json_values, mutated
from hypothesis import given
from hypothesis import strategies as st
from vault_fixtures import ACTOR, create, open_vault, populate

from tessera.vault import Vault
from tessera.vault.exchange import ImportResult, export_version, import_version


def dump(vault: Vault) -> list[str]:
    vault.checkpoint()
    conn = sqlite3.connect(vault.path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


@pytest.fixture(scope="module")
def setting(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Vault]:
    folder = tmp_path_factory.mktemp("fuzz-import")
    world = populate(open_vault(folder / "source.sqlite3"))
    record = create(world)
    exported = export_version(world.vault, record.id, actor=ACTOR)
    world.vault.close()
    target = open_vault(folder / "target.sqlite3")
    yield exported, target
    target.close()


def _check(target: Vault, data: bytes) -> None:
    before = dump(target)
    result = clean(lambda: import_version(target, data, actor=ACTOR))
    if not isinstance(result, ImportResult):
        assert dump(target) == before, "a refused import changed the vault"


@fuzz(quick=80, long=2000)
@given(st.data())
def test_a_damaged_export_is_imported_or_refused_without_a_trace(
        setting: tuple[bytes, Vault], data: st.DataObject) -> None:
    exported, target = setting
    _check(target, data.draw(mutated(exported)))


@fuzz(quick=80, long=2000)
@given(st.data())
def test_any_field_of_an_export_with_any_value_is_checked(
        setting: tuple[bytes, Vault], data: st.DataObject) -> None:
    exported, target = setting
    document = json.loads(exported)
    path = data.draw(st.sampled_from(json_paths(document)))
    value = data.draw(json_values)
    node = document
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    crafted = json.dumps(document, sort_keys=True, separators=(",", ":"),
                         ensure_ascii=False).encode("utf-8")
    _check(target, crafted)


@fuzz(quick=40, long=1000)
@given(st.binary(max_size=300))
def test_random_bytes_are_refused_without_a_trace(setting: tuple[bytes, Vault],
                                                  data: bytes) -> None:
    _check(setting[1], data)
