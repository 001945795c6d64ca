"""The keyring as a file that every process follows.

`secureforms keys rotate` rewrites the file; running api and worker processes notice the
change (mtime, checked at most once a second, and at once when an envelope names a key
they do not know) so reads never stop during a rotation.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vault.keyring import PURPOSES, Key, Keyring, envelope_key_id, load_keyring

_CHECK_EVERY_S = 1.0
# Event and off-the-record keys only protect short-lived data: once the newer key has
# been primary this long, nothing sealed under the older one can still be needed.
SHORT_LIVED_GRACE = timedelta(days=1)


class KeyringFile:
    def __init__(self, path: Path, *, allow_generate: bool) -> None:
        self.path = path
        self._allow_generate = allow_generate
        self._lock = threading.Lock()
        self._keyring = load_keyring(path, allow_generate=allow_generate)
        self._mtime = self._stat()
        self._checked = time.monotonic()

    def __repr__(self) -> str:
        return f"KeyringFile({str(self.path)!r}, {self._keyring!r})"

    def _stat(self) -> int:
        try:
            return os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            return 0

    def reload(self, *, force: bool = False) -> Keyring:
        with self._lock:
            now = time.monotonic()
            if force or now - self._checked >= _CHECK_EVERY_S:
                self._checked = now
                mtime = self._stat()
                if force or mtime != self._mtime:
                    self._keyring = load_keyring(self.path, allow_generate=self._allow_generate)
                    self._mtime = mtime
            return self._keyring

    @property
    def current(self) -> Keyring:
        return self.reload()

    # -- the Keyring face ------------------------------------------------------------
    @property
    def generated(self) -> str | None:
        return self.current.generated

    def seal(self, purpose: str, plaintext: bytes, aad: bytes) -> bytes:
        return self.current.seal(purpose, plaintext, aad)

    def open(self, purpose: str, envelope: bytes, aad: bytes) -> bytes:
        keyring = self.current
        if keyring.find(envelope_key_id(envelope)) is None:
            keyring = self.reload(force=True)  # sealed under a key rotated in moments ago
        return keyring.open(purpose, envelope, aad)

    def find(self, key_id: bytes) -> Key | None:
        key = self.current.find(key_id)
        return key if key is not None else self.reload(force=True).find(key_id)

    def keys(self, purpose: str | None = None) -> list[Key]:
        return self.current.keys(purpose)

    def primary(self, purpose: str) -> Key:
        return self.current.primary(purpose)

    # -- changes (the CLI and the re-wrap task) ------------------------------------------
    def rotate(self, purposes: tuple[str, ...] = PURPOSES) -> list[Key]:
        """New primaries for `purposes`; older keys stay active until nothing needs them."""
        with self._lock:
            keyring = load_keyring(self.path, allow_generate=self._allow_generate)
            for purpose in purposes:
                keyring = keyring.rotated(purpose)
            keyring.save(self.path)
        new = [self.reload(force=True).primary(p) for p in purposes]
        return new

    def retire(self, key_ids: set[str]) -> list[str]:
        """Mark keys retired (they no longer decrypt). Primaries are never retired."""
        if not key_ids:
            return []
        with self._lock:
            keyring = load_keyring(self.path, allow_generate=self._allow_generate)
            changed = []
            keys = []
            for key in keyring.keys():
                if key.id in key_ids and key.state == "active":
                    keys.append(Key(key.id, key.purpose, key.secret, "retired", key.created_at))
                    changed.append(key.id)
                else:
                    keys.append(key)
            if changed:
                Keyring(keys, generated=keyring.generated).save(self.path)
        self.reload(force=True)
        return changed

    def purge(self, key_ids: set[str]) -> list[str]:
        """Remove retired keys, secret and all, from the file; other keys are left alone.

        The file is rewritten atomically with mode 0600 (Keyring.save). What no longer
        exists can't be stolen from a backup or a copy of the file made later.
        """
        if not key_ids:
            return []
        with self._lock:
            keyring = load_keyring(self.path, allow_generate=self._allow_generate)
            gone = [k.id for k in keyring.keys() if k.id in key_ids and k.state == "retired"]
            if gone:
                kept = [k for k in keyring.keys() if k.id not in gone]
                Keyring(kept, generated=keyring.generated).save(self.path)
        self.reload(force=True)
        return gone

    def stale_short_lived(self, now: datetime | None = None) -> set[str]:
        """Active event/off-the-record keys whose successor has been primary long enough."""
        now = now or datetime.now(UTC)
        stale = set()
        for purpose in ("event", "offrecord"):
            primary = self.primary(purpose)
            try:
                since = datetime.fromisoformat(primary.created_at)
            except ValueError:
                continue
            if now - since >= SHORT_LIVED_GRACE:
                stale |= {k.id for k in self.keys(purpose) if k.state == "active"}
        return stale
