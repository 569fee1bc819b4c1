"""SQLite storage for custody records: migrations, the audit chain, export/import.

The vault holds public data and ciphertext only. Open one with :meth:`Vault.open`.
"""

from .errors import AuditDetailRefused, Conflict, NotAVault, VaultBusy, VaultTooNew
from .models import (
    Approval,
    AuditEntry,
    AuditVerdict,
    Custodian,
    CustodianState,
    Drill,
    Envelope,
    ImportResult,
    Record,
    RecordState,
    Release,
    ReleaseState,
    RevocationHook,
    Rewrap,
    TokenRecord,
    VersionData,
    VersionInfo,
)
from .store import Vault

__all__ = [
    "Approval", "AuditDetailRefused", "AuditEntry", "AuditVerdict", "Conflict", "Custodian",
    "CustodianState", "Drill", "Envelope", "ImportResult", "NotAVault", "Record",
    "RecordState", "Release", "ReleaseState", "RevocationHook", "Rewrap", "TokenRecord", "Vault", "VaultBusy",
    "VaultTooNew", "VersionData", "VersionInfo",
]
