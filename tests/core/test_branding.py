"""The brand's colour rule and logo re-encoding: pure functions, no services."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from core.brand_colour import contrast, nearest_passing, passes, worst_contrast
from core.brand_logo import MAX_BYTES, InvalidBranding, reencode


def test_contrast_matches_wcag_reference_values() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#ffffff", "#ffffff") == pytest.approx(1.0)
    # WebAIM's checker: #767676 on white is 4.54:1, the lightest grey that passes AA.
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    assert contrast("#777777", "#ffffff") < 4.5


@pytest.mark.parametrize("colour", ["#ffcc00", "#3b82f6", "#777777", "#ff0000", "#00ff00"])
def test_nearest_passing_colour_passes_and_keeps_the_hue(colour: str) -> None:
    assert not passes(colour)
    nearest = nearest_passing(colour)
    assert passes(nearest)
    assert worst_contrast(nearest) < 4.9  # the first to pass, not just any dark colour
    r, g, b = (int(nearest[i : i + 2], 16) for i in (1, 3, 5))
    r0, g0, b0 = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    # The brightest channel stays the brightest: the colour is darker, not another one.
    assert max(range(3), key=(r, g, b).__getitem__) == max(range(3), key=(r0, g0, b0).__getitem__)


def test_a_passing_colour_is_its_own_nearest() -> None:
    assert nearest_passing("#1D4ED8") == "#1d4ed8"


def _jpeg_with_exif(size: tuple[int, int] = (800, 600)) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Inc"  # Make
    exif[0x0131] = "secret-software"  # Software
    gps = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}
    exif[0x8825] = gps  # GPSInfo
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), quality=80)
    return out.getvalue()


def test_exif_and_gps_are_stripped_and_a_large_logo_scaled_down() -> None:
    raw = _jpeg_with_exif()
    assert Image.open(io.BytesIO(raw)).getexif()  # the upload does carry EXIF
    assert b"SpyCam" in raw
    logo = reencode(raw)
    assert logo.media_type == "image/jpeg"
    back = Image.open(io.BytesIO(logo.data))
    assert back.format == "JPEG"
    assert not back.getexif()
    assert "exif" not in back.info and "icc_profile" not in back.info
    assert b"SpyCam" not in logo.data and b"secret-software" not in logo.data
    assert back.size == (512, 384) == (logo.width, logo.height)


def test_png_and_webp_are_kept_in_their_format() -> None:
    for fmt, media in (("PNG", "image/png"), ("WEBP", "image/webp")):
        out = io.BytesIO()
        Image.new("RGBA", (40, 20), (0, 0, 0, 0)).save(out, fmt)
        logo = reencode(out.getvalue())
        assert logo.media_type == media
        assert Image.open(io.BytesIO(logo.data)).size == (40, 20)


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b'<script>alert(1)</script><rect width="10" height="10"/></svg>'
)


@pytest.mark.parametrize(
    "raw",
    [
        SVG,
        b"just some text, renamed to logo.png\n" * 10,
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,  # a PNG signature and nothing that decodes
        b"GIF89a" + b"\x00" * 100,
    ],
    ids=["svg", "renamed-text", "broken-png", "gif"],
)
def test_anything_but_a_png_jpeg_or_webp_is_refused(raw: bytes) -> None:
    with pytest.raises(InvalidBranding) as refused:
        reencode(raw)
    assert refused.value.status == 422
    assert refused.value.fields and "logo" in refused.value.fields


def test_a_logo_over_200_kb_is_refused() -> None:
    with pytest.raises(InvalidBranding, match="200 KB"):
        reencode(b"\xff" * (MAX_BYTES + 1))


def test_a_decompression_bomb_is_refused_before_decoding() -> None:
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, "PNG", optimize=True)
    assert len(out.getvalue()) <= MAX_BYTES
    with pytest.raises(InvalidBranding, match="pixels"):
        reencode(out.getvalue())
