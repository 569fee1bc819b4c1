"""Custody facts in a custodian's words, with the technical value kept beside them.

The vault records share ids (``g0m1``), action codes (``release.approve``) and detail
keys (``share_key``, ``algorithm``); people read "Bob's share", "Release approved",
"Checked against". Front ends show these words first and the technical value one
click away (a tooltip, a "technical details" section), so nothing is hidden from an
auditor and nothing unfamiliar greets a custodian.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_SHARE_KEY = re.compile(r"g(\d{1,2})m(\d{1,2})")

ACTIONS = {
    "vault.create": "Vault created",
    "vault.migrate": "Vault upgraded",
    "vault.policy": "Vault policy changed",
    "vault.organisation": "Organisation details changed",
    "custodian.add": "Custodian added",
    "custodian.state": "Custodian changed",
    "token.enrol": "Key enrolled",
    "token.state": "Key retired or reported lost",
    "token.export-identity": "Software key exported",
    "record.create": "Record sealed",
    "record.version": "New version sealed",
    "record.rotate": "Secret rotated",
    "record.reshare": "Shares regenerated",
    "record.revoke": "Custodian revoked",
    "record.state": "Record state changed",
    "record.policy": "Record policy changed",
    "release.start": "Release requested",
    "release.approve": "Release approved by a custodian",
    "release.complete": "Secret released",
    "release.abort": "Release stopped",
    "reshare.start": "Reshare requested",
    "reshare.approve": "Reshare approved by a custodian",
    "reshare.complete": "Reshare approved by the quorum",
    "reshare.abort": "Reshare stopped",
    "drill.pass": "Drill passed",
    "drill.fail": "Drill failed",
    "envelope.rewrap": "Share moved to new keys",
    "sheet.print": "Sheet printed",
    "sheet.reprint": "Sheet reprinted",
    "sheet.seal": "Sheet sealed in its envelope",
    "sheet.open": "Sheet envelope opened",
    "sheet.destroy": "Sheet destroyed",
    "sheet.discard": "Sheet words discarded",
    "version.export": "Record exported",
    "version.import": "Record imported",
    "hook.set": "After-release command set",
    "hook.clear": "After-release command removed",
    "hook.run": "After-release command ran",
    "hook.fail": "After-release command failed",
}

FIELDS = {
    "label": "Record",
    "name": "Name",
    "custodian": "Custodian",
    "custodian_id": "Custodian id",
    "custodians": "Custodians",
    "custodians_added": "Custodians added",
    "role": "Role",
    "kind": "Kind of key",
    "method": "How",
    "reason": "Reason",
    "ticket": "Ticket",
    "progress": "Approvals so far",
    "quorum": "Quorum",
    "share_key": "Share",
    "share_keys": "Shares",
    "share_count": "Shares",
    "algorithm": "Checked with",
    "fingerprint": "Fingerprint",
    "previous_fingerprint": "Previous fingerprint",
    "version": "Version",
    "from_version": "From version",
    "epoch": "Share set",
    "from_epoch": "From share set",
    "recipient": "Public key (age recipient)",
    "added_recipients": "Keys added",
    "removed_recipients": "Keys removed",
    "remote": "Enrolled remotely",
    "record_id": "Record id",
    "release_id": "Release id",
    "request_id": "Request id",
    "request_sha256": "Request hash (SHA-256)",
    "token_id": "Key id",
    "tokens_added": "Keys added",
    "envelope_no": "Envelope number",
    "sealed_by": "Sealed by",
    "witness": "Witness",
    "destroyed_by": "Destroyed by",
    "from": "From",
    "to": "To",
    "rotation": "New secret",
    "allow_software": "Software keys allowed",
    "nhi": "Identity",  # the machine identity a record serves (as the record pane says)
    "demo": "Demo vault",
    "schema": "Storage format",
    "sheets_to_destroy": "Old sheets to destroy",
    "changes": "Changes",
    "record_state": "Record is now",
    "approvals": "Approvals",
    "organisation": "Organisation",
    "contact": "Contact",
    "instructions_url": "Instructions",
    "error": "Error",
}

_VALUES = {
    "method": {"fido2": "security key (FIDO2)", "piv": "YubiKey (PIV)",
               "software": "software key", "paper": "typed sheet words",
               "scan": "scanned sheet"},
    "kind": {"fido2": "security key (FIDO2)", "piv": "YubiKey (PIV)",
             "software": "software key (lower assurance)"},
    "algorithm": {"share-commitment": "the share's commitment in the record",
                  "es256": "an ECDSA P-256 signature", "ed25519": "an Ed25519 signature"},
    "record_state": {"released": "released — rotation due", "rotation_required":
                     "rotation required", "sealed": "sealed", "superseded": "superseded",
                     "retired": "retired"},
}
_VALUES["from"] = _VALUES["to"] = _VALUES["record_state"]
# Ids and hashes: technical, shown only under "technical details".
TECHNICAL_FIELDS = frozenset({"custodian_id", "record_id", "release_id", "request_id",
                              "token_id", "request_sha256", "recipient", "added_recipients",
                              "removed_recipients", "custodians", "schema", "digest"})


LISTED = 10  # names :func:`listed` shows before saying how many more


def counted(n: int, noun: str) -> str:
    """"1 record", "5,000 records"."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def listed(names: list[str] | tuple[str, ...], limit: int = LISTED) -> str:
    """Names joined with commas, at most ``limit`` of them and then how many more: a
    custodian of 5,000 records gets a tooltip, not a screen of labels."""
    if len(names) <= limit:
        return ", ".join(names)
    return f"{', '.join(names[:limit])} … and {len(names) - limit:,} more"


def share_label(share_key: str, groups: int = 1) -> str:
    """``g0m1`` -> "share 2" (one group) or "group 1, share 2"."""
    match = _SHARE_KEY.fullmatch(share_key)
    if not match:
        return share_key
    group, member = int(match.group(1)) + 1, int(match.group(2)) + 1
    return f"share {member}" if groups <= 1 and group == 1 else f"group {group}, share {member}"


def share_name(custodian: str, share_key: str = "", *, several: bool = False) -> str:
    """"Bob's share", or "Bob's share 2" when Bob holds several."""
    if several and share_key:
        return f"{custodian}'s {share_label(share_key)}"
    return f"{custodian}'s share"


def version_text(version: int, epoch: int | None = None) -> str:
    """"version 1"; the epoch (share set) only when it differs from the version."""
    if epoch is None or epoch == version:
        return f"version {version}"
    return f"version {version} (share set {epoch})"


def action_title(action: str) -> str:
    """"release.approve" -> "Release approved by a custodian" (unknown codes stay readable)."""
    if action in ACTIONS:
        return ACTIONS[action]
    return action.replace(".", " ").replace("-", " ").replace("_", " ").capitalize()


def field_title(key: str) -> str:
    return FIELDS.get(key, key.replace("_", " ").capitalize())


def field_value(key: str, value: object) -> str:
    """One detail's value in words (share ids named, codes spelled out, lists joined)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None or value == "":
        return "—"
    if key in ("share_key", "share_keys") and isinstance(value, str):
        return ", ".join(share_label(k) for k in value.split())
    if isinstance(value, list | tuple):
        return ", ".join(field_value(key, v) for v in value) or "—"
    if isinstance(value, Mapping):
        return "; ".join(f"{field_title(k)}: {field_value(k, v)}" for k, v in value.items())
    text = str(value)
    return _VALUES.get(key, {}).get(text, text)


@dataclass(frozen=True)
class DetailLine:
    """One detail of an audit entry: its words, and the value as stored."""

    title: str
    text: str
    key: str
    raw: str
    technical: bool


_ORDER = ("label", "custodian", "name", "role", "kind", "method", "progress", "reason", "ticket",
          "share_key", "share_keys", "version", "epoch", "fingerprint")


def detail_lines(details: Mapping[str, object], action: str = "") -> list[DetailLine]:
    """Every detail of an entry, the telling ones first, ids and hashes marked technical."""
    keys = [k for k in _ORDER if k in details] + sorted(k for k in details if k not in _ORDER)
    key_label = action.startswith("token.")  # there "label" names the key, not a record
    return [DetailLine("Key" if key_label and k == "label" else field_title(k),
                       field_value(k, details[k]), k, str(details[k]),
                       k in TECHNICAL_FIELDS or k.endswith("_id")) for k in keys]


def describe(actor: str, action: str, details: Mapping[str, object]) -> str:
    """One readable line for an audit entry: what happened, to what, by whom."""
    title = action_title(action)
    who = details.get("custodian") or details.get("name")
    what = details.get("label")
    parts = [title]
    if action.endswith(".approve") and who:
        parts = [f"{title.removesuffix(' by a custodian')}: {who}"]
        method = details.get("method")
        if method:
            parts.append(f"with {field_value('method', method)}")
        if details.get("progress"):
            parts.append(f"({details['progress']})")
    elif who and action.split(".")[0] in ("custodian", "token", "drill", "envelope", "sheet"):
        parts.append(f"— {who}")
    if what:
        parts.append(f"— {what}")
    if details.get("reason") and not action.startswith("hook"):
        parts.append(f"— “{details['reason']}”")
    return " ".join(str(p) for p in parts)
