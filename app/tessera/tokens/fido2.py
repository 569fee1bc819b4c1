"""The FIDO2 token driver: enrol a key, open a share with it, verify its approvals.

Everything goes through python-fido2's real :class:`~fido2.client.Fido2Client` (or the
Windows WebAuthn client when the process may not open HID devices), with a credential
that has the WebAuthn PRF extension and always requires user verification (PIN).

* Enrolment: make credential (touch), then one assertion that evaluates the PRF on a
  random 32-byte salt (touch); the identities derived from the PRF output (post-quantum
  hybrid and X25519, see fido2_keys) give the token's two age recipients, so shares
  can later be wrapped without the key.
* Unlock: one assertion whose WebAuthn challenge is the operation's challenge; its PRF
  output opens the age envelope and its signature is the approval evidence.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

from fido2.client import ClientError, Fido2Client, WebAuthnClient
from fido2.ctap import CtapDevice, CtapError
from fido2.ctap2.base import Ctap2
from fido2.ctap2.pin import ClientPin
from fido2.webauthn import (
    AttestationConveyancePreference,
    AuthenticationResponse,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialCreationOptions,
    PublicKeyCredentialDescriptor,
    PublicKeyCredentialParameters,
    PublicKeyCredentialRequestOptions,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialType,
    PublicKeyCredentialUserEntity,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from tessera.core.age import AgeNoMatch, decrypt
from tessera.core.attestation import ATTESTATION_FACT, packed_evidence
from tessera.core.errors import (
    NoKeyFound,
    PinBlocked,
    PinRequired,
    TokenError,
    UserCancelled,
    WrongToken,
)
from tessera.core.token_types import PQ_RECIPIENT_FACT
from tessera.tokens.base import Enrolled, Evidence, Prompts, TokenInfo, TokenKind, Unlocked
from tessera.tokens.fido2_client import (
    PlatformClientFactory,
    PromptsInteraction,
    TesseraClientData,
    windows_platform_client,
)
from tessera.tokens.fido2_errors import (
    PAPER_SHEET_WAY_BACK,
    RESET_HINT,
    AmbiguousKeys,
    PrfUnsupported,
    U2fOnly,
    UserVerificationUnsupported,
    translate_error,
)
from tessera.tokens.fido2_evidence import make_evidence, verify_assertion, verify_evidence
from tessera.tokens.fido2_keys import (
    CHALLENGE_LEN,
    PRF_SALT_LEN,
    RP_ID,
    RP_NAME,
    Fido2Facts,
    cose_to_public_key,
    derive_hybrid_identity,
    derive_identities,
    derive_identity,
)
from tessera.tokens.fido2_models import model_name, product_name

DeviceProvider = Callable[[], Sequence[CtapDevice]]

MIN_PIN_LENGTH = 4
MAX_PIN_BYTES = 63
_GENERIC_LABEL = "FIDO2 key"


def hid_devices() -> Sequence[CtapDevice]:
    """The FIDO2 keys plugged in over USB HID.

    When none can be opened but one is plugged in (Linux without the udev rule), the
    person is told the fix instead of "no key found".
    """
    from fido2.hid import CtapHidDevice

    from tessera.tokens.hid_access import check_hid_access

    found = list(CtapHidDevice.list_devices())
    if not found:
        check_hid_access()
    return found


def pin_retries(device: CtapDevice) -> int | None:
    """The key's remaining PIN attempts, or ``None`` when it cannot say."""
    try:
        return int(ClientPin(Ctap2(device)).get_pin_retries()[0])
    except (CtapError, OSError, ValueError, KeyError):
        return None


def _label(device: CtapDevice | None) -> str:
    return (product_name(device) if device is not None else None) or _GENERIC_LABEL


@contextlib.contextmanager
def _device_errors(
    label: str, cancel: threading.Event, device: CtapDevice | None, custodian: str
) -> Iterator[None]:
    """Turn fido2 / OS failures inside the block into :mod:`tessera.core.errors`."""
    try:
        yield
    except (CtapError, ClientError, OSError) as e:
        raise translate_error(
            e,
            label=label,
            cancel=cancel,
            read_retries=(lambda: pin_retries(device)) if device is not None else (lambda: None),
            custodian=custodian,
        ) from e


def _opened(device: CtapDevice) -> CtapDevice:
    """A virtual key handed over directly (demo enrolment) is opened over USB HID framing,
    as discovery would open it, so every call is CTAPHID framed."""
    from tessera.tokens.virtual.ctap import VirtualAuthenticator

    if isinstance(device, VirtualAuthenticator):
        from tessera.tokens.virtual.hid import hid_device

        return hid_device(device)
    return device


def _looks_reset(device: CtapDevice, facts: Fido2Facts) -> bool:
    """A key of the enrolled model with no PIN: what a FIDO reset leaves behind."""
    try:
        info = Ctap2(device).info
    except (CtapError, OSError, ValueError):
        return False
    same_model = bool(facts.aaguid) and bytes(info.aaguid).hex() == facts.aaguid
    return same_model and info.options.get("clientPin") is False


def _prf_first(response: AuthenticationResponse) -> bytes | None:
    prf = response.client_extension_results.prf
    results = getattr(prf, "results", None)
    first = getattr(results, "first", None)
    return bytes(first) if isinstance(first, bytes) and len(first) == 32 else None


class Fido2Driver:
    """:class:`~tessera.tokens.base.TokenDriver` for FIDO2 security keys.

    ``devices`` lists the keys plugged in (USB HID by default; tests and demo mode pass
    virtual keys). ``platform_client`` is ``"auto"`` (use the Windows WebAuthn client
    when required), ``None`` (always talk to devices directly) or a factory.
    """

    kind = TokenKind.FIDO2

    def __init__(
        self,
        devices: DeviceProvider | None = None,
        *,
        platform_client: PlatformClientFactory | Literal["auto"] | None = "auto",
    ) -> None:
        self._devices: DeviceProvider = devices if devices is not None else hid_devices
        self._platform_client: PlatformClientFactory | None = (
            windows_platform_client() if platform_client == "auto" else platform_client
        )

    # --- choosing a key -----------------------------------------------------------------

    def select_device(self, prompts: Prompts, cancel: threading.Event) -> CtapDevice:
        """The one key plugged in, or the one the person touches when there are several."""
        devices = list(self._devices())
        if not devices:
            raise NoKeyFound()
        if len(devices) == 1:
            return devices[0]
        prompts.notice("Several security keys are plugged in. Touch the key you want to use.")
        return self._touch_to_select(devices, cancel)

    def _touch_to_select(
        self, devices: Sequence[CtapDevice], cancel: threading.Event
    ) -> CtapDevice:
        """authenticatorSelection on every key at once; the first touched wins."""
        chosen: list[CtapDevice] = []
        lock = threading.Lock()
        done = threading.Event()
        stop = threading.Event()

        def wait_for(device: CtapDevice) -> None:
            try:
                Fido2Client(device, TesseraClientData()).selection(stop)
            except (ClientError, CtapError, OSError, ValueError):
                return  # not touched, cancelled, unplugged or not a FIDO2 key
            with lock:
                if not chosen:
                    chosen.append(device)
                stop.set()  # the other keys stop waiting
            done.set()

        threads = [threading.Thread(target=wait_for, args=(d,), daemon=True) for d in devices]
        for t in threads:
            t.start()
        while not done.is_set() and any(t.is_alive() for t in threads):
            if cancel.wait(0.05):
                stop.set()
                break
        stop.set()
        for t in threads:
            t.join()
        if chosen:
            return chosen[0]
        if cancel.is_set():
            raise UserCancelled()
        raise NoKeyFound()

    def present(self, token: TokenInfo) -> bool | None:
        """Whether a plugged-in key holds ``token``'s credential, asked silently (no PIN,
        no touch); ``None`` when that cannot be told (the Windows client, a key that
        wants its PIN before it answers). Lets a front end say "insert Carol's key"."""
        if self._platform_client is not None:
            return None
        descriptor = {"type": "public-key", "id": Fido2Facts.from_json(token.facts).credential_id}
        unsure = False
        for device in list(self._devices()):
            try:
                Ctap2(device).get_assertion(RP_ID, b"\0" * 32, [descriptor], options={"up": False})
                return True
            except CtapError as e:
                unsure = unsure or e.code != CtapError.ERR.NO_CREDENTIALS
            except (OSError, ValueError):
                continue  # unplugged meanwhile, or not a CTAP2 key
        return None if unsure else False

    def _device_holding(
        self,
        facts: Fido2Facts,
        cancel: threading.Event,
        custodian: str,
    ) -> CtapDevice:
        """The plugged-in key that holds the custodian's credential.

        Each key gets a silent probe (getAssertion with up=false, no touch, no PIN), the
        standard way to find a non-resident credential. A key that cannot answer a probe
        (it demands UV first, CTAP 2.1 alwaysUv) is used only when it is the one key
        plugged in: a PIN is never sent to a key that has not been identified as the
        custodian's, since a wrong key would count the attempt against its own owner.
        """
        devices = list(self._devices())
        if not devices:
            raise NoKeyFound()
        holders: list[CtapDevice] = []
        unsure: list[CtapDevice] = []
        without_credential: list[CtapDevice] = []
        descriptor = {"type": "public-key", "id": facts.credential_id}
        for device in devices:
            try:
                Ctap2(device).get_assertion(
                    RP_ID, b"\0" * 32, [descriptor], options={"up": False}, event=cancel
                )
                holders.append(device)
            except CtapError as e:
                if e.code == CtapError.ERR.NO_CREDENTIALS:
                    without_credential.append(device)
                else:
                    unsure.append(device)
            except (OSError, ValueError):
                continue  # unplugged meanwhile, or not a CTAP2 key
        if holders:
            return holders[0]
        if len(unsure) == 1 and not without_credential:
            return unsure[0]
        if unsure:
            raise AmbiguousKeys(custodian, len(unsure) + len(without_credential))
        if any(_looks_reset(device, facts) for device in without_credential):
            raise WrongToken(
                custodian,
                "the plugged-in key of the enrolled model has no PIN and no Tessera "
                f"credential, so it was probably reset; {PAPER_SHEET_WAY_BACK}",
            )
        raise WrongToken(
            custodian,
            "none of the plugged-in keys holds this credential; if the key was reset, "
            + PAPER_SHEET_WAY_BACK,
        )

    # --- enrolment --------------------------------------------------------------------

    def enroll(
        self,
        device: CtapDevice | None,
        custodian_name: str,
        prompts: Prompts,
        cancel: threading.Event,
        *,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> Enrolled:
        """Create Tessera's credential on a key and derive its age recipient.

        ``device`` may be ``None`` to use :meth:`select_device` (and is ignored when the
        Windows WebAuthn client does the device handling).
        """
        if self._platform_client is not None:
            client = self._platform_client(TesseraClientData())
            with _device_errors(_GENERIC_LABEL, cancel, None, custodian_name):
                return self._enroll_with(client, None, None, custodian_name, prompts, cancel, rng)
        if device is None:
            device = self.select_device(prompts, cancel)
        device = _opened(device)
        label = _label(device)
        with _device_errors(label, cancel, device, custodian_name):
            try:
                info = Ctap2(device).info
            except ValueError:  # python-fido2: "Device does not support CTAP2."
                raise U2fOnly(product_name(device) or "This key") from None
            model = model_name(info.aaguid, device)
            if "hmac-secret" not in info.extensions:
                raise PrfUnsupported(model)
            pin = None
            if not info.options.get("clientPin") and not info.options.get("uv"):
                if "clientPin" not in info.options:
                    raise UserVerificationUnsupported(model)
                pin = self._set_up_pin(device, label, prompts)
            elif info.options.get("clientPin") and pin_retries(device) == 0:
                raise PinBlocked(RESET_HINT)
            interaction = PromptsInteraction(prompts, label, lambda: pin_retries(device), pin)
            try:
                client = Fido2Client(device, TesseraClientData(), interaction)
                return self._enroll_with(
                    client, device, interaction, custodian_name, prompts, cancel, rng
                )
            finally:
                interaction.finish()

    def _set_up_pin(self, device: CtapDevice, label: str, prompts: Prompts) -> str:
        """Offer to set a PIN on a key that has none; declining stops the enrolment."""
        reason = (
            "This key has no PIN yet. Tessera only uses keys protected by a PIN: choose one "
            f"({MIN_PIN_LENGTH} to {MAX_PIN_BYTES} characters). You will need it each time "
            "you use this key."
        )
        while True:
            pin = prompts.request_new_pin(label, reason)
            if not pin:
                raise PinRequired("A PIN on the key is required to enrol it")
            if len(pin) >= MIN_PIN_LENGTH and len(pin.encode()) <= MAX_PIN_BYTES:
                break
            reason = (
                f"That PIN does not fit: choose {MIN_PIN_LENGTH} to {MAX_PIN_BYTES} characters."
            )
        ClientPin(Ctap2(device)).set_pin(pin)
        prompts.notice(f"A PIN is now set on {label}.")
        return pin

    def _enroll_with(
        self,
        client: WebAuthnClient,
        device: CtapDevice | None,
        interaction: PromptsInteraction | None,
        custodian_name: str,
        prompts: Prompts,
        cancel: threading.Event,
        rng: Callable[[int], bytes],
    ) -> Enrolled:
        options = PublicKeyCredentialCreationOptions(
            rp=PublicKeyCredentialRpEntity(name=RP_NAME, id=RP_ID),
            user=PublicKeyCredentialUserEntity(
                name=custodian_name, id=rng(16), display_name=custodian_name
            ),
            challenge=rng(CHALLENGE_LEN),
            pub_key_cred_params=[
                PublicKeyCredentialParameters(type=PublicKeyCredentialType.PUBLIC_KEY, alg=-7)
            ],
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.DISCOURAGED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            attestation=AttestationConveyancePreference.DIRECT,
            extensions={"prf": {}},
        )
        try:
            registration = client.make_credential(options, event=cancel)
        finally:
            if interaction is not None:
                interaction.touch_finished()
        credential = registration.response.attestation_object.auth_data.credential_data
        if credential is None:
            raise TokenError("The key returned no credential")
        model = model_name(credential.aaguid, device)
        prf = registration.client_extension_results.prf
        if not getattr(prf, "enabled", False):
            raise PrfUnsupported(model)
        try:
            public_key = cose_to_public_key(credential.public_key)
        except ValueError:
            raise TokenError(f"{model} made a credential of an unsupported kind") from None
        credential_id = bytes(credential.credential_id)
        salt = rng(PRF_SALT_LEN)
        challenge = rng(CHALLENGE_LEN)
        response = self._assert(client, credential_id, salt, challenge, interaction, cancel)
        prf_output = _prf_first(response)
        if prf_output is None:
            raise PrfUnsupported(model)
        assertion = response.response
        if not verify_assertion(
            public_key,
            challenge,
            bytes(assertion.authenticator_data),
            bytes(assertion.client_data),
            bytes(assertion.signature),
        ):
            raise TokenError(f"{model} gave a signature that does not verify")
        identity = derive_identity(prf_output, credential_id)
        hybrid = derive_hybrid_identity(prf_output, credential_id)
        device_name = product_name(device) if device is not None else None
        facts = Fido2Facts(
            credential_id=credential_id,
            prf_salt=salt,
            public_key=public_key,
            aaguid=bytes(credential.aaguid).hex(),
            device_name=device_name,
        )
        label = model if model != "This key" else (device_name or _GENERIC_LABEL)
        attestation = _packed_evidence(registration)
        return Enrolled(
            kind=TokenKind.FIDO2,
            label=label,
            recipient=identity.recipient.to_string(),
            facts={**facts.to_json(), PQ_RECIPIENT_FACT: hybrid.recipient.to_string(),
                   **({ATTESTATION_FACT: attestation} if attestation is not None else {})},
        )

    # --- one assertion with PRF -------------------------------------------------------

    def _assert(
        self,
        client: WebAuthnClient,
        credential_id: bytes,
        salt: bytes,
        challenge: bytes,
        interaction: PromptsInteraction | None,
        cancel: threading.Event,
    ) -> AuthenticationResponse:
        options = PublicKeyCredentialRequestOptions(
            challenge=challenge,
            rp_id=RP_ID,
            allow_credentials=[
                PublicKeyCredentialDescriptor(
                    type=PublicKeyCredentialType.PUBLIC_KEY, id=credential_id
                )
            ],
            user_verification=UserVerificationRequirement.REQUIRED,
            extensions={"prf": {"eval": {"first": salt}}},
        )
        try:
            selection = client.get_assertion(options, event=cancel)
        finally:
            if interaction is not None:
                interaction.touch_finished()
        return selection.get_response(0)

    # --- TokenDriver ------------------------------------------------------------------

    def _signed_assertion(
        self,
        token: TokenInfo,
        challenge: bytes,
        prompts: Prompts,
        cancel: threading.Event,
    ) -> tuple[Evidence, bytes | None]:
        """One assertion over ``challenge`` (PIN + touch), checked against the enrolled key."""
        if len(challenge) != CHALLENGE_LEN:
            raise ValueError("the challenge is a 32-byte hash")
        facts = Fido2Facts.from_json(token.facts)
        custodian = token.custodian_name
        if self._platform_client is not None:
            client = self._platform_client(TesseraClientData())
            with _device_errors(token.label, cancel, None, custodian):
                response = self._assert(
                    client, facts.credential_id, facts.prf_salt, challenge, None, cancel
                )
        else:
            device = self._device_holding(facts, cancel, custodian)
            label = _label(device)
            if pin_retries(device) == 0:  # say so before asking for a PIN it would refuse
                raise PinBlocked(RESET_HINT)
            interaction = PromptsInteraction(prompts, label, lambda: pin_retries(device))
            try:
                with _device_errors(label, cancel, device, custodian):
                    client = Fido2Client(device, TesseraClientData(), interaction)
                    response = self._assert(
                        client, facts.credential_id, facts.prf_salt, challenge, interaction, cancel
                    )
            finally:
                interaction.finish()
        prf_output = _prf_first(response)
        assertion = response.response
        evidence = make_evidence(
            token.id,
            bytes(assertion.authenticator_data),
            bytes(assertion.client_data),
            bytes(assertion.signature),
        )
        if not verify_evidence(token, challenge, evidence):
            raise WrongToken(custodian, "the key's signature does not match the enrolled key")
        return evidence, prf_output

    def sign(
        self, token: TokenInfo, challenge: bytes, prompts: Prompts, cancel: threading.Event
    ) -> Evidence:
        """Sign ``challenge`` (a statement's hash) with an assertion; no envelope opened."""
        evidence, _prf = self._signed_assertion(token, challenge, prompts, cancel)
        return evidence

    def unlock(
        self,
        token: TokenInfo,
        envelope: bytes,
        challenge: bytes,
        prompts: Prompts,
        cancel: threading.Event,
    ) -> Unlocked:
        """Open ``envelope`` with the key's PRF-derived identity and sign ``challenge``."""
        facts = Fido2Facts.from_json(token.facts)
        custodian = token.custodian_name
        evidence, prf_output = self._signed_assertion(token, challenge, prompts, cancel)
        if prf_output is None:
            raise TokenError("The key did not return its PRF output")
        try:
            share = bytearray(decrypt(envelope, derive_identities(prf_output,
                                                                  facts.credential_id)))
        except AgeNoMatch:
            raise WrongToken(custodian) from None
        return Unlocked(share=share, evidence=evidence)

    def verify(self, token: TokenInfo, challenge: bytes, evidence: Evidence) -> bool:
        """Check approval evidence against the credential public key from enrolment."""
        return verify_evidence(token, challenge, evidence)


def _packed_evidence(registration: Any) -> dict[str, Any] | None:
    """The key's packed attestation with its x5c chain, or None (self or no attestation:
    the token is then enrolled as unproven and counts as software for policy)."""
    response = registration.response
    attestation = response.attestation_object
    statement = attestation.att_stmt
    chain = statement.get("x5c") if isinstance(statement, dict) else None
    if attestation.fmt != "packed" or not isinstance(chain, list) or not chain:
        return None
    return packed_evidence([bytes(c) for c in chain], bytes(attestation.auth_data),
                           bytes(response.client_data.hash), bytes(statement.get("sig", b"")))
