"""Turning values into rows and rows back into dataclasses, strictly.

Everything read back from the file is checked as if it came from outside: a damaged
or edited row raises :class:`IntegrityError` naming the row instead of handing out
garbage.
"""

from __future__ import annotations

import base64
import binascii
import enum
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from tessera.core import canonical, text
from tessera.core.errors import FormatError, InputError, IntegrityError
from tessera.core.text import fold as fold  # re-exported for the vault modules
from tessera.core.token_types import ApprovalMethod, Evidence, TokenInfo, TokenKind, TokenState

from .models import Custodian, CustodianState, Record, RecordState, TokenRecord

_E = TypeVar("_E", bound=enum.Enum)

MAX_NAME = 200
MAX_TEXT = 500
MAX_FACTS = 16 * 1024
MAX_EVIDENCE = 64 * 1024


def utc_text(moment: datetime) -> str:
    """ISO 8601 UTC to the second with a ``Z``: the one time format the vault stores."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clean_text(value: str, what: str, limit: int = MAX_TEXT, *, required: bool = False) -> str:
    """NFC-normalised, trimmed text a reader can trust (see :mod:`tessera.core.text`)."""
    return text.clean(value, what, limit, required=required)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: Any, what: str) -> bytes:
    """Decode canonical padded base64 (re-encoding must give the same text)."""
    if not isinstance(text, str):
        raise FormatError(f"{what} must be a base64 string")
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise FormatError(f"{what} is not valid base64") from None
    if b64(data) != text:
        raise FormatError(f"{what} is not canonical base64")
    return data


def json_object(data: Mapping[str, Any], what: str, limit: int) -> str:
    """Canonical JSON text of a mapping, refused when larger than ``limit`` bytes."""
    if not isinstance(data, Mapping):
        raise InputError(f"the {what} must be a JSON object")
    try:
        encoded = canonical.dumps(dict(data))
    except FormatError as exc:
        raise InputError(f"the {what} cannot be stored: {exc}") from None
    if len(encoded) > limit:
        raise InputError(f"the {what} is larger than {limit} bytes")
    return encoded.decode("utf-8")


def load_object(text: Any, where: str) -> dict[str, Any]:
    """Parse a stored canonical JSON object; anything else is damage."""
    if not isinstance(text, str):
        raise IntegrityError(f"{where} is damaged (not text)")
    try:
        value = canonical.loads(text.encode("utf-8"), what=where)
    except (FormatError, UnicodeEncodeError) as exc:
        raise IntegrityError(f"{where} is damaged: {exc}") from None
    if not isinstance(value, dict):
        raise IntegrityError(f"{where} is damaged (not a JSON object)")
    return value


def enum_value(kind: type[_E], value: Any, where: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        raise IntegrityError(f"{where} has an unknown value {value!r}") from None


# -- evidence ------------------------------------------------------------------------

def evidence_json(evidence: Evidence) -> str:
    """Evidence as canonical JSON (signature in base64)."""
    if not isinstance(evidence, Evidence):
        raise InputError("approval evidence must be an Evidence object")
    data = {k: v for k, v in evidence.data.items()}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise InputError("evidence data must map text to text")
    return json_object({
        "method": ApprovalMethod(evidence.method).value,
        "token_id": evidence.token_id,
        "algorithm": evidence.algorithm,
        "signature": b64(bytes(evidence.signature)),
        "data": data,
    }, "approval evidence", MAX_EVIDENCE)


def evidence_from_json(text: Any, where: str) -> Evidence:
    obj = load_object(text, where)
    if set(obj) != {"method", "token_id", "algorithm", "signature", "data"}:
        raise IntegrityError(f"{where} is damaged (unexpected fields)")
    data = obj["data"]
    token_id = obj["token_id"]
    if (not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values())
            or not isinstance(obj["algorithm"], str)
            or not (token_id is None or isinstance(token_id, str))):
        raise IntegrityError(f"{where} is damaged (wrong field types)")
    try:
        signature = unb64(obj["signature"], f"{where} signature")
    except FormatError as exc:
        raise IntegrityError(str(exc)) from None
    return Evidence(method=enum_value(ApprovalMethod, obj["method"], where), token_id=token_id,
                    algorithm=obj["algorithm"], signature=signature, data=data)


# -- rows ----------------------------------------------------------------------------

def custodian_from_row(row: sqlite3.Row) -> Custodian:
    where = f"custodian {row['id']}"
    return Custodian(id=row["id"], name=row["name"], contact=row["contact"], role=row["role"],
                     created_at=row["created_at"],
                     state=enum_value(CustodianState, row["state"], where))


def token_from_row(row: sqlite3.Row) -> TokenRecord:
    where = f"token {row['id']}"
    info = TokenInfo(
        id=row["id"], custodian_id=row["custodian_id"], custodian_name=row["custodian_name"],
        kind=enum_value(TokenKind, row["kind"], where), label=row["label"],
        recipient=row["recipient"], facts=load_object(row["facts"], f"{where} facts"),
        state=enum_value(TokenState, row["state"], where), remote=bool(row["remote"]))
    return TokenRecord(info=info, enrolled_at=row["enrolled_at"],
                       last_drill_at=row["last_drill_at"], state_reason=row["state_reason"])


def record_from_row(row: sqlite3.Row) -> Record:
    where = f"record {row['label']!r}"
    return Record(
        id=row["id"], label=row["label"], system=row["system"], account=row["account"],
        owner=row["owner"], environment=row["environment"],
        policy_overrides=load_object(row["policy_overrides"], f"{where} policy"),
        allow_software=bool(row["allow_software"]),
        state=enum_value(RecordState, row["state"], where), state_reason=row["state_reason"],
        state_since=row["state_since"], current_version=row["current_version"],
        created_at=row["created_at"], last_release_at=row["last_release_at"],
        last_drill_at=row["last_drill_at"])
