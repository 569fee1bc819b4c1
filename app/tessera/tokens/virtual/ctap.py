"""A virtual CTAP 2.1 authenticator that the real python-fido2 client code can drive.

:class:`VirtualAuthenticator` implements :class:`fido2.ctap.CtapDevice` at the CTAPHID
message level: the client sends ``CTAPHID_CBOR`` requests exactly as it would to a USB
key, and gets back a CTAP status byte followed by canonical CBOR. It implements
``authenticatorGetInfo``, ``authenticatorClientPIN`` (PIN/UV auth protocols 1 and 2),
``authenticatorMakeCredential`` (ES256, packed attestation with x5c under the demo CA, hmac-secret),
``authenticatorGetAssertion`` (allow list, hmac-secret with one or two salts),
``authenticatorSelection`` and ``authenticatorReset``.

Credentials are non-resident: the credential id is the credential's private key and its
two CredRandom values sealed with AES-256-GCM under the device master key, with the RP
id hash as associated data, so a credential id only opens on the device and for the RP
that made it. Tests and demo mode use this device in place of a USB key; touch comes
from a :class:`~tessera.tokens.virtual.touch.TouchControl`.

The persisted state file holds the master key in the clear (mode 0600): this is a
simulator for tests and demos, not a place to keep real secrets.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import hmac
import json
import os
import struct
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fido2 import cbor
from fido2.cose import ES256
from fido2.ctap import STATUS, CtapDevice, CtapError
from fido2.hid import CAPABILITY, CTAPHID

from tessera.core.private_file import write_private
from tessera.tokens.virtual import demo_attestation
from tessera.tokens.virtual.touch import TouchControl

ERR = CtapError.ERR

#: AAGUID of the virtual authenticator model (an AAGUID names a model, not a device).
VIRTUAL_AAGUID = uuid.UUID("7e55e7a0-0f1d-4c2b-9a11-7e55e7a00001").bytes
VIRTUAL_PRODUCT_NAME = "Tessera virtual FIDO2 key"

MAX_PIN_RETRIES = 8
MAX_CONSECUTIVE_MISMATCHES = 3  # then the PIN is blocked until the device is power cycled
MIN_PIN_LENGTH = 4
MAX_MSG_SIZE = 1200
MAX_CREDS_IN_LIST = 8
MAX_CRED_ID_LENGTH = 128
STATE_VERSION = 1

_CMD_MAKE_CREDENTIAL = 0x01
_CMD_GET_ASSERTION = 0x02
_CMD_GET_INFO = 0x04
_CMD_CLIENT_PIN = 0x06
_CMD_RESET = 0x07
_CMD_GET_NEXT_ASSERTION = 0x08
_CMD_SELECTION = 0x0B

_PIN_GET_RETRIES = 0x01
_PIN_GET_KEY_AGREEMENT = 0x02
_PIN_SET = 0x03
_PIN_CHANGE = 0x04
_PIN_GET_TOKEN_LEGACY = 0x05
_PIN_GET_TOKEN_WITH_PERMISSIONS = 0x09

_PERM_MC = 0x01
_PERM_GA = 0x02
_PERM_LBW = 0x10
_SUPPORTED_PERMISSIONS = _PERM_MC | _PERM_GA

_FLAG_UP = 0x01
_FLAG_UV = 0x04
_FLAG_AT = 0x40
_FLAG_ED = 0x80

_CRED_ID_VERSION = 1
_HMAC_SECRET = "hmac-secret"  # noqa: S105 - an extension name, not a password


class _Ctap(Exception):
    """Internal: end the current command with a CTAP status code."""

    def __init__(self, code: ERR) -> None:
        super().__init__(code.name)
        self.code = code


@dataclass(frozen=True)
class _Credential:
    """The contents of a (decrypted) credential id."""

    private_key: ec.EllipticCurvePrivateKey
    cred_random_uv: bytes
    cred_random_no_uv: bytes
    hmac_secret: bool


class _EitherEvent(threading.Event):
    """An event that also counts as set when the caller cancels or the key is pulled out.

    :meth:`TouchControl.wait` only asks ``is_set()``, so this lets one wait end on
    any of the three without a helper thread.
    """

    def __init__(self, cancel: threading.Event | None, removed: threading.Event) -> None:
        super().__init__()
        self._cancel = cancel
        self._removed = removed

    def is_set(self) -> bool:
        return self._removed.is_set() or (self._cancel is not None and self._cancel.is_set())


# --- PIN/UV auth protocol primitives (CTAP 2.1 §6.5.6 and §6.5.7) ----------------------


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _hkdf32(ikm: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"\0" * 32, info=info).derive(ikm)


def _kdf(protocol: int, z: bytes) -> bytes:
    """Shared secret from the ECDH x coordinate: SHA-256 (v1) or HMAC key ‖ AES key (v2)."""
    if protocol == 1:
        return _sha256(z)
    return _hkdf32(z, b"CTAP2 HMAC key") + _hkdf32(z, b"CTAP2 AES key")


def _authenticate(protocol: int, key: bytes, message: bytes) -> bytes:
    """MAC with a shared secret or a pinUvAuthToken: left 16 bytes (v1) or full (v2)."""
    if protocol == 1:
        return hmac.new(key, message, hashlib.sha256).digest()[:16]
    return hmac.new(key[:32], message, hashlib.sha256).digest()


def _verify(protocol: int, key: bytes, message: bytes, mac: bytes) -> bool:
    return hmac.compare_digest(_authenticate(protocol, key, message), mac)


def _encrypt(protocol: int, key: bytes, plaintext: bytes, rng: Callable[[int], bytes]) -> bytes:
    if protocol == 1:
        enc = Cipher(algorithms.AES(key), modes.CBC(b"\0" * 16)).encryptor()
        return enc.update(plaintext) + enc.finalize()
    iv = rng(16)
    enc = Cipher(algorithms.AES(key[32:]), modes.CBC(iv)).encryptor()
    return iv + enc.update(plaintext) + enc.finalize()


def _decrypt(protocol: int, key: bytes, ciphertext: bytes) -> bytes:
    if protocol == 1:
        iv, body, aes_key = b"\0" * 16, ciphertext, key
    else:
        iv, body, aes_key = ciphertext[:16], ciphertext[16:], key[32:]
    if not body or len(body) % 16:
        raise _Ctap(ERR.INVALID_PARAMETER)
    dec = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).decryptor()
    return dec.update(body) + dec.finalize()


def _cose_p256_public(key: ec.EllipticCurvePublicKey, alg: int) -> dict[int, Any]:
    numbers = key.public_numbers()
    return {
        1: 2,
        3: alg,
        -1: 1,
        -2: numbers.x.to_bytes(32, "big"),
        -3: numbers.y.to_bytes(32, "big"),
    }


def _peer_key(cose: Any) -> ec.EllipticCurvePublicKey:
    """The platform's key agreement key; anything but a valid P-256 point is refused."""
    if not isinstance(cose, Mapping):
        raise _Ctap(ERR.CBOR_UNEXPECTED_TYPE)
    x, y = cose.get(-2), cose.get(-3)
    if (
        cose.get(1) != 2
        or cose.get(-1) != 1
        or not isinstance(x, bytes)
        or not isinstance(y, bytes)
    ):
        raise _Ctap(ERR.INVALID_PARAMETER)
    if len(x) != 32 or len(y) != 32:
        raise _Ctap(ERR.INVALID_PARAMETER)
    try:
        return ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
        ).public_key()
    except ValueError:
        raise _Ctap(ERR.INVALID_PARAMETER) from None


def _opt(params: Mapping[int, Any], key: int, kind: type | tuple[type, ...]) -> Any:
    """An optional request parameter of the given CBOR type (wrong type = error)."""
    value = params.get(key)
    if value is not None and (
        not isinstance(value, kind) or (isinstance(value, bool) and kind is int)
    ):
        raise _Ctap(ERR.CBOR_UNEXPECTED_TYPE)
    return value


def _req(params: Mapping[int, Any], key: int, kind: type | tuple[type, ...]) -> Any:
    value = _opt(params, key, kind)
    if value is None:
        raise _Ctap(ERR.MISSING_PARAMETER)
    return value


def _options(params: Mapping[int, Any], key: int) -> Mapping[str, Any]:
    value = _opt(params, key, Mapping)
    if value is None:
        return {}
    for name, flag in value.items():
        if not isinstance(name, str) or not isinstance(flag, bool):
            raise _Ctap(ERR.CBOR_UNEXPECTED_TYPE)
    return value  # type: ignore[no-any-return]


class VirtualAuthenticator(CtapDevice):
    """A software FIDO2 key: CTAP 2.1 over a simulated HID channel.

    ``pin`` sets an initial PIN (``None`` = a fresh key without PIN);
    ``hmac_secret=False`` builds a key that lacks the extension (to test refusal);
    ``state_path`` makes every change persist to a JSON file (mode 0600) so the key
    keeps its credentials between runs (see :meth:`load`).
    """

    def __init__(
        self,
        touch: TouchControl | None = None,
        *,
        pin: str | None = None,
        hmac_secret: bool = True,
        aaguid: bytes = VIRTUAL_AAGUID,
        product_name: str = VIRTUAL_PRODUCT_NAME,
        touch_timeout: float = 30.0,
        state_path: Path | None = None,
        rng: Callable[[int], bytes] = os.urandom,
        always_uv: bool = False,
    ) -> None:
        if len(aaguid) != 16:
            raise ValueError("an AAGUID is 16 bytes")
        self.touch = touch if touch is not None else TouchControl("immediate")
        self.touch_timeout = touch_timeout
        self.product_name = product_name
        # CTAP 2.1 alwaysUv: every getAssertion needs PIN/UV, so a silent probe is refused.
        self.always_uv = always_uv
        self.serial_number: str | None = None
        self._rng = rng
        self._lock = threading.RLock()
        self._removed = threading.Event()
        self._state_path = state_path
        # persistent state
        self.aaguid = bytes(aaguid)
        self.hmac_secret = hmac_secret
        self._master_key = rng(32)
        self._pin_hash: bytes | None = None
        self._pin_retries = MAX_PIN_RETRIES
        self._sign_count = 0
        # volatile state, reset on power-up
        self._power_up()
        if pin is not None:
            self._store_pin(pin)
        self._save()

    # --- CtapDevice -------------------------------------------------------------------

    @property
    def capabilities(self) -> int:
        return int(CAPABILITY.CBOR | CAPABILITY.WINK | CAPABILITY.NMSG)

    def call(
        self,
        cmd: int,
        data: bytes = b"",
        event: threading.Event | None = None,
        on_keepalive: Callable[[STATUS], None] | None = None,
    ) -> bytes:
        """One CTAPHID transaction. Raises ``OSError`` like a USB key that was unplugged."""
        if self._removed.is_set():
            raise OSError(errno.ENODEV, "No such device")
        with self._lock:
            if cmd == CTAPHID.PING:
                return bytes(data)
            if cmd == CTAPHID.WINK:
                return b""
            if cmd != CTAPHID.CBOR:
                raise CtapError(ERR.INVALID_COMMAND)
            try:
                body = self._dispatch(bytes(data), event, on_keepalive)
            except _Ctap as e:
                return bytes([e.code])
            if self._removed.is_set():
                raise OSError(errno.EIO, "Input/output error")
            return b"\0" + body

    @classmethod
    def list_devices(cls) -> Iterator[VirtualAuthenticator]:
        """Virtual keys are never discovered; tests and demo mode hand them over."""
        return iter(())

    # --- the person and the USB port --------------------------------------------------

    def pull_out(self) -> None:
        """Unplug the key: the pending and every later call fails with ``OSError``."""
        self._removed.set()

    def plug_in(self) -> None:
        """Plug the key back in: a power cycle (new key agreement key, PIN tokens gone)."""
        with self._lock:
            self._removed.clear()
            self._power_up()

    @property
    def removed(self) -> bool:
        return self._removed.is_set()

    @property
    def pin_is_set(self) -> bool:
        return self._pin_hash is not None

    @property
    def pin_retries(self) -> int:
        return self._pin_retries

    # --- persistence ------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """The persistent state as JSON-able values (no PIN, only its CTAP hash)."""
        return {
            "version": STATE_VERSION,
            "aaguid": self.aaguid.hex(),
            "product_name": self.product_name,
            "hmac_secret": self.hmac_secret,
            "master_key": base64.b64encode(self._master_key).decode(),
            "pin_hash": None
            if self._pin_hash is None
            else base64.b64encode(self._pin_hash).decode(),
            "pin_retries": self._pin_retries,
            "sign_count": self._sign_count,
        }

    def save(self, path: Path) -> None:
        """Write the state to ``path`` (mode 0600), replacing it atomically."""
        write_private(path, json.dumps(self.to_state(), sort_keys=True, indent=2).encode())

    @classmethod
    def load(
        cls,
        path: Path,
        touch: TouchControl | None = None,
        *,
        touch_timeout: float = 30.0,
        persist: bool = True,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> VirtualAuthenticator:
        """A key restored from ``path``; with ``persist`` later changes are saved there."""
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
                raise ValueError("unknown state version")
            aaguid = bytes.fromhex(state["aaguid"])
            master_key = base64.b64decode(state["master_key"], validate=True)
            pin_hash = state["pin_hash"]
            retries = state["pin_retries"]
            sign_count = state["sign_count"]
            hmac_secret = state["hmac_secret"]
            product_name = state["product_name"]
            if (
                len(aaguid) != 16
                or len(master_key) != 32
                or not isinstance(retries, int)
                or not 0 <= retries <= MAX_PIN_RETRIES
                or not isinstance(sign_count, int)
                or sign_count < 0
                or not isinstance(hmac_secret, bool)
                or not isinstance(product_name, str)
            ):
                raise ValueError("bad field")
            pin_hash_bytes = None if pin_hash is None else base64.b64decode(pin_hash, validate=True)
            if pin_hash_bytes is not None and len(pin_hash_bytes) != 16:
                raise ValueError("bad PIN hash")
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path}: not a virtual FIDO2 key state file ({e})") from None
        device = cls(
            touch,
            hmac_secret=hmac_secret,
            aaguid=aaguid,
            product_name=product_name,
            touch_timeout=touch_timeout,
            rng=rng,
        )
        device._master_key = master_key
        device._pin_hash = pin_hash_bytes
        device._pin_retries = retries
        device._sign_count = sign_count
        device._state_path = path if persist else None
        return device

    def _save(self) -> None:
        if self._state_path is not None:
            self.save(self._state_path)

    # --- internal state ---------------------------------------------------------------

    def _power_up(self) -> None:
        self._key_agreement = ec.generate_private_key(ec.SECP256R1())
        self._token = self._rng(32)
        self._token_permissions = 0
        self._token_rp_id: str | None = None
        self._token_valid = False
        self._mismatches = 0

    def _store_pin(self, pin: str) -> None:
        if len(pin) < MIN_PIN_LENGTH or len(pin.encode()) > 63:
            raise ValueError("a PIN is 4 to 63 bytes")
        self._pin_hash = _sha256(pin.encode())[:16]
        self._pin_retries = MAX_PIN_RETRIES

    def _reset_token(self) -> None:
        self._token = self._rng(32)
        self._token_permissions = 0
        self._token_rp_id = None
        self._token_valid = False

    def _wait_for_touch(
        self, event: threading.Event | None, on_keepalive: Callable[[STATUS], None] | None
    ) -> None:
        """User presence: keepalive UPNEEDED, then touch, cancel, timeout or removal."""
        if on_keepalive is not None and self.touch.mode != "immediate":
            on_keepalive(STATUS.UPNEEDED)
        stop = _EitherEvent(event, self._removed)
        if self.touch.wait(self.touch_timeout, cancel=stop):
            return
        if self._removed.is_set():
            raise OSError(errno.EIO, "Input/output error")
        if event is not None and event.is_set():
            raise _Ctap(ERR.KEEPALIVE_CANCEL)
        raise _Ctap(ERR.USER_ACTION_TIMEOUT)

    def _dispatch(
        self,
        data: bytes,
        event: threading.Event | None,
        on_keepalive: Callable[[STATUS], None] | None,
    ) -> bytes:
        if not data:
            raise _Ctap(ERR.INVALID_LENGTH)
        if len(data) > MAX_MSG_SIZE:
            raise _Ctap(ERR.REQUEST_TOO_LARGE)
        command, payload = data[0], data[1:]
        params: Mapping[int, Any] = {}
        if payload:
            try:
                decoded = cbor.decode(payload)
            except Exception:  # any parse failure of outside input is INVALID_CBOR
                raise _Ctap(ERR.INVALID_CBOR) from None
            if cbor.encode(decoded) != payload:
                raise _Ctap(ERR.INVALID_CBOR)  # CTAP2 requests are canonical CBOR
            if not isinstance(decoded, Mapping) or not all(isinstance(k, int) for k in decoded):
                raise _Ctap(ERR.CBOR_UNEXPECTED_TYPE)
            params = decoded
        if command == _CMD_GET_INFO:
            result: Mapping[int, Any] | None = self._get_info()
        elif command == _CMD_CLIENT_PIN:
            result = self._client_pin(params)
        elif command == _CMD_MAKE_CREDENTIAL:
            result = self._make_credential(params, event, on_keepalive)
        elif command == _CMD_GET_ASSERTION:
            result = self._get_assertion(params, event, on_keepalive)
        elif command == _CMD_SELECTION:
            self._wait_for_touch(event, on_keepalive)
            result = None
        elif command == _CMD_RESET:
            self._reset(event, on_keepalive)
            result = None
        elif command == _CMD_GET_NEXT_ASSERTION:
            raise _Ctap(ERR.NOT_ALLOWED)
        else:
            raise _Ctap(ERR.INVALID_COMMAND)
        return b"" if result is None else cbor.encode(dict(result))

    # --- authenticatorGetInfo ---------------------------------------------------------

    def _get_info(self) -> Mapping[int, Any]:
        return {
            0x01: ["FIDO_2_0", "FIDO_2_1"],
            0x02: [_HMAC_SECRET] if self.hmac_secret else [],
            0x03: self.aaguid,
            0x04: {
                "rk": False,
                "up": True,
                "plat": False,
                "clientPin": self._pin_hash is not None,
                "pinUvAuthToken": True,
                **({"alwaysUv": True} if self.always_uv else {}),
            },
            0x05: MAX_MSG_SIZE,
            0x06: [2, 1],
            0x07: MAX_CREDS_IN_LIST,
            0x08: MAX_CRED_ID_LENGTH,
            0x09: ["usb"],
            0x0A: [{"alg": -7, "type": "public-key"}],
            0x0D: MIN_PIN_LENGTH,
            0x0E: 1,
        }

    # --- authenticatorClientPIN -------------------------------------------------------

    def _client_pin(self, params: Mapping[int, Any]) -> Mapping[int, Any] | None:
        sub = _req(params, 0x02, int)
        if sub == _PIN_GET_RETRIES:
            return {0x03: self._pin_retries, 0x04: self._mismatches >= MAX_CONSECUTIVE_MISMATCHES}
        protocol = _req(params, 0x01, int)
        if protocol not in (1, 2):
            raise _Ctap(ERR.INVALID_PARAMETER)
        if sub == _PIN_GET_KEY_AGREEMENT:
            return {0x01: _cose_p256_public(self._key_agreement.public_key(), -25)}
        if sub == _PIN_SET:
            self._set_pin(protocol, params)
            return None
        if sub == _PIN_CHANGE:
            self._change_pin(protocol, params)
            return None
        if sub in (_PIN_GET_TOKEN_LEGACY, _PIN_GET_TOKEN_WITH_PERMISSIONS):
            return self._get_pin_token(protocol, sub, params)
        raise _Ctap(ERR.INVALID_SUBCOMMAND)

    def _shared_secret(self, protocol: int, platform_key: Any) -> bytes:
        peer = _peer_key(platform_key)
        return _kdf(protocol, self._key_agreement.exchange(ec.ECDH(), peer))

    def _decrypt_new_pin(self, protocol: int, shared: bytes, new_pin_enc: bytes) -> str:
        padded = _decrypt(protocol, shared, new_pin_enc)
        if len(padded) < 64:
            raise _Ctap(ERR.PIN_POLICY_VIOLATION)
        raw = padded.rstrip(b"\0")
        try:
            pin = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _Ctap(ERR.PIN_POLICY_VIOLATION) from None
        if len(pin) < MIN_PIN_LENGTH or len(raw) > 63:
            raise _Ctap(ERR.PIN_POLICY_VIOLATION)
        return pin

    def _set_pin(self, protocol: int, params: Mapping[int, Any]) -> None:
        platform_key = _req(params, 0x03, Mapping)
        pin_uv_param = _req(params, 0x04, bytes)
        new_pin_enc = _req(params, 0x05, bytes)
        if self._pin_hash is not None:
            raise _Ctap(ERR.NOT_ALLOWED)
        shared = self._shared_secret(protocol, platform_key)
        if not _verify(protocol, shared, new_pin_enc, pin_uv_param):
            raise _Ctap(ERR.PIN_AUTH_INVALID)
        self._store_pin(self._decrypt_new_pin(protocol, shared, new_pin_enc))
        self._save()

    def _check_pin_hash(self, protocol: int, shared: bytes, pin_hash_enc: bytes) -> None:
        """Compare the encrypted PIN hash; count the try before comparing (spec order)."""
        if self._pin_retries == 0:
            raise _Ctap(ERR.PIN_BLOCKED)
        if self._mismatches >= MAX_CONSECUTIVE_MISMATCHES:
            raise _Ctap(ERR.PIN_AUTH_BLOCKED)
        self._pin_retries -= 1
        self._save()
        given = _decrypt(protocol, shared, pin_hash_enc)
        if self._pin_hash is None or not hmac.compare_digest(given[:16], self._pin_hash):
            self._key_agreement = ec.generate_private_key(ec.SECP256R1())
            self._mismatches += 1
            if self._pin_retries == 0:
                raise _Ctap(ERR.PIN_BLOCKED)
            if self._mismatches >= MAX_CONSECUTIVE_MISMATCHES:
                raise _Ctap(ERR.PIN_AUTH_BLOCKED)
            raise _Ctap(ERR.PIN_INVALID)
        self._pin_retries = MAX_PIN_RETRIES
        self._mismatches = 0
        self._save()

    def _change_pin(self, protocol: int, params: Mapping[int, Any]) -> None:
        platform_key = _req(params, 0x03, Mapping)
        pin_uv_param = _req(params, 0x04, bytes)
        new_pin_enc = _req(params, 0x05, bytes)
        pin_hash_enc = _req(params, 0x06, bytes)
        if self._pin_hash is None:
            raise _Ctap(ERR.PIN_NOT_SET)
        if self._pin_retries == 0:
            raise _Ctap(ERR.PIN_BLOCKED)
        shared = self._shared_secret(protocol, platform_key)
        if not _verify(protocol, shared, new_pin_enc + pin_hash_enc, pin_uv_param):
            raise _Ctap(ERR.PIN_AUTH_INVALID)
        self._check_pin_hash(protocol, shared, pin_hash_enc)
        self._store_pin(self._decrypt_new_pin(protocol, shared, new_pin_enc))
        self._reset_token()
        self._save()

    def _get_pin_token(
        self, protocol: int, sub: int, params: Mapping[int, Any]
    ) -> Mapping[int, Any]:
        platform_key = _req(params, 0x03, Mapping)
        pin_hash_enc = _req(params, 0x06, bytes)
        permissions = _opt(params, 0x09, int)
        rp_id = _opt(params, 0x0A, str)
        if sub == _PIN_GET_TOKEN_LEGACY:
            if permissions is not None or rp_id is not None:
                raise _Ctap(ERR.INVALID_PARAMETER)
            permissions = _PERM_MC | _PERM_GA
        else:
            if permissions is None:
                raise _Ctap(ERR.MISSING_PARAMETER)
            if permissions == 0:
                raise _Ctap(ERR.INVALID_PARAMETER)
            if permissions & ~_SUPPORTED_PERMISSIONS:
                raise _Ctap(ERR.UNAUTHORIZED_PERMISSION)
        if self._pin_hash is None:
            raise _Ctap(ERR.PIN_NOT_SET)
        shared = self._shared_secret(protocol, platform_key)
        self._check_pin_hash(protocol, shared, pin_hash_enc)
        self._reset_token()
        self._token_permissions = permissions
        self._token_rp_id = rp_id
        self._token_valid = True
        return {0x02: _encrypt(protocol, shared, self._token, self._rng)}

    def _check_pin_uv_auth(
        self,
        params: Mapping[int, Any],
        param_key: int,
        message: bytes,
        permission: int,
        rp_id: str,
    ) -> bool:
        """Verify pinUvAuthParam over ``message``; True when the user was verified."""
        pin_uv_param = _opt(params, param_key, bytes)
        if pin_uv_param is None:
            return False
        protocol = _opt(params, param_key + 1, int)
        if protocol is None:
            raise _Ctap(ERR.MISSING_PARAMETER)
        if protocol not in (1, 2):
            raise _Ctap(ERR.INVALID_PARAMETER)
        if not self._token_valid or not _verify(protocol, self._token, message, pin_uv_param):
            raise _Ctap(ERR.PIN_AUTH_INVALID)
        if not self._token_permissions & permission:
            raise _Ctap(ERR.PIN_AUTH_INVALID)
        if self._token_rp_id is None:
            self._token_rp_id = rp_id
        elif self._token_rp_id != rp_id:
            raise _Ctap(ERR.PIN_AUTH_INVALID)
        return True

    def _selection_with_empty_auth(
        self,
        params: Mapping[int, Any],
        param_key: int,
        event: threading.Event | None,
        on_keepalive: Callable[[STATUS], None] | None,
    ) -> None:
        """CTAP 2.0 platforms select a key by sending a zero-length pinUvAuthParam."""
        if params.get(param_key) == b"":
            self._wait_for_touch(event, on_keepalive)
            raise _Ctap(ERR.PIN_INVALID if self._pin_hash is not None else ERR.PIN_NOT_SET)

    # --- credentials ------------------------------------------------------------------

    def _seal_credential(self, rp_id_hash: bytes, cred: _Credential) -> bytes:
        scalar = cred.private_key.private_numbers().private_value.to_bytes(32, "big")
        plain = scalar + cred.cred_random_uv + cred.cred_random_no_uv + bytes([cred.hmac_secret])
        nonce = self._rng(12)
        sealed = AESGCM(self._master_key).encrypt(nonce, plain, rp_id_hash)
        return bytes([_CRED_ID_VERSION]) + nonce + sealed

    def _open_credential(self, rp_id_hash: bytes, cred_id: bytes) -> _Credential | None:
        if len(cred_id) != 1 + 12 + 97 + 16 or cred_id[0] != _CRED_ID_VERSION:
            return None
        try:
            plain = AESGCM(self._master_key).decrypt(cred_id[1:13], cred_id[13:], rp_id_hash)
        except InvalidTag:
            return None
        return _Credential(
            private_key=ec.derive_private_key(int.from_bytes(plain[:32], "big"), ec.SECP256R1()),
            cred_random_uv=plain[32:64],
            cred_random_no_uv=plain[64:96],
            hmac_secret=plain[96] == 1,
        )

    def _next_counter(self) -> int:
        self._sign_count += 1
        self._save()
        return self._sign_count

    def _find_credential(
        self, rp_id_hash: bytes, descriptors: Any
    ) -> tuple[bytes, _Credential] | None:
        if descriptors is None:
            return None
        if not isinstance(descriptors, list):
            raise _Ctap(ERR.CBOR_UNEXPECTED_TYPE)
        for descriptor in descriptors:
            if not isinstance(descriptor, Mapping):
                raise _Ctap(ERR.CBOR_UNEXPECTED_TYPE)
            cred_id, kind = descriptor.get("id"), descriptor.get("type")
            if not isinstance(cred_id, bytes) or not isinstance(kind, str):
                raise _Ctap(ERR.CBOR_UNEXPECTED_TYPE)
            if kind != "public-key":
                continue
            cred = self._open_credential(rp_id_hash, cred_id)
            if cred is not None:
                return cred_id, cred
        return None

    # --- authenticatorMakeCredential --------------------------------------------------

    def _make_credential(
        self,
        params: Mapping[int, Any],
        event: threading.Event | None,
        on_keepalive: Callable[[STATUS], None] | None,
    ) -> Mapping[int, Any]:
        self._selection_with_empty_auth(params, 0x08, event, on_keepalive)
        client_data_hash = _req(params, 0x01, bytes)
        rp = _req(params, 0x02, Mapping)
        user = _req(params, 0x03, Mapping)
        key_params = _req(params, 0x04, list)
        extensions = _opt(params, 0x06, Mapping) or {}
        options = _options(params, 0x07)
        rp_id = rp.get("id")
        if not isinstance(rp_id, str) or not isinstance(user.get("id"), bytes):
            raise _Ctap(ERR.CBOR_UNEXPECTED_TYPE)
        if not any(
            isinstance(p, Mapping) and p.get("alg") == -7 and p.get("type") == "public-key"
            for p in key_params
        ):
            raise _Ctap(ERR.UNSUPPORTED_ALGORITHM)
        if options.get("rk"):
            raise _Ctap(ERR.UNSUPPORTED_OPTION)
        if options.get("up") is False or options.get("uv"):
            raise _Ctap(ERR.INVALID_OPTION)
        rp_id_hash = _sha256(rp_id.encode())
        verified = self._check_pin_uv_auth(params, 0x08, client_data_hash, _PERM_MC, rp_id)
        if not verified and self._pin_hash is not None:
            raise _Ctap(ERR.PUAT_REQUIRED)
        if self._find_credential(rp_id_hash, params.get(0x05)) is not None:
            self._wait_for_touch(event, on_keepalive)
            raise _Ctap(ERR.CREDENTIAL_EXCLUDED)
        want_hmac = extensions.get(_HMAC_SECRET) is True and self.hmac_secret
        self._wait_for_touch(event, on_keepalive)

        cred = _Credential(
            private_key=ec.generate_private_key(ec.SECP256R1()),
            cred_random_uv=self._rng(32),
            cred_random_no_uv=self._rng(32),
            hmac_secret=want_hmac,
        )
        cred_id = self._seal_credential(rp_id_hash, cred)
        public = cbor.encode(_cose_p256_public(cred.private_key.public_key(), ES256.ALGORITHM))
        flags = _FLAG_UP | _FLAG_AT | (_FLAG_UV if verified else 0)
        ext_out = b""
        if want_hmac:
            flags |= _FLAG_ED
            ext_out = cbor.encode({_HMAC_SECRET: True})
        auth_data = (
            rp_id_hash
            + struct.pack(">BI", flags, self._next_counter())
            + self.aaguid
            + struct.pack(">H", len(cred_id))
            + cred_id
            + public
            + ext_out
        )
        # Packed attestation with x5c: signed by the batch attestation key under the
        # DEMO CA (tokens/virtual/demo_attestation.py), trusted by demo vaults only.
        attest_key, attest_cert = demo_attestation.fido_attestation(self.aaguid)
        signature = attest_key.sign(auth_data + client_data_hash, ec.ECDSA(hashes.SHA256()))
        if verified:
            self._token_permissions &= _PERM_LBW
        return {0x01: "packed", 0x02: auth_data,
                0x03: {"alg": ES256.ALGORITHM, "sig": signature, "x5c": [attest_cert]}}

    # --- authenticatorGetAssertion ----------------------------------------------------

    def _get_assertion(
        self,
        params: Mapping[int, Any],
        event: threading.Event | None,
        on_keepalive: Callable[[STATUS], None] | None,
    ) -> Mapping[int, Any]:
        self._selection_with_empty_auth(params, 0x06, event, on_keepalive)
        rp_id = _req(params, 0x01, str)
        client_data_hash = _req(params, 0x02, bytes)
        extensions = _opt(params, 0x04, Mapping) or {}
        options = _options(params, 0x05)
        if "rk" in options:
            raise _Ctap(ERR.UNSUPPORTED_OPTION)
        if options.get("uv"):
            raise _Ctap(ERR.INVALID_OPTION)
        user_presence = options.get("up", True)
        rp_id_hash = _sha256(rp_id.encode())
        verified = self._check_pin_uv_auth(params, 0x06, client_data_hash, _PERM_GA, rp_id)
        if self.always_uv and not verified:
            raise _Ctap(ERR.PUAT_REQUIRED)
        found = self._find_credential(rp_id_hash, params.get(0x03))
        if found is None:
            # Collect presence first so that a probe cannot tell "not here" from "not now".
            if user_presence:
                self._wait_for_touch(event, on_keepalive)
            raise _Ctap(ERR.NO_CREDENTIALS)
        cred_id, cred = found
        hmac_input = extensions.get(_HMAC_SECRET)
        hmac_output = None
        if hmac_input is not None and cred.hmac_secret and self.hmac_secret:
            hmac_output = self._hmac_secret(hmac_input, cred, verified)
        if user_presence:
            self._wait_for_touch(event, on_keepalive)
        flags = (_FLAG_UP if user_presence else 0) | (_FLAG_UV if verified else 0)
        ext_out = b""
        if hmac_output is not None:
            flags |= _FLAG_ED
            ext_out = cbor.encode({_HMAC_SECRET: hmac_output})
        auth_data = rp_id_hash + struct.pack(">BI", flags, self._next_counter()) + ext_out
        signature = cred.private_key.sign(auth_data + client_data_hash, ec.ECDSA(hashes.SHA256()))
        if verified and user_presence:
            self._token_permissions &= _PERM_LBW
        return {0x01: {"id": cred_id, "type": "public-key"}, 0x02: auth_data, 0x03: signature}

    def _hmac_secret(self, ext: Any, cred: _Credential, verified: bool) -> bytes:
        """hmac-secret (CTAP 2.1 §12.5): HMAC of each salt under the UV or no-UV CredRandom."""
        if not isinstance(ext, Mapping):
            raise _Ctap(ERR.CBOR_UNEXPECTED_TYPE)
        platform_key = _req(ext, 0x01, Mapping)
        salt_enc = _req(ext, 0x02, bytes)
        salt_auth = _req(ext, 0x03, bytes)
        protocol = _opt(ext, 0x04, int) or 1
        if protocol not in (1, 2):
            raise _Ctap(ERR.INVALID_PARAMETER)
        shared = self._shared_secret(protocol, platform_key)
        if not _verify(protocol, shared, salt_enc, salt_auth):
            raise _Ctap(ERR.PIN_AUTH_INVALID)
        salts = _decrypt(protocol, shared, salt_enc)
        if len(salts) not in (32, 64):
            raise _Ctap(ERR.INVALID_LENGTH)
        key = cred.cred_random_uv if verified else cred.cred_random_no_uv
        output = b"".join(
            hmac.new(key, salts[i : i + 32], hashlib.sha256).digest()
            for i in range(0, len(salts), 32)
        )
        return _encrypt(protocol, shared, output, self._rng)

    # --- authenticatorReset -----------------------------------------------------------

    def _reset(
        self, event: threading.Event | None, on_keepalive: Callable[[STATUS], None] | None
    ) -> None:
        """Forget every credential and the PIN (after a touch): a new master key."""
        self._wait_for_touch(event, on_keepalive)
        self._master_key = self._rng(32)
        self._pin_hash = None
        self._pin_retries = MAX_PIN_RETRIES
        self._power_up()
        self._save()
