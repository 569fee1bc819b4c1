"""Names people can trust, at the vault: hostile text is refused and changes nothing,
look-alikes of existing names are stopped unless confirmed, and text already in an
old vault comes out escaped."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from vault_fixtures import ACTOR, World, build_sealed, create, dump, open_vault, populate, raw

from tessera.core.errors import InputError
from tessera.core.review import review_csv
from tessera.core.text import LookalikeName, UnsafeText
from tessera.custody.review import gather_review
from tessera.tokens.base import TokenKind
from tessera.vault import Vault


@pytest.fixture
def world(tmp_path: Path) -> World:
    return populate(open_vault(tmp_path / "v.sqlite3"))


@pytest.mark.parametrize(("field", "call"), [
    ("custodian name", lambda v, w: v.add_custodian("Mall\u202eory", "", "", ACTOR)),
    ("contact", lambda v, w: v.add_custodian("Mallory", "m@x\x1b[2J", "", ACTOR)),
    ("role", lambda v, w: v.add_custodian("Mallory", "", "SRE\u200b", ACTOR)),
    ("token label", lambda v, w: v.add_token(w.custodians[0].id, TokenKind.FIDO2, "key\x9b1m",
                                             "age1" + "q" * 58, {}, ACTOR)),
    ("actor", lambda v, w: v.add_custodian("Mallory", "", "", "ops\x1b]0;x\x07")),
    ("reason", lambda v, w: v.set_custodian_state(w.custodians[0].id, "retired", ACTOR,
                                                  "left\u2066 the company")),
])
def test_hostile_text_is_refused_and_the_vault_is_unchanged(world: World, field: str,
                                                            call: object) -> None:
    before = dump(world.vault)
    with pytest.raises(UnsafeText, match=field) as caught:
        call(world.vault, world)  # type: ignore[operator]
    assert "position" in str(caught.value)
    assert dump(world.vault) == before


def test_release_reason_and_ticket_are_checked(world: World) -> None:
    from vault_fixtures import release_request
    record = create(world)
    request_id, request_bytes = release_request(world.vault, record)
    before = dump(world.vault)
    with pytest.raises(UnsafeText, match="ticket reference"):
        world.vault.start_release(record.id, request_bytes, request_id,
                                  reason="drill", ticket="INC-1\u202e", requested_by=ACTOR)
    assert dump(world.vault) == before


def test_a_lookalike_custodian_is_stopped_unless_confirmed(world: World) -> None:
    before = dump(world.vault)
    with pytest.raises(LookalikeName) as caught:
        world.vault.add_custodian("\u0410lice", "", "", ACTOR)  # Cyrillic А
    assert caught.value.existing == "Alice"
    assert dump(world.vault) == before
    assert world.vault.custodian_lookalike("A1ice") == "Alice"
    added = world.vault.add_custodian("\u0410lice", "", "", ACTOR, allow_lookalike=True)
    entry = world.vault.audit_entries()[-1]
    assert entry.details["looks_like"] == "Alice" and entry.subject == added.id


def test_a_lookalike_record_label_is_stopped_unless_confirmed(world: World) -> None:
    create(world, label="Root CA key")
    before = dump(world.vault)
    with pytest.raises(LookalikeName, match="record label"):
        create(world, label="R\u03bfot CA key")  # Greek omicron
    assert dump(world.vault) == before
    sealed = build_sealed(world, label="R\u03bfot CA key")
    world.vault.create_record(sealed, actor=ACTOR, allow_lookalike=True)


def test_names_already_in_an_old_vault_come_out_escaped(world: World) -> None:
    """Rows written before these checks (or by hand) are escaped in every export."""
    create(world)
    conn = raw(world.vault)
    conn.execute("UPDATE custodians SET name = ?, role = ? WHERE name = 'Alice'",
                 ("Al\x1b[2Jice\u202e", "=cmd|' /C calc'!A0"))
    conn.execute("UPDATE tokens SET label = ? WHERE label = \"Bob's key\"", ("@SUM(1)\x9b",))
    conn.close()
    review = gather_review(world.vault)
    rows = list(csv.reader(io.StringIO(review_csv(review))))
    cells = [c for row in rows for c in row]
    assert not any(c[:1] in "=+-@" for c in cells if c)
    assert not any(ch in c for c in cells for ch in "\x1b\u202e\x9b")
    assert any("Al\\u001b[2Jice\\u202e" in c for c in cells)

    # append_audit refuses such an actor now; write it as an old vault could have.
    conn = raw(world.vault)
    conn.execute("UPDATE audit SET actor = ? WHERE seq = 1", ("=evil\x1b[31m",))
    conn.close()
    exported = world.vault.export_audit("csv")
    assert "\x1b" not in exported and "'=evil\\u001b[31m" in exported


def test_imported_custodian_lookalikes_are_refused(tmp_path: Path, world: World) -> None:
    from tessera.vault.exchange import export_version, import_version
    record = create(world)
    data = export_version(world.vault, record.id, actor=ACTOR)
    other = open_vault(tmp_path / "other.sqlite3")
    other.add_custodian("\u0410lice", "", "", ACTOR)  # the other vault's own Cyrillic Аlice
    before = dump(other)
    with pytest.raises(InputError, match="looks like"):
        import_version(other, data, actor=ACTOR)
    assert dump(other) == before


def test_vault_open_accepts_a_plain_actor(tmp_path: Path) -> None:
    vault = Vault.open(tmp_path / "x.sqlite3", create=True, actor="Zoë Márquez")
    vault.add_custodian("Zoë Márquez", "", "", "Zoë Márquez")
    vault.close()


def test_record_facts_are_checked_before_any_share_exists(world: World) -> None:
    """A hostile label or NHI fact is refused before the split: no words are handed out."""
    from tessera.core.policy import SplitPlan
    from tessera.custody.create import create_record
    handed_out: list[object] = []
    before = dump(world.vault)
    for label, nhi in (("Root\u202e", {}), ("Root", {"owner": "ops\x1b[8m"})):
        with pytest.raises(UnsafeText):
            create_record(world.vault, b"secret", label=label,
                          plan=SplitPlan.simple(2, [c.id for c in world.custodians]),
                          nhi=nhi, actor=ACTOR, allow_software=True,
                          on_mnemonics=handed_out.append)
    assert handed_out == [] and dump(world.vault) == before


def test_a_sealed_version_or_import_with_a_hostile_label_is_refused(tmp_path: Path,
                                                                    world: World) -> None:
    before = dump(world.vault)
    with pytest.raises(UnsafeText, match="record label"):
        create(world, label="Root CA\u202e")
    assert dump(world.vault) == before

    # A crafted export whose manifest label hides an override (written by a tool that
    # does not check, since Tessera would not write it).
    from tessera.vault.exchange import export_version, import_version
    record = create(world, label="Root CA")
    exported = export_version(world.vault, record.id, actor=ACTOR)
    import base64
    import json
    doc = json.loads(exported)
    manifest = json.loads(base64.b64decode(doc["manifest"]))
    manifest["label"] = "Root CA\u202e"
    doc["manifest"] = base64.b64encode(json.dumps(
        manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).decode()
    crafted = json.dumps(doc, sort_keys=True, separators=(",", ":"),
                         ensure_ascii=False).encode()
    other = open_vault(tmp_path / "other.sqlite3")
    before = dump(other)
    with pytest.raises(InputError, match="label"):
        import_version(other, crafted, actor=ACTOR)
    assert dump(other) == before
