"""Software tokens: age identities (post-quantum hybrid and X25519) and an Ed25519
approval key kept on the computer.

Lower assurance than a hardware token (the key can be copied by anyone who controls
the computer), so records are hardware-only unless the vault is a demo vault or the
operator allowed software keys on the record (which the audit log shows).

Where the OS keyring works the keys live there. Where it does not (a headless CI
machine, a minimal desktop), they live in a scrypt-protected age file beside the
vault, opened with a passphrase from the prompt or ``TESSERA_PASSPHRASE``.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tessera.core import age
from tessera.core.errors import FormatError, PinInvalid, TokenError, UserCancelled, WrongToken
from tessera.core.private_file import write_private
from tessera.core.token_types import PQ_RECIPIENT_FACT
from tessera.tokens.base import (
    ApprovalMethod,
    Enrolled,
    Evidence,
    Prompts,
    TokenInfo,
    TokenKind,
    Unlocked,
)

log = logging.getLogger(__name__)
KEYRING_SERVICE = "tessera-software-token"
PASSPHRASE_ENV = "TESSERA_PASSPHRASE"  # noqa: S105 (the variable's name, not a secret)
DEFAULT_WORK_FACTOR = 18


class SoftwareKeyStore:
    """Where software token keys live: the OS keyring, or protected files in ``directory``.

    ``work_factor`` is the scrypt cost of identity files (2**N); demo vaults use a lower
    one so the two-minute demo stays quick.
    """

    def __init__(self, directory: Path, *, use_keyring: bool | None = None,
                 work_factor: int = DEFAULT_WORK_FACTOR) -> None:
        self.directory = directory
        self.work_factor = work_factor
        self._use_keyring = use_keyring

    @property
    def use_keyring(self) -> bool:
        """Whether keys go to the OS keyring; the backend is probed (≈ 0.4 s) only when a
        software key is first saved or read, not when a vault is opened."""
        if self._use_keyring is None:
            self._use_keyring = keyring_available()
        return self._use_keyring

    @use_keyring.setter
    def use_keyring(self, value: bool) -> None:
        self._use_keyring = value

    def _file(self, key_id: str) -> Path:
        if str(uuid.UUID(key_id)) != key_id:
            raise FormatError("malformed software key id")
        return self.directory / f"{key_id}.age"

    def save(self, key_id: str, secret_text: str, prompts: Prompts) -> str:
        """Store the key text; returns where ("keyring" or "file")."""
        if self.use_keyring:
            import keyring

            keyring.set_password(KEYRING_SERVICE, key_id, secret_text)
            return "keyring"
        passphrase = os.environ.get(PASSPHRASE_ENV) or prompts.request_new_pin(
            "software key file", "Choose a passphrase that protects this software key")
        if not passphrase:
            raise UserCancelled()
        data = age.encrypt(secret_text.encode("ascii"),
                           [age.ScryptRecipient(passphrase, work_factor=self.work_factor)],
                           armor=True)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private(self._file(key_id), data)
        return "file"

    def load(self, key_id: str, where: str, prompts: Prompts, label: str) -> str:
        if where == "keyring":
            import keyring

            text = keyring.get_password(KEYRING_SERVICE, key_id)
            if text is None:
                raise TokenError(f"{label}: the key is not in this computer's keyring")
            return text
        path = self._file(key_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise TokenError(f"{label}: the key file is missing ({path.name})") from None
        passphrase = os.environ.get(PASSPHRASE_ENV) or prompts.request_pin(label, None)
        if not passphrase:
            raise UserCancelled()
        try:
            # Bound the work factor: a planted file must not make us allocate gigabytes.
            identity = age.ScryptIdentity(passphrase, max_work_factor=20)
            return age.decrypt(data, [identity]).decode("ascii")
        except age.AgeNoMatch:
            raise PinInvalid(None) from None
        except age.AgeError:
            raise TokenError(f"{label}: the key file is damaged") from None


def keyring_available() -> bool:
    """True when a real keyring backend (not the 'fail' or plaintext ones) is present."""
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
    except Exception:  # a broken D-Bus or backend import is "no keyring"
        return False
    if isinstance(backend, fail.Keyring):
        return False
    return float(getattr(backend, "priority", 0)) >= 1


@dataclass(frozen=True)
class SoftwareKeys:
    """What a software token keeps: its age identities and its approval key.

    ``hybrid`` is None for keys made before post-quantum envelopes (one X25519 line).
    """

    classical: age.X25519Identity
    signer: Ed25519PrivateKey
    hybrid: age.MlKem768X25519Identity | None = None

    @property
    def identities(self) -> list[age.Identity]:
        return [i for i in (self.hybrid, self.classical) if i is not None]


def _key_text(keys: SoftwareKeys) -> str:
    raw = keys.signer.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                    serialization.NoEncryption())
    hybrid = f"{keys.hybrid.to_string()}\n" if keys.hybrid is not None else ""
    return f"{keys.classical.to_string()}\n{raw.hex()}\n{hybrid}"


def _parse_key_text(text: str) -> SoftwareKeys:
    lines = text.split()
    if len(lines) not in (2, 3):
        raise FormatError("the software key is damaged")
    try:
        hybrid = age.MlKem768X25519Identity.from_string(lines[2]) if len(lines) == 3 else None
        return SoftwareKeys(age.X25519Identity.from_string(lines[0]),
                            Ed25519PrivateKey.from_private_bytes(bytes.fromhex(lines[1])),
                            hybrid)
    except (ValueError, age.AgeError):
        raise FormatError("the software key is damaged") from None


def enroll(custodian_name: str, store: SoftwareKeyStore, prompts: Prompts) -> Enrolled:
    """Make a new software key for ``custodian_name`` and store it.

    The key has a post-quantum hybrid identity (``age1pq1…``, the recipient of hybrid
    envelopes) and an X25519 one (for records whose policy asks for classical ones).
    """
    keys = SoftwareKeys(age.X25519Identity.generate(), Ed25519PrivateKey.generate(),
                        age.MlKem768X25519Identity.generate(os.urandom))
    assert keys.hybrid is not None  # noqa: S101 (made just above; narrows the type)
    key_id = str(uuid.uuid4())
    where = store.save(key_id, _key_text(keys), prompts)
    public = keys.signer.public_key().public_bytes(serialization.Encoding.Raw,
                                                   serialization.PublicFormat.Raw)
    log.info("Enrolled a software key (%s)", where)
    return Enrolled(
        kind=TokenKind.SOFTWARE, label=f"{custodian_name}'s software key",
        recipient=keys.classical.recipient.to_string(),
        facts={"key_id": key_id, "store": where, "approval_public_key": public.hex(),
               PQ_RECIPIENT_FACT: keys.hybrid.recipient.to_string()})


class SoftwareDriver:
    kind = TokenKind.SOFTWARE

    def __init__(self, store: SoftwareKeyStore) -> None:
        self.store = store

    def present(self, token: TokenInfo) -> bool | None:
        """A software key lives on this computer: there is nothing to plug in."""
        return True

    def _load(self, token: TokenInfo, prompts: Prompts) -> SoftwareKeys:
        key_id = str(token.facts.get("key_id", ""))
        where = str(token.facts.get("store", "file"))
        keys = _parse_key_text(self.store.load(key_id, where, prompts, token.label))
        hybrid = keys.hybrid.recipient.to_string() if keys.hybrid is not None else None
        if (keys.classical.recipient.to_string() != token.recipient
                or hybrid != token.pq_recipient):
            raise WrongToken(token.custodian_name, "the stored key does not match the enrolment")
        return keys

    def unlock(self, token: TokenInfo, envelope: bytes, challenge: bytes, prompts: Prompts,
               cancel: threading.Event) -> Unlocked:
        if cancel.is_set():
            raise UserCancelled()
        keys = self._load(token, prompts)
        try:
            share = bytearray(age.decrypt(envelope, keys.identities))
        except age.AgeNoMatch:
            raise WrongToken(token.custodian_name) from None
        evidence = Evidence(ApprovalMethod.SOFTWARE, token.id, "Ed25519",
                            keys.signer.sign(challenge))
        return Unlocked(share, evidence)

    def sign(self, token: TokenInfo, challenge: bytes, prompts: Prompts,
             cancel: threading.Event) -> Evidence:
        """Sign ``challenge`` (a statement's hash) with the key's Ed25519 half."""
        if cancel.is_set():
            raise UserCancelled()
        keys = self._load(token, prompts)
        return Evidence(ApprovalMethod.SOFTWARE, token.id, "Ed25519", keys.signer.sign(challenge))

    def export_identity(self, token: TokenInfo, prompts: Prompts, *,
                        classical: bool = False) -> str:
        """One age identity line, for a backup or for ``age -d -i``.

        The post-quantum ``AGE-SECRET-KEY-PQ-1…`` identity (it opens hybrid envelopes;
        age 1.3 and the age authors' ``age-encryption`` read it) unless ``classical``
        or the key predates hybrids: then ``AGE-SECRET-KEY-1…`` (classical envelopes,
        and any age release). One line each, because age 1.1 refuses a whole identity
        file that has a line it does not know.
        """
        keys = self._load(token, prompts)
        if keys.hybrid is not None and not classical:
            return keys.hybrid.to_string()
        return keys.classical.to_string()

    def verify(self, token: TokenInfo, challenge: bytes, evidence: Evidence) -> bool:
        return verify_ed25519(token, challenge, evidence)


def verify_ed25519(token: TokenInfo, challenge: bytes, evidence: Evidence) -> bool:
    if evidence.algorithm != "Ed25519" or evidence.token_id != token.id:
        return False
    try:
        public = Ed25519PublicKey.from_public_bytes(
            bytes.fromhex(str(token.facts["approval_public_key"])))
        public.verify(evidence.signature, challenge)
    except (KeyError, ValueError, InvalidSignature):
        return False
    return True
