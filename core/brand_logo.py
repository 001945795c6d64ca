"""A site's logo, decoded and drawn again with Pillow before anyone sees it.

Only the pixels survive: EXIF (camera, GPS), XMP, ICC and text chunks are left behind,
and whatever a crafted file hid after its image data with them. SVG (which can carry
script) and anything that doesn't decode as PNG, JPEG or WebP is refused.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import DomainError

MAX_BYTES = 200 * 1024
MAX_SIDE = 512
MAX_PIXELS = 25_000_000  # a small file that unpacks to gigabytes is refused before decoding
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


class InvalidBranding(DomainError):
    status, code = 422, "invalid_branding"
    default_message = "Some branding settings are not allowed."


@dataclass(frozen=True)
class Logo:
    data: bytes
    media_type: str
    width: int
    height: int


def _refuse(reason: str) -> InvalidBranding:
    return InvalidBranding(reason, fields={"logo": reason})


def reencode(raw: bytes) -> Logo:
    """The logo as a clean PNG, JPEG or WebP no larger than 512×512, or InvalidBranding."""
    if not raw:
        raise _refuse("The logo is empty.")
    if len(raw) > MAX_BYTES:
        raise _refuse(f"The logo is larger than {MAX_BYTES // 1024} KB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw), formats=list(FORMATS))
            if image.width * image.height > MAX_PIXELS:
                raise _refuse("The logo has too many pixels.")
            image.load()
    except InvalidBranding:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse("The logo has too many pixels.") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise _refuse("The logo must be a PNG, JPEG or WebP image (SVG is not accepted).") from None
    media_type = FORMATS[str(image.format)]
    upright = ImageOps.exif_transpose(image)  # turned as the camera meant, before EXIF goes
    mode = "RGB" if media_type == "image/jpeg" else "RGBA"
    pixels = upright.convert(mode)
    pixels.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    # A new image from the pixels alone: nothing of the upload's `info` can ride along.
    clean = Image.frombytes(mode, pixels.size, pixels.tobytes())
    out = io.BytesIO()
    if media_type == "image/jpeg":
        clean.save(out, "JPEG", quality=90, optimize=True)
    elif media_type == "image/png":
        clean.save(out, "PNG", optimize=True)
    else:
        clean.save(out, "WEBP", quality=90)
    return Logo(out.getvalue(), media_type, clean.width, clean.height)
