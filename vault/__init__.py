"""The cardholder-data zone: keys, envelopes, the vault DB, off-the-record data, OTKs.

Nothing outside this package holds a key or reads a sealed value directly.
"""

from __future__ import annotations

from vault.datakeys import DataKey, DataKeys, period_of
from vault.errors import VaultError
from vault.keyfile import KeyringFile
from vault.keyring import PURPOSES, Key, Keyring, KeyringError, load_keyring
from vault.offrecord import ALREADY_VIEWED, AVAILABLE, EXPIRED, OffRecordStore
from vault.otk import ACTIONS, IssuedOtk, OneTimeKeys, OtkClaims
from vault.retention import PurgeResult, purge_expired
from vault.sealed_fields import Cipher
from vault.store import SubmissionRecord, VaultStore, migrate_keystore_db, migrate_vault_db
from vault.submission import Submission

__all__ = [
    "ACTIONS",
    "ALREADY_VIEWED",
    "AVAILABLE",
    "EXPIRED",
    "PURPOSES",
    "Cipher",
    "DataKey",
    "DataKeys",
    "IssuedOtk",
    "Key",
    "Keyring",
    "KeyringError",
    "KeyringFile",
    "OffRecordStore",
    "OneTimeKeys",
    "OtkClaims",
    "PurgeResult",
    "Submission",
    "SubmissionRecord",
    "VaultError",
    "VaultStore",
    "load_keyring",
    "migrate_keystore_db",
    "migrate_vault_db",
    "period_of",
    "purge_expired",
]
