"""The quorum release ceremony, and drills, over a vault and the token drivers.

A :class:`ReleaseCeremony` records the request in the vault when it starts, checks
every contribution at once (a refused one changes nothing), records each approval
with its signed evidence, and marks the record *released — rotation due* when the
quorum is met and the payload decrypts.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from tessera.core.commitment import matches_commitment, normalize_mnemonic
from tessera.core.errors import PolicyError, ShareMismatch, TokenError, WrongToken
from tessera.core.manifest import Manifest, ShareEntry
from tessera.core.memory import wipe
from tessera.core.quorum import Contribution, Progress, QuorumSession
from tessera.core.request import Request, new_request
from tessera.custody.drivers import TokenDrivers
from tessera.custody.evidence import with_request
from tessera.tokens.base import (
    ApprovalMethod,
    Evidence,
    Prompts,
    TokenInfo,
    TokenState,
    Unlocked,
)
from tessera.vault import Vault, VersionData
from tessera.vault.ceremony_key import CeremonyKey


@dataclass(frozen=True)
class CustodianSlot:
    """A custodian as a release window shows them: their shares and tokens."""

    custodian_id: str
    name: str
    share_keys: tuple[str, ...]
    groups: tuple[int, ...]
    tokens: tuple[TokenInfo, ...]


def known_sets(vault: Vault, record_id: str, current: Manifest) -> dict[int, str]:
    """SLIP-39 identifiers of the record's earlier epochs, to name an old share."""
    names: dict[int, str] = {}
    for version in range(1, current.version):
        manifest = vault.get_version(record_id, version).manifest
        if manifest.epoch != current.epoch:
            names.setdefault(manifest.slip39_identifier, f"epoch {manifest.epoch}")
    return names


def custodian_slots(vault: Vault, data: VersionData) -> list[CustodianSlot]:
    """Each custodian of the version with the active tokens that open their shares now
    (after any re-wrap, which the manifest's sealed-time recipient list does not show)."""
    manifest = data.manifest
    slots: dict[str, CustodianSlot] = {}
    for entry in manifest.shares:
        if entry.custodian_id in slots:
            s = slots[entry.custodian_id]
            slots[entry.custodian_id] = CustodianSlot(
                s.custodian_id, s.name, (*s.share_keys, entry.key), (*s.groups, entry.group),
                s.tokens)
            continue
        tokens = tuple(t for t in vault.list_tokens(entry.custodian_id)
                       if t.state is TokenState.ACTIVE and data.holds(entry.custodian_id, t))
        slots[entry.custodian_id] = CustodianSlot(entry.custodian_id, entry.custodian,
                                                  (entry.key,), (entry.group,), tokens)
    return list(slots.values())


def open_share(drivers: TokenDrivers, token: TokenInfo, data: VersionData, challenge: bytes,
               prompts: Prompts, cancel: threading.Event, skip: Sequence[str] = ()
               ) -> tuple[Unlocked, ShareEntry]:
    """Open the first of the token's custodian's envelopes wrapped to this token now.

    Follows re-wraps (the envelope's current recipients, not the manifest's sealed-time
    list), so a custodian's new token opens their share and the old one is refused.
    The approval signature is checked before the share is handed back.
    """
    manifest = data.manifest
    entries = [e for e in manifest.shares_of(token.custodian_id) if e.key not in skip]
    candidates = [e for e in entries if token.named_in(data.recipients_of(e.key))]
    if not candidates:
        owner = next((e.custodian for e in manifest.shares
                      if token.named_in(data.recipients_of(e.key))), None)
        detail = (f"it is {owner}'s key" if owner and owner != token.custodian_name
                  else "it does not open any share of this record's current version")
        raise WrongToken(entries[0].custodian if entries else token.custodian_name, detail)
    entry = candidates[0]
    driver = drivers.for_token(token)
    unlocked = driver.unlock(token, data.envelopes[entry.key].age, challenge, prompts, cancel)
    if not driver.verify(token, challenge, unlocked.evidence):
        unlocked.wipe()
        raise TokenError(f"{token.label} returned an approval signature that does not verify")
    return unlocked, entry


class QuorumCeremony:
    """Custodians approve one at a time, each share checked at once and each approval
    recorded with its signed evidence. The request's ``purpose`` says what the quorum
    is for: a release (:class:`ReleaseCeremony`) or a reshare
    (:class:`~tessera.custody.reshare.ReshareCeremony`). Nothing here reveals anything.
    """

    purpose = "release"

    def __init__(self, vault: Vault, drivers: TokenDrivers, record: str, *, reason: str,
                 ticket: str, requested_by: str) -> None:
        self.vault = vault
        self.drivers = drivers
        self.record = vault.get_record(record)
        self._refuse_state()
        self.data = vault.get_version(self.record.id)
        self.manifest = self.data.manifest
        self.policy = vault.record_policy(self.record.id)
        self.request: Request = new_request(self.purpose, self.manifest, reason=reason,
                                            ticket=ticket, requested_by=requested_by)
        self.session = QuorumSession(self.manifest, known_sets(vault, self.record.id,
                                                               self.manifest))
        self.actor = requested_by
        self.finished = False
        self._prepare()
        # In a signed vault the operator's token signs the request once and authorises
        # this ceremony's own key with it; the key signs the ceremony's later writes, so
        # the operator touches once per quorum (FORMAT §7.1, docs/TOKENS.md).
        self._key: CeremonyKey | None = None
        if vault.signer_ids and vault.genesis_fingerprint() is not None:
            self._key = CeremonyKey(self.request.request_id)
        try:
            with vault.authorising(self._key.grant()) if self._key else nullcontext():
                vault.start_release(self.record.id, self.request.to_bytes(),
                                    self.request.request_id, self.request.reason,
                                    self.request.ticket, requested_by, purpose=self.purpose)
        except BaseException:
            self.close()  # refused: nothing was granted, nothing may sign
            raise

    @contextmanager
    def signing(self) -> Iterator[None]:
        """The ceremony's writes inside are signed by its key alone (no touch); in an
        unsigned vault, or once the key is wiped, by whoever signs them otherwise."""
        if self._key is None or self._key.wiped:
            yield
            return
        with self.vault.signed_by(self._key, replace=True):
            yield

    def close(self) -> None:
        """Wipe the ceremony key: nothing more is signed for this quorum."""
        if self._key is not None:
            self._key.wipe()

    def _refuse_state(self) -> None:
        """Hook: refuse a record whose state does not allow this quorum."""

    def _prepare(self) -> None:
        """Hook: checks to run before the request is recorded (a refused plan costs
        nobody a touch)."""

    @property
    def request_id(self) -> str:
        return self.request.request_id

    @property
    def release_id(self) -> str:
        return self.request.request_id

    @property
    def fingerprint(self) -> str:
        return self.manifest.fingerprint

    def slots(self) -> list[CustodianSlot]:
        return custodian_slots(self.vault, self.data)

    def progress(self) -> Progress:
        return self.session.progress()

    @property
    def complete(self) -> bool:
        return self.session.complete

    def contribute_token(self, token_id: str, prompts: Prompts,
                         cancel: threading.Event) -> Contribution:
        """The token's custodian approves: PIN, touch, unwrap, check, record."""
        token = self.vault.get_token(token_id)
        if token.state is not TokenState.ACTIVE:
            raise TokenError(f"{token.label} is {token.state.value} and cannot approve")
        taken = tuple(c.share_key for c in self.session.contributions)
        unlocked, _ = open_share(self.drivers, token, self.data, self.request.challenge,
                                 prompts, cancel, skip=taken)
        try:
            contribution = self.session.offer(token.custodian_id, unlocked.share.decode("utf-8"),
                                              method=token.kind.value)
        except ShareMismatch as exc:
            raise ShareMismatch(exc.custodian, "the share inside the envelope does not match "
                                "the record's commitment; the envelope may have been replaced") \
                from None
        finally:
            unlocked.wipe()
        with self.signing():
            self.vault.add_approval(self.request_id, token.custodian_id, token.id,
                                    unlocked.evidence, self.actor)
        return contribution

    def contribute_paper(self, custodian_id: str, words: str) -> Contribution:
        """A custodian types (or scans) the words of their sealed sheet."""
        if not self.policy.paper_in_release:
            raise PolicyError(f"this record's policy does not accept paper shares in a "
                              f"{self.purpose}")
        custodian = self.vault.get_custodian(custodian_id)
        contribution = self.session.offer(custodian.id, words, method="paper")
        evidence = Evidence(ApprovalMethod.PAPER, None, "share-commitment", b"",
                            {"share": contribution.share_key})
        with self.signing():
            self.vault.add_approval(self.request_id, custodian.id, None, evidence, self.actor)
        return contribution

    def abort(self) -> None:
        """Stop: the collected shares are dropped and the quorum is logged as aborted."""
        if not self.finished:
            self.session.wipe()
            try:
                with self.signing():
                    self.vault.finish_release(self.request_id, "aborted", self.actor)
            finally:
                self.close()
            self.finished = True


class ReleaseCeremony(QuorumCeremony):
    """One quorum release of a record's current version."""

    def finish(self, *, keep_key: bool = False) -> bytearray:
        """Combine and decrypt; the record becomes *released — rotation due*.

        Returns the secret in a ``bytearray``: the caller shows it and wipes it.
        ``keep_key``: the ceremony key stays for the audit entries that still belong
        to this release (its revocation hook's outcome, under :meth:`signing`) until
        :meth:`close`; otherwise it is wiped now.
        """
        secret = self.session.release(self.data.ciphertext)
        self.session.wipe()
        try:
            with self.signing():
                self.vault.finish_release(self.request_id, "released", self.actor)
        except BaseException:
            wipe(secret)  # the key stays: abort() signs with it
            raise
        if not keep_key:
            self.close()
        self.finished = True
        return secret


@dataclass(frozen=True)
class DrillResult:
    custodian: str
    token_label: str
    share_key: str
    ok: bool


def drill(vault: Vault, drivers: TokenDrivers, record: str, token_id: str, prompts: Prompts,
          cancel: threading.Event, *, actor: str) -> DrillResult:
    """Prove a token still opens its custodian's share (commitment check only)."""
    rec = vault.get_record(record)
    data = vault.get_version(rec.id)
    manifest = data.manifest
    token = vault.get_token(token_id)
    request = new_request("drill", manifest, reason="drill", ticket="", requested_by=actor)
    unlocked, entry = open_share(drivers, token, data, request.challenge, prompts, cancel)
    try:
        ok = matches_commitment(manifest.record_id,
                                normalize_mnemonic(unlocked.share.decode("utf-8")),
                                entry.commitment)
    finally:
        unlocked.wipe()
    vault.record_drill(rec.id, manifest.version, token.custodian_id, token.id,
                       token.kind.value, ok, with_request(unlocked.evidence, request), actor)
    if not ok:
        raise ShareMismatch(token.custodian_name, "the share in the envelope does not match "
                            "the record's commitment; the envelope may have been replaced")
    return DrillResult(token.custodian_name, token.label, entry.key, ok)
