"""Create → collect shares one at a time → release, as the core sees it."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.sealed import make_sealed
from tessera.core import slip39
from tessera.core.errors import (
    FormatError,
    IntegrityError,
    QuorumNotMet,
    ShareMismatch,
    TesseraError,
)
from tessera.core.manifest import Manifest
from tessera.core.payload import decrypt_payload
from tessera.core.quorum import QuorumSession

SECRET = b"AKIAEXAMPLE/secret-access-key+with/odd=chars"


@pytest.fixture(scope="module")
def fx():
    return make_sealed(SECRET, 2, 3)


def test_each_envelope_holds_the_share_of_its_custodian(fx) -> None:
    for entry in fx.sealed.manifest.shares:
        assert fx.open_share(entry.key) == fx.mnemonics[entry.key]
        assert len(fx.mnemonics[entry.key].split()) == 33


def test_any_two_of_three_release_the_secret(fx) -> None:
    for pair in itertools.combinations(fx.sealed.manifest.shares, 2):
        session = QuorumSession(fx.sealed.manifest)
        for entry in pair:
            session.offer(entry.custodian_id, fx.open_share(entry.key), method="software")
        assert bytes(session.release(fx.sealed.ciphertext)) == SECRET


def test_progress_counts_towards_the_quorum(fx) -> None:
    session = QuorumSession(fx.sealed.manifest)
    assert session.progress().describe() == "0 of 2"
    alice = fx.sealed.manifest.shares[0]
    session.offer(alice.custodian_id, fx.open_share(alice.key), method="paper")
    assert session.progress().describe() == "1 of 2"
    assert not session.complete
    with pytest.raises(QuorumNotMet) as err:
        session.release(fx.sealed.ciphertext)
    assert (err.value.have, err.value.need) == (1, 2)


def test_a_mistyped_paper_word_is_named_and_changes_nothing(fx) -> None:
    session = QuorumSession(fx.sealed.manifest)
    bob = fx.sealed.manifest.shares[1]
    words = fx.mnemonics[bob.key].split()
    words[13] = slip39.WORDLIST[(slip39.WORD_INDEX_MAP[words[13]] + 5) % 1024]
    with pytest.raises(ShareMismatch) as err:
        session.offer(bob.custodian_id, " ".join(words), method="paper")
    assert str(err.value).startswith("Bob's share does not match this record — check word 14")
    assert session.contributions == ()
    session.offer(bob.custodian_id, fx.mnemonics[bob.key], method="paper")  # can go on
    assert session.progress().describe() == "1 of 2"


def test_someone_elses_share_is_named(fx) -> None:
    session = QuorumSession(fx.sealed.manifest)
    alice, bob = fx.sealed.manifest.shares[:2]
    with pytest.raises(ShareMismatch, match="these are Alice's words, not Bob's"):
        session.offer(bob.custodian_id, fx.mnemonics[alice.key], method="paper")


def test_a_share_of_another_record_is_refused(fx) -> None:
    other = make_sealed(SECRET, 2, 3)
    session = QuorumSession(fx.sealed.manifest)
    bob = fx.sealed.manifest.shares[1]
    with pytest.raises(ShareMismatch, match="another record or another epoch"):
        session.offer(bob.custodian_id, other.mnemonics["g0m1"], method="paper")


def test_an_earlier_epoch_is_named(fx) -> None:
    old = make_sealed(SECRET, 2, 3)
    session = QuorumSession(fx.sealed.manifest,
                            {old.sealed.manifest.slip39_identifier: "epoch 1"})
    with pytest.raises(ShareMismatch, match="from epoch 1, which is no longer valid"):
        session.offer("cust-bob", old.mnemonics["g0m1"], method="paper")


def test_the_same_share_is_not_counted_twice(fx) -> None:
    session = QuorumSession(fx.sealed.manifest)
    alice = fx.sealed.manifest.shares[0]
    session.offer(alice.custodian_id, fx.mnemonics[alice.key], method="paper")
    with pytest.raises(ShareMismatch, match="already been counted"):
        session.offer(alice.custodian_id, fx.mnemonics[alice.key], method="paper")


def test_groups_need_the_group_threshold() -> None:
    fx = make_sealed(SECRET, groups=[(2, 3), (1, 1), (2, 2)], group_threshold=2)
    m = fx.sealed.manifest
    session = QuorumSession(m)
    for entry in [e for e in m.shares if e.group == 0][:2]:
        session.offer(entry.custodian_id, fx.mnemonics[entry.key], method="paper")
    assert not session.complete
    assert session.progress().describe() == \
        "1 of 2 groups (group 1: 2 of 2, group 2: 0 of 1, group 3: 0 of 2)"
    solo = next(e for e in m.shares if e.group == 1)
    session.offer(solo.custodian_id, fx.mnemonics[solo.key], method="paper")
    assert bytes(session.release(fx.sealed.ciphertext)) == SECRET


def test_manifest_round_trips_canonically(fx) -> None:
    data = fx.sealed.manifest_bytes
    assert Manifest.from_bytes(data) == fx.sealed.manifest
    assert fx.sealed.fingerprint.startswith("TSR-") and len(fx.sealed.fingerprint) == 23


def test_non_canonical_manifest_is_refused(fx) -> None:
    import json

    pretty = json.dumps(json.loads(fx.sealed.manifest_bytes), indent=1).encode()
    with pytest.raises(FormatError, match="canonical"):
        Manifest.from_bytes(pretty)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_flipped_manifest_byte_is_caught(fx, data: st.DataObject) -> None:
    raw = bytearray(fx.sealed.manifest_bytes)
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] ^= data.draw(st.integers(1, 255))
    try:
        changed = Manifest.from_bytes(bytes(raw))
    except FormatError:
        return
    # Parsed (e.g. a changed label letter): the payload must then refuse to decrypt.
    session = QuorumSession(fx.sealed.manifest)
    for entry in fx.sealed.manifest.shares[:2]:
        session.offer(entry.custodian_id, fx.mnemonics[entry.key], method="paper")
    dek = session.recover_dek()
    with pytest.raises(IntegrityError):
        decrypt_payload(dek, changed, fx.sealed.ciphertext)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_flipped_ciphertext_byte_is_caught(fx, data: st.DataObject) -> None:
    raw = bytearray(fx.sealed.ciphertext)
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] ^= data.draw(st.integers(1, 255))
    session = QuorumSession(fx.sealed.manifest)
    for entry in fx.sealed.manifest.shares[1:]:
        session.offer(entry.custodian_id, fx.mnemonics[entry.key], method="paper")
    with pytest.raises(IntegrityError):
        session.release(bytes(raw))


def test_the_secret_comes_back_in_a_wipeable_buffer(fx) -> None:
    session = QuorumSession(fx.sealed.manifest)
    for entry in fx.sealed.manifest.shares[:2]:
        session.offer(entry.custodian_id, fx.mnemonics[entry.key], method="paper")
    secret = session.release(fx.sealed.ciphertext)
    assert isinstance(secret, bytearray)
    session.wipe()
    assert bytes(secret) == SECRET
    with pytest.raises(TesseraError, match="closed"):
        session.release(fx.sealed.ciphertext)
    assert session.progress().describe() == "2 of 2"
