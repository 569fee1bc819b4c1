"""Living beside other YubiKey tools: age-plugin-yubikey's conventions, no orphan keys.

The plugin's rules are read from its source (str4d/age-plugin-yubikey 0.5): it reads a
PIN-protected management key only as 24-byte TDES (the ``yubikey`` crate's MgmKey),
it lists a slot as its own when the certificate's subject organisation is
``age-plugin-yubikey`` and reads the policies from extension 1.3.6.1.4.1.41482.3.8
(two raw bytes), it numbers retired slots 1-20, and its identity line is Bech32 of
serial (LE) ‖ slot ‖ tag.
"""

from __future__ import annotations

import base64
import json
import struct
import threading
from pathlib import Path

import pytest
from cryptography.x509.oid import NameOID, ObjectIdentifier
from tests.unit.tokens.test_piv_driver import PIN, Prompts, Rig
from ykman.piv import get_pivman_data, get_pivman_protected_data
from yubikit.core.smartcard import ApduError
from yubikit.piv import MANAGEMENT_KEY_TYPE, SLOT, PivSession

from tessera.core.age import PivP256Recipient
from tessera.core.age.bech32 import decode
from tessera.core.errors import TouchTimeout, UserCancelled
from tessera.tokens.piv import TouchPolicy
from tessera.tokens.piv_identity import (
    plugin_identity,
    plugin_identity_file,
    plugin_slot_number,
    recovery_commands,
    stub_identity,
)
from tessera.tokens.virtual.piv_card import VirtualPivCard
from tessera.tokens.virtual.touch import TouchControl

VECTOR = Path(__file__).parents[2] / "vectors" / "age-plugin-yubikey" / "identity-stub.json"
POLICY_OID = ObjectIdentifier("1.3.6.1.4.1.41482.3.8")


def make_rig(version=(5, 7, 2), touch="immediate") -> Rig:
    return Rig([VirtualPivCard(serial=5550001, version=version, touch=TouchControl(touch),
                               touch_timeout=0.05)])


@pytest.mark.parametrize("version", [(5, 4, 3), (5, 7, 2)])
def test_the_migrated_management_key_is_one_age_plugin_yubikey_can_read(version):
    rig = make_rig(version)
    rig.enroll()
    session = PivSession(rig.card)
    session.verify_pin(PIN)
    assert session.get_management_key_metadata().key_type == MANAGEMENT_KEY_TYPE.TDES
    assert get_pivman_data(session).has_stored_key
    stored = get_pivman_protected_data(session).key
    assert stored is not None and len(stored) == 24  # what the yubikey crate's MgmKey accepts
    session.authenticate(stored)  # and it is the card's key


def test_an_existing_protected_management_key_is_reused_not_replaced():
    rig = make_rig()
    rig.enroll("Alice")
    session = PivSession(rig.card)
    session.verify_pin(PIN)
    before = get_pivman_protected_data(session).key
    rig.enroll("Bob")
    session = PivSession(rig.card)
    session.verify_pin(PIN)
    assert get_pivman_protected_data(session).key == before


@pytest.mark.parametrize(("policy", "touch_byte"), [(TouchPolicy.ALWAYS, 2), (TouchPolicy.CACHED, 3)])
def test_the_slot_certificate_follows_the_plugin_naming(policy, touch_byte):
    rig = make_rig()
    rig.enroll("Alice", touch_policy=policy)
    cert = PivSession(rig.card).get_certificate(SLOT.RETIRED1)
    organisation = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert [a.value for a in organisation] == ["age-plugin-yubikey"]  # the plugin's "ours" test
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Tessera: Alice"
    extension = cert.extensions.get_extension_for_oid(POLICY_OID)
    assert extension.value.value[:2] == bytes([2, touch_byte])  # PIN once, touch always/cached
    assert not extension.critical


@pytest.mark.parametrize("version", [(5, 4, 3), (5, 7, 2)])
def test_a_touch_that_never_comes_leaves_no_orphan_key_and_the_retry_reuses_the_slot(version):
    rig = make_rig(version, touch="never")
    with pytest.raises(TouchTimeout):
        rig.enroll()
    session = PivSession(rig.card)
    if version >= (5, 7, 0):
        with pytest.raises(ApduError):  # the key is deleted again
            session.get_slot_metadata(SLOT.RETIRED1)
    else:  # older firmware cannot delete: the slot is labelled as unused
        cert = session.get_certificate(SLOT.RETIRED1)
        assert "unused" in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    rig.card.touch.set_mode("immediate")
    second = rig.enroll(prompts=Prompts())
    assert second.facts["slot"] == "82"  # the same slot, not another one burnt
    compressed = base64.b64decode(second.facts["public_key"])
    on_card = PivSession(rig.card).get_certificate(SLOT.RETIRED1).public_key()
    assert PivP256Recipient.from_public_key(compressed).to_string() == second.recipient
    assert on_card == PivSession(rig.card).get_slot_metadata(SLOT.RETIRED1).public_key


def test_a_cancelled_touch_at_enrolment_leaves_no_orphan_key():
    rig = make_rig(touch="manual")
    rig.card.touch_timeout = 10
    cancel = threading.Event()
    outcome: dict[str, BaseException] = {}

    def run():
        try:
            rig.driver.enroll(rig.card, "Alice", Prompts(), cancel)
        except BaseException as e:
            outcome["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert rig.card.touch.waiting.wait(5)
    cancel.set()
    thread.join(5)
    assert isinstance(outcome["error"], UserCancelled)
    with pytest.raises(ApduError):
        PivSession(rig.card).get_slot_metadata(SLOT.RETIRED1)


def test_a_key_without_certificate_of_another_tool_is_left_alone():
    rig = make_rig()
    first = rig.enroll("Alice")
    session = PivSession(rig.card)
    session.verify_pin(PIN)
    session.authenticate(get_pivman_protected_data(session).key)
    from yubikit.piv import KEY_TYPE
    session.generate_key(SLOT.RETIRED2, KEY_TYPE.ECCP256)  # someone's key, no certificate
    second = rig.enroll("Bob")
    assert (first.facts["slot"], second.facts["slot"]) == ("82", "84")
    assert PivSession(rig.card).get_slot_metadata(SLOT.RETIRED2) is not None


def test_identity_line_matches_the_published_stub():
    vector = json.loads(VECTOR.read_text())
    tag = base64.b64decode(vector["tag_b64"] + "==")
    slot = int(vector["slot"], 16)
    assert stub_identity(vector["serial"], slot, tag) == vector["identity"]
    compressed = base64.b64decode(vector["public_key_compressed_b64"])
    assert PivP256Recipient.from_public_key(compressed).to_string() == vector["recipient"]


def test_identity_line_of_an_enrolled_token_has_the_plugins_layout():
    rig = make_rig()
    enrolled = rig.enroll()
    compressed = base64.b64decode(enrolled.facts["public_key"])
    line = plugin_identity(enrolled.facts["serial"], 0x82, compressed)
    hrp, data = decode(line)
    assert hrp == "AGE-PLUGIN-YUBIKEY-" and line == line.upper()
    serial, slot = struct.unpack("<IB", data[:5])
    assert (serial, slot) == (5550001, 0x82)
    assert data[5:] == PivP256Recipient.from_public_key(compressed).tag
    text = plugin_identity_file(5550001, 0x82, compressed, "Tessera: Alice")
    assert text.splitlines()[0] == "#       Serial: 5550001, Slot: 1"
    assert text.splitlines()[-1] == line
    assert f"#    Recipient: {enrolled.recipient}" in text


def test_plugin_slot_numbers_and_recovery_commands():
    assert [plugin_slot_number(s) for s in (0x82, 0x83, 0x95)] == [1, 2, 20]
    for bad in (0x81, 0x96, 0x9A):
        with pytest.raises(ValueError):
            plugin_slot_number(bad)
    first = recovery_commands(5550001, 0x82)[0]
    assert "--slot 1 " in first and "--serial 5550001" in first and "--slot 82" not in first
