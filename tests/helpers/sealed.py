"""Build sealed record versions for tests, with plain age identities as tokens."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tessera.core import age
from tessera.core.manifest import new_record_id
from tessera.core.sealing import RecordFacts, SealedVersion, ShareHolder, seal_version

NAMES = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy",
         "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil"]


@dataclass
class SealedFixture:
    sealed: SealedVersion
    identities: dict[str, age.X25519Identity]  # custodian id -> identity
    mnemonics: dict[str, str] = field(default_factory=dict)  # share key -> words

    def open_share(self, key: str) -> str:
        entry = self.sealed.manifest.share(key)
        identity = self.identities[entry.custodian_id]
        return age.decrypt(self.sealed.envelopes[key], [identity]).decode()


def make_sealed(secret: bytes = b"root-api-key-0123456789", k: int = 2, n: int = 3, *,
                groups: list[tuple[int, int]] | None = None, group_threshold: int = 1,
                record_id: str | None = None, nhi: Mapping[str, str] | None = None
                ) -> SealedFixture:
    spec = groups or [(k, n)]
    identities: dict[str, age.X25519Identity] = {}
    plan = []
    names = iter(NAMES)
    for threshold, count in spec:
        holders = []
        for _ in range(count):
            name = next(names)
            cid = f"cust-{name.lower()}"
            identities[cid] = age.X25519Identity.generate()
            holders.append(ShareHolder(cid, name, (identities[cid].recipient.to_string(),)))
        plan.append((threshold, holders))
    words: dict[str, str] = {}
    sealed = seal_version(secret, RecordFacts("AWS root (prod)", dict(nhi or {"system": "aws"})),
                          group_threshold, plan, record_id=record_id or new_record_id(),
                          version=1, epoch=1, created_by="operator",
                          on_mnemonics=words.update)
    return SealedFixture(sealed, identities, words)
