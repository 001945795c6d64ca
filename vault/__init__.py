"""The cardholder-data zone: keys, envelopes, the vault DB, off-the-record data, OTKs.

Nothing outside this package holds a key or reads a sealed value directly.
"""

from __future__ import annotations

from vault.db import is_postgres, make_engine, upgrade
from vault.errors import VaultError
from vault.keyring import PURPOSES, Key, Keyring, KeyringError, load_keyring
from vault.offrecord import ALREADY_VIEWED, AVAILABLE, EXPIRED, OffRecordStore
from vault.otk import ACTIONS, IssuedOtk, OneTimeKeys, OtkClaims
from vault.store import SubmissionRecord, VaultStore, migrate_vault_db

__all__ = [
    "ACTIONS",
    "ALREADY_VIEWED",
    "AVAILABLE",
    "EXPIRED",
    "PURPOSES",
    "IssuedOtk",
    "Key",
    "Keyring",
    "KeyringError",
    "OffRecordStore",
    "OneTimeKeys",
    "OtkClaims",
    "SubmissionRecord",
    "VaultError",
    "VaultStore",
    "is_postgres",
    "load_keyring",
    "make_engine",
    "migrate_vault_db",
    "upgrade",
]
