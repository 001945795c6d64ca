"""The keyring file that running processes follow through rotations."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vault import KeyringFile, VaultError
from vault.keyring import Keyring, KeyringError


def _file(tmp_path: Path) -> KeyringFile:
    return KeyringFile(tmp_path / "keyring.json", allow_generate=True)


def test_a_second_process_sees_a_rotation_at_once_when_it_meets_a_new_key(tmp_path: Path) -> None:
    operator, worker = _file(tmp_path), _file(tmp_path)
    sealed_before = worker.seal("data", b"before", b"aad")
    operator.rotate(("data",))
    sealed_after = operator.seal("data", b"after", b"aad")
    # The worker's copy is stale, but an envelope naming an unknown key forces a reload.
    assert worker.open("data", sealed_after, b"aad") == b"after"
    assert worker.open("data", sealed_before, b"aad") == b"before"
    assert worker.primary("data").id == operator.primary("data").id


def test_rotation_keeps_three_generations_readable(tmp_path: Path) -> None:
    ring = _file(tmp_path)
    sealed = [ring.seal("offrecord", b"gen0", b"")]
    for generation in (1, 2):
        ring.rotate(("offrecord",))
        sealed.append(ring.seal("offrecord", f"gen{generation}".encode(), b""))
    assert [ring.open("offrecord", s, b"") for s in sealed] == [b"gen0", b"gen1", b"gen2"]
    states = [k.state for k in ring.keys("offrecord")]
    assert states == ["primary", "active", "active"]


def test_retired_keys_stop_decrypting_and_primaries_are_never_retired(tmp_path: Path) -> None:
    ring = _file(tmp_path)
    old = ring.primary("event")
    sealed = ring.seal("event", b"x", b"")
    assert ring.retire({old.id}) == []  # still primary
    ring.rotate(("event",))
    assert ring.retire({old.id}) == [old.id]
    with pytest.raises(VaultError):
        ring.open("event", sealed, b"")
    assert os.stat(ring.path).st_mode & 0o777 == 0o600


def test_short_lived_keys_are_stale_a_day_after_their_successor(tmp_path: Path) -> None:
    ring = _file(tmp_path)
    old_event = ring.primary("event").id
    ring.rotate(("event",))
    assert ring.stale_short_lived() == set()
    later = datetime.now(UTC) + timedelta(days=1, minutes=1)
    assert ring.stale_short_lived(later) == {old_event}


def test_production_refuses_a_generated_file_and_a_missing_one(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    with pytest.raises(KeyringError):
        KeyringFile(path, allow_generate=False)
    _file(tmp_path)
    with pytest.raises(KeyringError):
        KeyringFile(path, allow_generate=False)
    Keyring.generate(generated=None).save(tmp_path / "prod.json")
    prod = KeyringFile(tmp_path / "prod.json", allow_generate=False)
    assert prod.generated is None
    assert json.loads((tmp_path / "prod.json").read_text())["generated"] is None


def test_purging_removes_only_retired_keys_and_their_secrets_keeping_mode_0600(
    tmp_path: Path,
) -> None:
    ring = _file(tmp_path)
    old = ring.primary("data")
    ring.rotate(("data",))
    active = ring.primary("data")
    ring.rotate(("data",))
    assert ring.purge({old.id, active.id}) == []  # neither is retired yet
    ring.retire({old.id})
    other = _file(tmp_path)  # a second process following the file
    assert ring.purge({old.id, active.id}) == [old.id]
    text = (tmp_path / "keyring.json").read_text()
    assert old.id not in text
    assert base64.b64encode(old.secret).decode() not in text
    assert active.id in text
    assert os.stat(ring.path).st_mode & 0o777 == 0o600
    assert other.reload(force=True).find(bytes.fromhex(old.id)) is None
    assert not list(tmp_path.glob(".keyring-*"))  # no temporary copy left behind
