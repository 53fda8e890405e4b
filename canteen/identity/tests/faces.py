"""Kept for callers written before the move: the real face samples live in canteen.identity.samples."""

from canteen.identity.samples import (  # noqa: F401
    ASSET_DIR,
    AUGMENTATIONS,
    SamplesUnavailable,
    astronaut,
    group_photo,
    insightface_wheel,
    jpeg_bytes,
    png_bytes,
    portraits,
    sorted_local_wheels,
    window_frame,
)
