"""Every uploaded image is opened here: the pixel count is checked from the header before a
byte is decoded, so a small PNG that inflates to gigapixels (a decompression bomb) is refused
with a 400 instead of exhausting a worker or raising a 500."""

from __future__ import annotations

import io
import warnings

from django.conf import settings
from PIL import Image, UnidentifiedImageError

from .errors import DomainError


class ImageRejected(DomainError):
    code = "image_rejected"
    status = 400
    message_zh = "图片无法读取或尺寸过大"
    message_en = "The image cannot be read or is too large"


def max_image_pixels() -> int:
    return int(settings.CANTEEN_MAX_IMAGE_PIXELS)


def image_open_bounded(
    data: bytes, *, max_pixels: int | None = None, formats: frozenset[str] | set[str] | None = None
) -> Image.Image:
    """Open (not yet decode) an uploaded image; raise ImageRejected for a non-image, a format not
    in `formats`, or more than `max_pixels` pixels. The caller decodes with .load()/.convert()."""
    limit = max_pixels or max_image_pixels()
    try:
        with warnings.catch_warnings():
            # PIL only warns between its own limit and twice that: treat both as refusals.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(details={"reason": "too_many_pixels", "max_pixels": limit}) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ImageRejected(details={"reason": "not_an_image"}) from None
    if formats is not None and image.format not in formats:
        raise ImageRejected(details={"reason": "format", "format": image.format or ""})
    width, height = image.size
    if width * height > limit:
        raise ImageRejected(details={"reason": "too_many_pixels", "max_pixels": limit, "size": [width, height]})
    return image
