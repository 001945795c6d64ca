"""A site's payment processor settings: validated, sealed at rest, shown only in part, and
re-sealed by a key rotation so the old key can retire."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select, update

from core import keys, payment_settings
from core.actors import Actor
from core.errors import Forbidden, ValidationFailed
from core.runtime import Runtime
from core.schema import payment_settings as table
from core.sealed import sealed_key_id

KEY = "sk_test_abcdefghijklmnop1234"
STRIPE = {"provider": "stripe", "secret_key": KEY, "api_base": "https://eu.example.com"}


def _stored(rt: Runtime, site_id: str) -> str:
    with rt.app_engine.connect() as conn:
        return str(
            conn.execute(select(table.c.sealed_config).where(table.c.site_id == site_id)).scalar()
        )


def test_sealed_at_rest_shown_in_part_and_bound_to_the_site(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin, other = new_site(rt), new_site(rt)
    shown = payment_settings.put_settings(rt, admin, STRIPE)
    assert (shown["provider"], shown["base_url"], shown["key_last4"]) == (
        "stripe",
        "https://eu.example.com",
        "1234",
    )
    assert shown["erase_after_forward"] is True
    stored = _stored(rt, admin.site_id)
    assert stored.startswith("sealed:v1:") and KEY not in stored and "eu.example" not in stored
    assert payment_settings.processor_config(rt, admin.site_id) == {
        **STRIPE,
        "erase_after_forward": True,
    }
    # Copied to another site's row, it does not open there: as if unset.
    payment_settings.put_settings(rt, other, {**STRIPE, "secret_key": "sk_test_other_key"})
    with rt.app_engine.begin() as conn:
        conn.execute(
            update(table).where(table.c.site_id == other.site_id).values(sealed_config=stored)
        )
    assert payment_settings.processor_config(rt, other.site_id) is None
    assert payment_settings.get_settings(rt, other) == {"provider": None}
    with pytest.raises(Forbidden):
        payment_settings.get_settings(rt, Actor(site_id=admin.site_id, role="agent", user_id="x"))


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"provider": "paypal"}, {"provider"}),
        ({"provider": "stripe", "secret_key": "pk_test_123456"}, {"secret_key"}),
        ({**STRIPE, "api_base": "http://api.example.com"}, {"api_base"}),
        ({**STRIPE, "erase_after_forward": "yes", "url": "x"}, {"erase_after_forward", "url"}),
        (
            {"provider": "https", "url": "https://gw.example.com", "body_template": {}},
            {"body_template"},
        ),
        (
            {
                "provider": "https",
                "url": "https://gw.example.com",
                "body_template": {"pan": {"$field": "card_number"}},
                "headers": {"Bad Name": "v"},
                "keep": ["id"],
            },
            {"headers", "keep"},
        ),
    ],
)
def test_every_bad_field_is_named(body: dict[str, object], named: set[str]) -> None:
    with pytest.raises(ValidationFailed) as caught:
        payment_settings.validated(body)
    assert set(caught.value.fields or {}) == named


def test_plain_http_only_to_loopback_and_only_outside_production() -> None:
    local = {**STRIPE, "api_base": "http://127.0.0.1:8420"}
    assert payment_settings.validated(local, allow_http=True)["api_base"] == local["api_base"]
    with pytest.raises(ValidationFailed):
        payment_settings.validated(local)
    with pytest.raises(ValidationFailed):
        payment_settings.validated({**STRIPE, "api_base": "http://10.0.0.1"}, allow_http=True)


def test_a_rotation_reseals_settings_so_the_old_key_retires(
    own_rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    rt = own_rt
    admin = new_site(rt)
    payment_settings.put_settings(rt, admin, STRIPE)
    old = rt.keyring.primary("data").id
    assert sealed_key_id(_stored(rt, admin.site_id)) == old
    keys.rotate(rt, ("data",))
    report = keys.rewrap_and_retire(rt)
    assert report["resealed_payment_settings"] == 1
    assert old in report["retired"]
    assert sealed_key_id(_stored(rt, admin.site_id)) == rt.keyring.primary("data").id
    assert payment_settings.processor_config(rt, admin.site_id) is not None
    assert keys.rewrap_and_retire(rt)["resealed_payment_settings"] == 0
