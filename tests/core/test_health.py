"""The submit's vault check: asked at most once per WRITABLE_TTL_S, then asked again."""

from __future__ import annotations

from typing import cast

from core.health import WRITABLE_TTL_S, vault_writable
from core.runtime import Runtime


class _Vault:
    """Stands in for VaultStore.writable (tested on a real read-only PostgreSQL by
    tests/integration/test_outages.py): counts how often it is asked."""

    def __init__(self) -> None:
        self.asked = 0
        self.answer = True

    def writable(self) -> bool:
        self.asked += 1
        return self.answer


class _Runtime:
    def __init__(self) -> None:
        self.vault = _Vault()


def test_the_answer_stands_for_its_ttl_then_is_asked_again() -> None:
    stand_in = _Runtime()
    rt = cast(Runtime, stand_in)
    assert vault_writable(rt, now=100.0)
    stand_in.vault.answer = False  # turned read-only
    assert vault_writable(rt, now=100.0 + WRITABLE_TTL_S / 2)
    assert stand_in.vault.asked == 1
    assert not vault_writable(rt, now=100.0 + WRITABLE_TTL_S)
    assert stand_in.vault.asked == 2
    # each runtime has its own answer
    other = _Runtime()
    other.vault.answer = False
    assert not vault_writable(cast(Runtime, other), now=100.0)
