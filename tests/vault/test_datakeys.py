"""Per-site, per-month data keys: wrapping, re-wrapping and destruction."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from vault import DataKeys, KeyringFile, VaultError, period_of
from vault.aad import bind


def test_one_key_per_site_and_month_and_envelopes_name_it(
    vault_engine: Engine, tmp_path: Path
) -> None:
    ring = KeyringFile(tmp_path / "k.json", allow_generate=True)
    keys = DataKeys(vault_engine, ring)
    nov, dec = keys.for_writing("a", "2026-11"), keys.for_writing("a", "2026-12")
    assert keys.for_writing("a", "2026-11").id == nov.id
    assert len({nov.id, dec.id, keys.for_writing("b", "2026-11").id}) == 3
    sealed = nov.seal("data", b"value", bind("x"))
    assert DataKeys(vault_engine, ring).open("data", sealed, bind("x")) == b"value"
    with pytest.raises(VaultError):
        dec.open("data", sealed, bind("x"))
    assert "secret" not in repr(nov) and nov.secret.hex() not in repr(nov)


def test_data_written_under_three_generations_reads_through_rewrap_and_retirement(
    vault_engine: Engine, tmp_path: Path
) -> None:
    ring = KeyringFile(tmp_path / "k.json", allow_generate=True)
    sealed = []
    for generation, period in enumerate(("2026-09", "2026-10", "2026-11")):
        keys = DataKeys(vault_engine, ring)
        sealed.append(keys.for_writing("site", period).seal("data", f"g{generation}".encode(), b""))
        ring.rotate(("data",))
    keys = DataKeys(vault_engine, ring)
    assert [keys.open("data", s, b"") for s in sealed] == [b"g0", b"g1", b"g2"]
    assert keys.rewrap() == 3
    assert keys.usage_by_wrapping_key() == {ring.primary("data").id: 3}
    older = {k.id for k in ring.keys("data") if k.state == "active"}
    assert len(older) == 3
    assert sorted(ring.retire(older)) == sorted(older)
    fresh = DataKeys(vault_engine, ring)  # no cache: must unwrap with the new primary
    assert [fresh.open("data", s, b"") for s in sealed] == [b"g0", b"g1", b"g2"]
    assert {k.state for k in ring.keys("data")} == {"primary", "retired"}


def test_a_destroyed_key_opens_nothing_anywhere(vault_engine: Engine, tmp_path: Path) -> None:
    ring = KeyringFile(tmp_path / "k.json", allow_generate=True)
    writer = DataKeys(vault_engine, ring)
    key = writer.for_writing("site", period_of(datetime(2026, 1, 5, tzinfo=UTC)))
    sealed = key.seal("data", b"gone", b"")
    writer.destroy([key.id])
    with pytest.raises(VaultError):
        writer.open("data", sealed, b"")
    with pytest.raises(VaultError):
        DataKeys(vault_engine, ring).open("data", sealed, b"")
    # a new write to that month makes a new key rather than reviving the old one
    assert writer.for_writing("site", "2026-01").id != key.id
