"""Software tokens: an X25519 identity and an Ed25519 approval key kept on the computer.

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
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tessera.core import age
from tessera.core.errors import FormatError, PinInvalid, TokenError, UserCancelled, WrongToken
from tessera.core.private_file import write_private
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
        self.use_keyring = keyring_available() if use_keyring is None else use_keyring

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


def _key_text(identity: age.X25519Identity, signer: Ed25519PrivateKey) -> str:
    raw = signer.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                               serialization.NoEncryption())
    return f"{identity.to_string()}\n{raw.hex()}\n"


def _parse_key_text(text: str) -> tuple[age.X25519Identity, Ed25519PrivateKey]:
    lines = text.split()
    if len(lines) != 2:
        raise FormatError("the software key is damaged")
    try:
        return (age.X25519Identity.from_string(lines[0]),
                Ed25519PrivateKey.from_private_bytes(bytes.fromhex(lines[1])))
    except (ValueError, age.AgeError):
        raise FormatError("the software key is damaged") from None


def enroll(custodian_name: str, store: SoftwareKeyStore, prompts: Prompts) -> Enrolled:
    """Make a new software key for ``custodian_name`` and store it."""
    identity = age.X25519Identity.generate()
    signer = Ed25519PrivateKey.generate()
    key_id = str(uuid.uuid4())
    where = store.save(key_id, _key_text(identity, signer), prompts)
    public = signer.public_key().public_bytes(serialization.Encoding.Raw,
                                              serialization.PublicFormat.Raw)
    log.info("Enrolled a software key (%s)", where)
    return Enrolled(
        kind=TokenKind.SOFTWARE, label=f"{custodian_name}'s software key",
        recipient=identity.recipient.to_string(),
        facts={"key_id": key_id, "store": where, "approval_public_key": public.hex()})


class SoftwareDriver:
    kind = TokenKind.SOFTWARE

    def __init__(self, store: SoftwareKeyStore) -> None:
        self.store = store

    def _load(self, token: TokenInfo, prompts: Prompts) -> tuple[age.X25519Identity,
                                                                 Ed25519PrivateKey]:
        key_id = str(token.facts.get("key_id", ""))
        where = str(token.facts.get("store", "file"))
        identity, signer = _parse_key_text(self.store.load(key_id, where, prompts, token.label))
        if identity.recipient.to_string() != token.recipient:
            raise WrongToken(token.custodian_name, "the stored key does not match the enrolment")
        return identity, signer

    def unlock(self, token: TokenInfo, envelope: bytes, challenge: bytes, prompts: Prompts,
               cancel: threading.Event) -> Unlocked:
        if cancel.is_set():
            raise UserCancelled()
        identity, signer = self._load(token, prompts)
        try:
            share = bytearray(age.decrypt(envelope, [identity]))
        except age.AgeNoMatch:
            raise WrongToken(token.custodian_name) from None
        evidence = Evidence(ApprovalMethod.SOFTWARE, token.id, "Ed25519", signer.sign(challenge))
        return Unlocked(share, evidence)

    def export_identity(self, token: TokenInfo, prompts: Prompts) -> str:
        """The ``AGE-SECRET-KEY-1…`` string, for a backup or for stock ``age -d -i``."""
        return self._load(token, prompts)[0].to_string()

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
