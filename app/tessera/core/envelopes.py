"""Which recipients a custodian's share envelope is wrapped to: hybrid or classical.

A share is as safe as the weakest envelope it sits in: an attacker who copies a vault
today and owns a quantum computer later opens any X25519 or P-256 stanza, and one
opened stanza gives the whole share. So an envelope never mixes the two kinds (the
age spec: a file SHOULD NOT be encrypted to both a hybrid and a classical
recipient), and a custodian is not given a second, hybrid envelope beside a classical
one — that would add bytes and no safety. The rule, per share:

- *hybrid* when the policy asks for it and every active token of the custodian has a
  post-quantum recipient (``age1pq1…``);
- otherwise *classical*: every token by its X25519 / piv-p256 recipient;
- a custodian whose tokens cannot agree (a remotely enrolled ``age1pq1…``-only token
  beside a YubiKey PIV slot) gets each token's own recipient — the one case a file
  mixes, flagged by the access review like every classical envelope.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence

from tessera.core.age import is_post_quantum
from tessera.core.token_types import TokenInfo


class EnvelopeKind(enum.StrEnum):
    HYBRID = "hybrid"  # mlkem768x25519: post-quantum
    CLASSICAL = "classical"  # X25519 / piv-p256


def share_recipients(tokens: Sequence[TokenInfo], wanted: EnvelopeKind) -> tuple[str, ...]:
    """The recipients of one custodian's share envelope, by the rule above."""
    if wanted is EnvelopeKind.HYBRID and all(t.pq_recipient for t in tokens):
        return tuple(t.pq_recipient for t in tokens if t.pq_recipient)
    if all(t.classical_recipient for t in tokens):
        return tuple(t.classical_recipient for t in tokens if t.classical_recipient)
    return tuple(t.recipients[0] for t in tokens)


def envelope_kind(recipients: Iterable[str]) -> EnvelopeKind:
    """HYBRID when every stanza of the envelope is post-quantum, else CLASSICAL."""
    listed = list(recipients)
    if listed and all(is_post_quantum(r) for r in listed):
        return EnvelopeKind.HYBRID
    return EnvelopeKind.CLASSICAL


def classical_tokens(tokens: Sequence[TokenInfo], recipients: Iterable[str]) -> list[TokenInfo]:
    """The tokens an envelope names by a classical recipient (what keeps it from PQ)."""
    classical = {r for r in recipients if not is_post_quantum(r)}
    return [t for t in tokens if t.classical_recipient in classical]
