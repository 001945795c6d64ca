"""A site's brand over HTTP on the real stack: the admin API's refusals (contrast, logos
that are not images), the logo re-encoded without EXIF, and every visitor page branded
with the CSP still strict. Each test brands a site of its own, so no other test sees it."""

from __future__ import annotations

import base64
import io
import re

import httpx
from PIL import Image
from support.flow import card_values
from support.page_forms import hidden, sign_in
from support.sites import ADMIN_PASSWORD, OwnSite
from support.stack import Stack

GPS_LATITUDE = (48.0, 51.0, 24.0)


def jpeg_with_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Inc"
    exif[0x8825] = {1: "N", 2: GPS_LATITUDE, 3: "E", 4: (2.0, 21.0, 3.0)}
    out = io.BytesIO()
    Image.new("RGB", (1024, 256), (10, 60, 140)).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def posted(page: str, values: dict[str, str]) -> dict[str, str]:
    keep = ("csrf", "otk", "site")
    return {
        **{k: hidden(page, k) for k in keep},
        "action": "submit",
        **{f"v_{k}": v for k, v in values.items()},
    }


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_a_colour_under_aa_is_refused_with_its_ratio_and_the_nearest_that_passes(
    stack: Stack,
) -> None:
    site = OwnSite.make(stack)
    r = site.call("PUT", "/site/branding", site.admin, {"primary_color": "#3b82f6"})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "invalid_branding"
    reason = body["fields"]["primary_color"]
    assert reason in body["message"]
    assert "3.68:1" in reason and "4.5:1" in reason
    nearest = re.search(r"nearest colour that passes is (#[0-9a-f]{6})", reason)
    assert nearest, reason
    # The suggestion is taken as it is: it passes.
    assert site.call("GET", "/site/branding", site.admin).json()["configured"] is False
    ok = site.call("PUT", "/site/branding", site.admin, {"primary_color": nearest.group(1)})
    assert ok.status_code == 200, ok.text
    assert ok.json()["primary_color"] == nearest.group(1)


def test_svg_text_and_bad_fields_are_refused_and_nothing_is_written(stack: Stack) -> None:
    site = OwnSite.make(stack)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    for body in (
        {"display_name": "Acme", "logo": b64(svg)},
        {"display_name": "Acme", "logo": b64(b"not an image, renamed to logo.png\n" * 20)},
        {"display_name": "Acme", "logo": "%%% not base64"},
        {"display_name": "Acme", "logo": b64(b"\xff" * (200 * 1024 + 1))},
        {"display_name": ""},
        {"display_name": "x" * 81},
        {"primary_color": "red"},
        {"primary_color": "#fff;}"},
        {"support_url": "http://help.example.com"},
        {"support_url": "javascript:alert(1)"},
    ):
        r = site.call("PUT", "/site/branding", site.admin, body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"] in ("invalid_branding", "invalid_body")
    assert site.call("GET", "/site/branding", site.admin).json()["configured"] is False
    _, agent = site.signed_in("agent")
    assert site.call("PUT", "/site/branding", agent, {"display_name": "Mine"}).status_code == 403
    assert site.call("GET", "/site/branding", agent).status_code == 403


def test_the_logo_is_re_encoded_without_exif_and_served_for_a_year(stack: Stack) -> None:
    site = OwnSite.make(stack)
    raw = jpeg_with_exif()
    assert Image.open(io.BytesIO(raw)).getexif().get_ifd(0x8825)  # the upload has GPS
    r = site.call("PUT", "/site/branding", site.admin, {"display_name": "Acme", "logo": b64(raw)})
    assert r.status_code == 200, r.text
    url = r.json()["logo_url"]
    assert re.fullmatch(rf"/brand/{site.site_id}/logo-[0-9a-f]{{16}}\.jpg", url)
    with stack.client() as c:
        served = c.get(url)
        assert served.status_code == 200
        assert served.headers["content-type"] == "image/jpeg"
        assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
        back = Image.open(io.BytesIO(served.content))
        assert back.format == "JPEG" and back.size == (512, 128)
        assert not back.getexif() and "exif" not in back.info
        assert b"SpyCam" not in served.content
        # Another hash, or another site's id, is not this logo.
        assert c.get(url.replace(url[-20:-4], "0" * 16)).status_code == 404
        assert c.get(url.replace(site.site_id, stack.site_id)).status_code == 404
    trail = site.trail(type="site.branding_changed")
    assert trail and "logo" in trail[-1]["resource"]


def test_every_visitor_page_shows_the_brand_and_the_csp_stays_strict(stack: Stack) -> None:
    site = OwnSite.make(stack)
    png = io.BytesIO()
    Image.new("RGBA", (64, 64), (200, 0, 0, 255)).save(png, "PNG")
    r = site.call(
        "PUT",
        "/site/branding",
        site.admin,
        {
            "display_name": "Acme <Bank> & Co",
            "primary_color": "#0B5394",
            "support_url": "https://help.acme.example/forms",
            "logo": b64(png.getvalue()),
        },
    )
    assert r.status_code == 200, r.text
    brand = r.json()
    desk = site.desk()
    sent = desk.send()

    def branded(page: httpx.Response, status: int) -> str:
        assert page.status_code == status, page.text
        text = page.text
        assert "Acme &lt;Bank&gt; &amp; Co" in text and "<Bank>" not in text
        assert f'<link rel="stylesheet" href="{brand["stylesheet_url"]}">' in text
        assert f'<img class="brand-logo" src="{brand["logo_url"]}" alt="">' in text
        assert 'href="https://help.acme.example/forms"' in text
        csp = page.headers["content-security-policy"]
        assert "style-src 'self'" in csp and "img-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "style=" not in text and "<style" not in text
        return text

    with desk.client() as c:
        preview = branded(c.get(f"/f/{sent.otk}"), 200)
        assert "<h1>Payment card, for Acme &lt;Bank&gt; &amp; Co</h1>" in preview
        form = branded(c.post(f"/f/{sent.otk}", data={"csrf": hidden(preview, "csrf")}), 200)
        assert "<h1>Payment card, for Acme &lt;Bank&gt; &amp; Co</h1>" in form
        bad = {**card_values(), "expiry": "13/99"}
        errors = branded(c.post("/form/submit", data=posted(form, bad)), 422)
        assert "There is a problem" in errors
        done = c.post("/form/submit", data=posted(errors, card_values()))
        assert done.status_code == 303
        confirmation = branded(c.get(done.headers["location"]), 200)
        assert "Your answers were sent" in confirmation
        expired = branded(c.post("/form/submit", data=posted(errors, card_values())), 410)
        assert "This link has expired" in expired

        css = c.get(brand["stylesheet_url"])
        assert css.status_code == 200
        assert css.headers["content-type"].startswith("text/css")
        assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert "--primary: #0b5394;" in css.text
        # A new colour is a new URL; the old one no longer answers.
        again = site.call("PUT", "/site/branding", site.admin, {"primary_color": "#7a1f5c"})
        assert again.json()["stylesheet_url"] != brand["stylesheet_url"]
        assert c.get(brand["stylesheet_url"]).status_code == 404


def test_a_site_without_a_brand_keeps_the_product_look(stack: Stack) -> None:
    site = OwnSite.make(stack)
    sent = site.desk().send()
    with stack.client() as c:
        page = c.get(f"/f/{sent.otk}").text
    assert "<h1>Payment card</h1>" in page
    assert "/brand/" not in page


def test_the_console_sets_the_brand_and_refuses_a_weak_colour_with_its_ratio(
    stack: Stack,
) -> None:
    site = OwnSite.make(stack)
    with stack.client() as c:
        sign_in(c, site.site_id, "admin", ADMIN_PASSWORD)
        form = c.get("/admin/branding")
        assert form.status_code == 200
        assert 'href="/admin/branding"' in form.text  # in the console's navigation
        data = {
            "csrf": hidden(form.text, "csrf"),
            "display_name": "Acme Bank",
            "primary_color": "#ffcc00",
            "support_url": "https://help.acme.example/",
        }
        refused = c.post("/admin/branding", data=data)
        assert refused.status_code == 422
        assert "1.51:1" in refused.text and "nearest colour that passes is #" in refused.text
        assert 'href="#brand-primary_color"' in refused.text
        assert 'value="Acme Bank"' in refused.text  # what was typed stays
        assert site.call("GET", "/site/branding", site.admin).json()["configured"] is False

        saved = c.post("/admin/branding", data={**data, "primary_color": "#0B5394"})
        assert saved.status_code == 303
        assert saved.headers["location"] == "/admin/branding?done=branding_saved"
        assert "The brand was saved" in c.get(saved.headers["location"]).text
        no_token = c.post("/admin/branding", data={**data, "csrf": "1.forged"})
        assert no_token.status_code == 403
    brand = site.call("GET", "/site/branding", site.admin).json()
    assert (brand["display_name"], brand["primary_color"], brand["support_url"]) == (
        "Acme Bank",
        "#0b5394",
        "https://help.acme.example/",
    )
