"""Tokens sign the vault's statements; replay checks them (FORMAT §7.1).

:class:`TokenSigner` wraps a token and its driver as the vault's
:class:`~tessera.vault.statements.StatementSigner` (PIN + touch where the token asks,
through the same :class:`~tessera.tokens.base.Prompts` as a release).
:func:`check_signature` verifies a signature against a token row *from the replayed
log* without any device. :func:`adopt` writes the genesis (a new vault's first trust,
or an existing vault's migration to signed state). :func:`require_verified_recipients`
runs before any share is wrapped.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tessera.core.errors import FormatError, IntegrityError, PolicyError, TesseraError
from tessera.custody.drivers import TokenDrivers
from tessera.tokens.base import ApprovalMethod, Evidence, Prompts, TokenInfo, TokenKind, TokenState
from tessera.tokens.fido2_evidence import verify_evidence as verify_fido2
from tessera.tokens.software import verify_ed25519
from tessera.vault import Vault
from tessera.vault.codec import evidence_json, unb64
from tessera.vault.genesis import format_fingerprint as format_fingerprint
from tessera.vault.statements import ProjectionMoved, Replay, genesis_quorum


class RecipientNotVerified(TesseraError):
    """A share would be wrapped to a token whose enrolment does not verify."""

    exit_code = 78

    def __init__(self, custodian: str, token_label: str, why: str) -> None:
        self.custodian = custodian
        self.token_label = token_label
        self.why = why
        super().__init__(f"{custodian}'s token {token_label!r} does not verify ({why}); "
                         "nothing was wrapped to it — run `tessera audit verify`")


class StateNotVerified(TesseraError):
    """The vault's tables differ from its signed statements; no share is wrapped."""

    exit_code = 78

    def __init__(self, problem: str, *, acting: bool = True) -> None:
        self.problem = problem
        super().__init__(f"the vault does not verify: {problem}; " + (
            "nothing was wrapped" if acting else
            "nothing was done — run `tessera audit verify` and restore the vault from a "
            "backup you trust"))


class NotSignedYet(TesseraError):
    """A share would be wrapped in a vault whose state nobody has signed yet (no genesis):
    its tables, recipients included, could have been written by anyone."""

    exit_code = 78

    def __init__(self, custodians: int, signing_tokens: Sequence[str]) -> None:
        self.custodians = custodians
        self.signing_tokens = tuple(signing_tokens)  # one per custodian who can sign
        need = genesis_quorum(custodians)
        why = ("this vault's state is not signed yet (it has no genesis), so nothing proves "
               "the recipients in it are the custodians' own; nothing was wrapped. ")
        if not custodians:
            super().__init__(why + "No custodian has a token enrolled in person (a token "
                             "enrolled remotely cannot sign): enrol their FIDO2 keys or "
                             "YubiKeys in person (`tessera token enroll NAME --kind "
                             "fido2|piv`), then run `tessera audit adopt --token … --token …`")
            return
        if len(self.signing_tokens) < need:
            super().__init__(
                why + f"Its genesis needs {need} of the {custodians} custodians with tokens "
                f"enrolled in person, signing with a token that can act here (attested "
                f"hardware outside demo vaults), and {len(self.signing_tokens)} can: enrol "
                "their FIDO2 keys or YubiKeys in person (`tessera token enroll NAME --kind "
                "fido2|piv`), then run `tessera audit adopt --token … --token …`")
            return
        example = " ".join(f'--token "{label}"' for label in self.signing_tokens[:need])
        super().__init__(
            why + f"No share is wrapped until {need} of its {custodians} custodians with "
            f"signing tokens sign it. Run `tessera audit adopt {example}` (one token per "
            "custodian; `tessera token list` shows them), then repeat this command with "
            "`tessera --sign-with TOKEN …`")


class TokenSigner:
    """A token signing statements through its driver (asks for PIN/touch as needed)."""

    def __init__(self, drivers: TokenDrivers, token: TokenInfo, prompts: Prompts,
                 cancel: threading.Event | None = None) -> None:
        if token.remote:
            raise PolicyError(f"{token.label} was enrolled remotely and holds no signing key")

        self.token = token
        self.token_id = token.id
        self._drivers = drivers
        self._prompts = prompts
        self._cancel = cancel or threading.Event()

    def sign(self, challenge: bytes) -> Mapping[str, Any]:
        driver = self._drivers.for_token(self.token)
        evidence = driver.sign(self.token, challenge, self._prompts, self._cancel)
        if not check_evidence(self.token, challenge, evidence):
            raise IntegrityError(f"{self.token.label} returned a signature that does not verify")
        result: dict[str, Any] = json.loads(evidence_json(evidence))
        return result


def require_operator_token(vault: Vault, token: TokenInfo) -> None:
    """People act through hardware tokens outside demo vaults; nobody through a
    retired, lost or remote one."""
    if token.state is not TokenState.ACTIVE or token.remote:
        raise PolicyError(f"{token.label} cannot sign (it is {token.state.value}"
                          f"{', enrolled remotely' if token.remote else ''})")
    if vault.is_demo:
        return
    if token.kind is TokenKind.SOFTWARE:
        raise PolicyError(f"{token.label} is a software key: outside demo vaults people act "
                          "through hardware tokens")
    if token.policy_kind(demo_vault=False) is TokenKind.SOFTWARE:
        # A claimed kind proves nothing (#9 item 4): without an attestation that chains
        # to the trust store the key could have been made in software.
        raise PolicyError(f"{token.label} is not proven hardware (no valid attestation): "
                          "outside demo vaults people act through attested hardware tokens "
                          "(docs/TOKENS.md, Attestation)")


def token_from_projection(row: Mapping[str, Any]) -> TokenInfo:
    """A token as the signed log enrolled it (never the table's copy)."""
    facts = json.loads(str(row["facts"]))
    return TokenInfo(id=str(row["id"]), custodian_id=str(row["custodian_id"]), custodian_name="",
                     kind=TokenKind(str(row["kind"])), label=str(row["label"]),
                     recipient=str(row["recipient"]), facts=facts,
                     state=TokenState(str(row["state"])), remote=bool(row["remote"]))


def check_evidence(token: TokenInfo, challenge: bytes, evidence: Evidence) -> bool:
    if token.kind is TokenKind.SOFTWARE:
        return verify_ed25519(token, challenge, evidence)
    if token.kind is TokenKind.FIDO2:
        return evidence.token_id == token.id and verify_fido2(token, challenge, evidence)
    if token.kind is TokenKind.PIV:
        # Imported here: the PIV driver pulls in ykman and PC/SC, which opening a
        # vault (and a vault with no PIV signer) does not need.
        from tessera.tokens.piv import verify_piv_evidence

        return verify_piv_evidence(token, challenge, evidence)
    return False


class SignatureCheck:
    """The :data:`~tessera.vault.statements.Check` replay uses (no device needed).

    Tokens are rebuilt from their projected row once per distinct row, not once per
    signature (and their attestation judged once): a 100,000-statement replay checks
    the same few keys again and again.
    """

    _FIELDS = frozenset({"method", "token_id", "algorithm", "signature", "data"})

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str, str, str], TokenInfo | None] = {}
        self._hardware: dict[tuple[str, str, str, str, bool], bool] = {}

    def _token(self, row: Mapping[str, Any]) -> TokenInfo | None:
        key = (str(row.get("id")), str(row.get("kind")), str(row.get("facts")),
               str(row.get("recipient")))
        if key not in self._tokens:
            try:
                self._tokens[key] = token_from_projection(row)
            except (ValueError, KeyError, TypeError):
                self._tokens[key] = None
        token = self._tokens[key]
        if token is not None and token.state.value != row.get("state"):
            token = token_from_projection(row)
        return token

    def proven_hardware(self, row: Mapping[str, Any], *, demo_vault: bool) -> bool:
        """The token's attestation verifies (a claimed kind proves nothing): judged once
        per token row, as :meth:`TokenInfo.policy_kind` judges it when it signs."""
        key = (str(row.get("id")), str(row.get("kind")), str(row.get("facts")),
               str(row.get("recipient")), demo_vault)
        if key not in self._hardware:
            token = self._token(row)
            self._hardware[key] = token is not None and token.kind.is_hardware and \
                token.policy_kind(demo_vault=demo_vault) is not TokenKind.SOFTWARE
        return self._hardware[key]

    def __call__(self, row: Mapping[str, Any], challenge: bytes,
                 evidence: Mapping[str, Any]) -> bool:
        token = self._token(row)
        if token is None or set(evidence) != self._FIELDS:
            return False
        data = evidence["data"]
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            return False
        try:
            parsed = Evidence(method=ApprovalMethod(evidence["method"]),
                              token_id=evidence["token_id"], algorithm=str(evidence["algorithm"]),
                              signature=unb64(evidence["signature"], "statement signature"),
                              data=data)
        except (FormatError, ValueError, TypeError):
            return False
        return check_evidence(token, challenge, parsed)


def check_signature(row: Mapping[str, Any], challenge: bytes, evidence: Mapping[str, Any]) -> bool:
    """One signature checked against a projected token row."""
    return SignatureCheck()(row, challenge, evidence)


def verify_vault(vault: Vault, *, start: Replay | None = None,
                 until: int | None = None, full: bool = False,
                 expected_audit_head: tuple[int, str] | None = None,
                 forms_checked: tuple[int, str] | None = None) -> Replay:
    """Replay the log, check every signature and compare the tables (``audit verify``).

    ``start`` resumes from an earlier verified replay (only newer statements and audit
    entries are read; the tables are still compared in full): the one this workstation
    kept (:func:`tessera.custody.log_check.check_vault`) or, by default, the last replay
    that verified in this process, so checking before each wrap stays cheap in a large
    vault. ``full`` replays from the first statement (`audit verify --full`);
    ``forms_checked`` is the audit head this computer verified before, whose entries'
    details need not be judged again (:func:`tessera.vault.audit.verify`).
    """
    if start is None and not full and until is None:
        start = vault.verified_state
    try:
        result = vault.verify_state(SignatureCheck(), start=start, until=until,
                                    expected_audit_head=expected_audit_head,
                                    forms_checked=forms_checked)
    except ProjectionMoved:  # the kept projection was replaced by another process's newer one
        result = vault.verify_state(SignatureCheck(), until=until,
                                    expected_audit_head=expected_audit_head,
                                    forms_checked=forms_checked)
    if result.ok and until is None:
        vault.verified_state = result
    return result


@dataclass(frozen=True)
class Adopted:
    fingerprint: str
    signed_by: tuple[str, ...]  # custodian names
    unproven: tuple[str, ...]  # what could not be proven about the past


def adopt(vault: Vault, drivers: TokenDrivers, token_ids: Sequence[str], prompts: Prompts,
          cancel: threading.Event | None = None, *, actor: str) -> Adopted:
    """Write the genesis: the given tokens (one per custodian, more than half of the
    custodians with signing tokens) sign the vault's current state once.

    Refused, with nothing written, when the vault already has a genesis, when the
    tokens are too few, or when the tables already differ from the log.
    """
    if vault.genesis_fingerprint() is not None:
        raise PolicyError("this vault's state is already signed (it has a genesis)")
    replay = vault.verify_state(None)
    if not replay.ok:
        raise StateNotVerified(replay.problem)
    tokens = [vault.get_token(t) for t in token_ids]
    for token in tokens:
        require_operator_token(vault, token)
    custodians = {t.custodian_id for t in tokens}
    eligible = {t.custodian_id for t in signing_tokens(vault)}
    if len(custodians) < genesis_quorum(len(eligible)):
        raise PolicyError(f"signing the vault needs tokens of more than half of its "
                          f"{len(eligible)} custodians with signing tokens; "
                          f"{len(custodians)} given")
    unproven = [f"{replay.unsigned_before_genesis} earlier change(s) were written without "
                "signatures: who made them rests on the signing custodians' word and on the "
                "unsigned audit chain"]
    others = [t.label for c in vault.list_custodians() for t in vault.list_tokens(c.id)
              if t.state is TokenState.ACTIVE and t.id not in token_ids]
    if others:
        unproven.append("tokens enrolled before the genesis that did not sign it ("
                        + ", ".join(others) + ") are vouched for by the signers; their "
                        "possession of the key was not proven")
    first_statement = vault.audit_entries(action="vault.migrate", limit=1)
    if first_statement:
        unproven.append(f"audit entries 1 to {first_statement[0].seq} predate signed "
                        "statements; the tables as they stood then are vouched for, not proven")
    signers = [TokenSigner(drivers, t, prompts, cancel) for t in tokens]
    names = tuple(sorted({t.custodian_name for t in tokens}))
    with vault.signed_by(*signers):
        fingerprint = vault.record_genesis([t.id for t in tokens], actor, {
            "signed_by": list(names), "unproven": unproven})
    return Adopted(fingerprint, names, tuple(unproven))


def created_as_demo(vault: Vault) -> bool:
    """The vault is a demo vault and said so when it was created (audit entry 1).

    Before the genesis the ``meta`` table is unsigned: flipping its demo flag alone must
    not turn a real vault into one that wraps shares unsigned. Rewriting entry 1 as well
    changes the vault's genesis as workstations pin it (vault/genesis.py)."""
    if not vault.is_demo:
        return False
    first = vault.audit_entries(limit=1)
    return bool(first) and first[0].action == "vault.create" and \
        first[0].details.get("demo") is True


def signing_tokens(vault: Vault) -> list[TokenInfo]:
    """The tokens that can sign: active, enrolled in person, of active custodians."""
    return [t for c in vault.list_custodians() if c.state.value == "active"
            for t in vault.list_tokens(c.id) if t.state is TokenState.ACTIVE and not t.remote]


def require_genesis(vault: Vault) -> None:
    """No share is wrapped in a vault without a genesis (its state is unsigned, so a
    recipient could be anyone's). Demo vaults are exempt (`tessera demo` and the
    GUI's demo sign theirs anyway), but only when created as demo vaults."""
    if vault.genesis_fingerprint() is None and not created_as_demo(vault):
        tokens = signing_tokens(vault)
        able: dict[str, str] = {}  # custodian -> a token that may sign the genesis
        for token in tokens:
            try:
                require_operator_token(vault, token)
            except PolicyError:
                continue
            able.setdefault(token.custodian_id, token.label)
        raise NotSignedYet(len({t.custodian_id for t in tokens}), list(able.values()))


def require_verified_recipients(vault: Vault, tokens: Iterable[TokenInfo]) -> None:
    """Before wrapping a share: the vault must have a genesis (outside demo vaults);
    each token's row must be the one its signed enrolment made, and after genesis the
    token must chain to it. Names the first that fails."""
    wanted = list(tokens)
    require_genesis(vault)
    replay = verify_vault(vault)
    if not replay.ok and replay.difference is None:
        raise StateNotVerified(replay.problem)
    for token in wanted:
        row = replay.token_row(token.id)
        if row is None:
            raise RecipientNotVerified(token.custodian_name, token.label,
                                       "no signed statement enrolled it")
        projected = token_from_projection(row)
        if (projected.recipient, dict(projected.facts), projected.kind) != (
                token.recipient, dict(token.facts), token.kind):
            raise RecipientNotVerified(token.custodian_name, token.label,
                                       "its recipient or facts differ from its signed enrolment")
        if replay.genesis is not None and replay.ok and token.id not in replay.trusted:
            raise RecipientNotVerified(token.custodian_name, token.label,
                                       "its enrolment does not chain to the vault's genesis")
    if not replay.ok:
        diff = replay.difference
        if diff is not None and diff.table == "tokens":
            named = next((t for t in wanted if (t.id,) == diff.key), None)
            if named is not None:
                raise RecipientNotVerified(named.custodian_name, named.label, diff.describe())
        raise StateNotVerified(replay.problem)
