"""Real face photos for tests, the benchmark and the demo, taken from packages at run time (nothing committed):

- `skimage.data.astronaut()` (Eileen Collins), shipped inside scikit-image;
- the images inside the `insightface` 2.1 wheel, read from the wheel zip WITHOUT installing it:
  `t1.jpg` (a group photo of six people, cropped here into one portrait per person) and
  `Tom_Hanks_54745.png`. The wheel is looked for in $CANTEEN_INSIGHTFACE_WHEEL, then
  var/test-assets/, and otherwise fetched once from PyPI with `pip download --no-deps`.

Same-person pairs come from augmentations (flip, light, JPEG quality 30, blur, scale).
"""

from __future__ import annotations

import glob
import io
import os
import subprocess
import sys
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

ASSET_DIR = Path(__file__).resolve().parents[2] / "var" / "test-assets"
WHEEL_SPEC = "insightface==2.1"


class SamplesUnavailable(RuntimeError):
    """The wheel with the group photo is neither on this machine nor downloadable."""


def astronaut() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut())


def sorted_local_wheels() -> list[Path]:
    """The wheel if it is already on this machine (never downloads)."""
    explicit = os.environ.get("CANTEEN_INSIGHTFACE_WHEEL")
    if explicit and Path(explicit).exists():
        return [Path(explicit)]
    return [Path(p) for p in sorted(glob.glob(str(ASSET_DIR / "insightface-2.1-*.whl")))]


@lru_cache(maxsize=1)
def insightface_wheel() -> Path | None:
    local = sorted_local_wheels()
    if local:
        return local[-1]
    ASSET_DIR.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(  # noqa: S603 - fixed argv, no outside input
            [sys.executable, "-m", "pip", "download", WHEEL_SPEC, "--no-deps", "-d", str(ASSET_DIR), "-q"],
            check=True,
            timeout=120,
            capture_output=True,
        )
    except (subprocess.SubprocessError, OSError):
        return None
    found = sorted(glob.glob(str(ASSET_DIR / "insightface-2.1-*.whl")))
    return Path(found[-1]) if found else None


def _wheel_image(name: str) -> Image.Image:
    wheel = insightface_wheel()
    if wheel is None:
        raise SamplesUnavailable("the insightface wheel (read for its images only) is not available")
    with zipfile.ZipFile(wheel) as zf:
        return Image.open(io.BytesIO(zf.read(f"insightface/data/images/{name}"))).convert("RGB")


def group_photo() -> Image.Image:
    return _wheel_image("t1.jpg")


@lru_cache(maxsize=1)
def portraits() -> dict[str, Image.Image]:
    """One portrait per person: the six people of t1.jpg (cropped around each face found with
    upsampling, enlarged 1.5× as a phone photo would be), Tom Hanks, and the astronaut."""
    from canteen.identity.engine import FaceEngine

    engine = FaceEngine.default()
    group = group_photo()
    boxes = sorted(engine.detect(np.asarray(group), upsample=1), key=lambda b: b.left)
    people: dict[str, Image.Image] = {}
    for i, b in enumerate(boxes):
        cx, cy, s = (b.left + b.right) / 2, (b.top + b.bottom) / 2, b.width * 1.6
        crop = group.crop((int(cx - s), int(cy - s * 1.1), int(cx + s), int(cy + s * 0.9)))
        people[f"group{i + 1}"] = crop.resize((int(crop.width * 1.5), int(crop.height * 1.5)), Image.Resampling.LANCZOS)
    tom = _wheel_image("Tom_Hanks_54745.png")
    people["tom"] = tom.resize((336, 336), Image.Resampling.LANCZOS)
    people["astronaut"] = astronaut()
    return people


def jpeg_bytes(image: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def _jpeg30(image: Image.Image) -> Image.Image:
    return Image.open(io.BytesIO(jpeg_bytes(image, 30))).convert("RGB")


AUGMENTATIONS = {
    "flip": ImageOps.mirror,
    "darker": lambda im: ImageEnhance.Brightness(im).enhance(0.6),
    "brighter": lambda im: ImageEnhance.Brightness(im).enhance(1.4),
    "jpeg_q30": _jpeg30,
    "blur": lambda im: im.filter(ImageFilter.GaussianBlur(1.2)),
    "smaller": lambda im: im.resize((int(im.width * 0.7), int(im.height * 0.7)), Image.Resampling.BILINEAR),
}


def window_frame(portrait: Image.Image, *, face_width: int = 120, seed: int = 0) -> np.ndarray:
    """A 640×480 camera frame at the serving window: the portrait scaled so the face is about
    `face_width` px, placed on a noisy background (a canteen is not a studio).

    The scale assumes a portrait about 3.2 face widths wide, true of the six group-photo crops;
    Tom Hanks's face comes out about 2.4 times `face_width` and the astronaut's about half of it
    (HOG boxes of 310 and 72 px at 130)."""
    rng = np.random.default_rng(seed)
    frame = Image.fromarray(rng.integers(60, 140, size=(480, 640, 3), dtype=np.uint8)).filter(
        ImageFilter.GaussianBlur(3)
    )
    scale = face_width / (portrait.width / 3.2)  # portraits are cropped ≈ 3.2 face widths wide
    person = portrait.resize((int(portrait.width * scale), int(portrait.height * scale)), Image.Resampling.BILINEAR)
    person = person.crop((0, 0, min(person.width, 600), min(person.height, 460)))
    frame.paste(person, ((640 - person.width) // 2, (480 - person.height) // 2))
    return np.asarray(frame)
