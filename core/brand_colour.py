"""A site's brand colour and WCAG AA: its contrast, and the nearest colour that passes.

The colour is the background of the visitor pages' header and main button (white text on
it) and the colour of links on white, so both pairs must reach 4.5:1 (WCAG 2.x AA for body
text). The contrast formula is WCAG's own; "nearest" is measured in OKLab, where equal
steps look equally far apart, so the suggestion keeps the hue and looks like the brand.
"""

from __future__ import annotations

import re

AA_TEXT = 4.5
WHITE = "#ffffff"
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
_STEP = 0.002  # OKLab lightness per step: fine enough that the answer is the first to pass


def is_hex_colour(value: str) -> bool:
    return bool(_HEX.match(value))


def _channels(colour: str) -> tuple[float, float, float]:
    return (
        int(colour[1:3], 16) / 255,
        int(colour[3:5], 16) / 255,
        int(colour[5:7], 16) / 255,
    )


def _to_linear(c: float) -> float:
    # WCAG 2.x uses 0.03928; the sRGB standard says 0.04045. No 8-bit value lies between.
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _from_linear(c: float) -> float:
    c = min(1.0, max(0.0, c))
    return c * 12.92 if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055


def luminance(colour: str) -> float:
    r, g, b = (_to_linear(c) for c in _channels(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two `#rrggbb` colours, from 1 to 21."""
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def worst_contrast(colour: str) -> float:
    """The lower of white text on the colour and the colour on white (the same pair today,
    kept as two so a light-text theme can't slip through later)."""
    return min(contrast(WHITE, colour), contrast(colour, WHITE))


def passes(colour: str) -> bool:
    return worst_contrast(colour) >= AA_TEXT


def _oklab(colour: str) -> tuple[float, float, float]:
    r, g, b = (_to_linear(c) for c in _channels(colour))
    lc = (0.4122214708 * r + 0.5363325363 * g + 0.0514459929 * b) ** (1 / 3)
    mc = (0.2119034982 * r + 0.6806995451 * g + 0.1073969566 * b) ** (1 / 3)
    sc = (0.0883024619 * r + 0.2817188376 * g + 0.6299787005 * b) ** (1 / 3)
    return (
        0.2104542553 * lc + 0.7936177850 * mc - 0.0040720468 * sc,
        1.9779984951 * lc - 2.4285922050 * mc + 0.4505937099 * sc,
        0.0259040371 * lc + 0.7827717662 * mc - 0.8086757660 * sc,
    )


def _hex_from_oklab(lightness: float, a: float, b: float) -> str:
    lc = (lightness + 0.3963377774 * a + 0.2158037573 * b) ** 3
    mc = (lightness - 0.1055613458 * a - 0.0638541728 * b) ** 3
    sc = (lightness - 0.0894841775 * a - 1.2914855480 * b) ** 3
    rgb = (
        4.0767416621 * lc - 3.3077115913 * mc + 0.2309699292 * sc,
        -1.2684380046 * lc + 2.6097574011 * mc - 0.3413193965 * sc,
        -0.0041960771 * lc - 0.7034186147 * mc + 1.7076147010 * sc,
    )
    return "#" + "".join(f"{round(_from_linear(c) * 255):02x}" for c in rgb)


def nearest_passing(colour: str) -> str:
    """The first colour, darkening the given one in small OKLab lightness steps with its hue
    and chroma kept, that reaches AA on white and under white text. Darkening is the only
    way: against white a lighter colour has less contrast, never more."""
    if passes(colour):
        return colour.lower()
    lightness, a, b = _oklab(colour)
    while lightness > 0:
        lightness -= _STEP
        candidate = _hex_from_oklab(lightness, a, b)
        if passes(candidate):
            return candidate
    return "#000000"
