"""Face detection and embedding with dlib, loaded from packages (no download at run time).

- detection: dlib's HOG frontal-face detector, no upsampling, with a score threshold
  (upsampling costs 5× and, at 0, a low threshold lets through false faces);
- alignment: the 5-point landmark model;
- template: the 128-d ResNet descriptor, L2-normalized so matching is one matrix product.

The models (≈ 30 MB in memory) load once per process on first use. dlib's DNN keeps per-layer
buffers, so descriptor computation is serialized with a lock; detection holds no state.
"""

from __future__ import annotations

import importlib.resources
import threading
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from canteen.core.images import ImageRejected, image_open_bounded

from .errors import PhotoRejected

# dlib's frontal-face HOG detector scans an 80×80 window over an image pyramid: smaller faces
# are not found without upsampling.
HOG_WINDOW_PX = 80
DEFAULT_MAX_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "BMP", "MPO"})


@dataclass(frozen=True)
class FaceBox:
    left: int
    top: int
    right: int
    bottom: int
    score: float

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def as_dict(self) -> dict:
        return {
            "left": self.left,
            "top": self.top,
            "right": self.right,
            "bottom": self.bottom,
            "score": round(self.score, 3),
        }


def load_image(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode an uploaded photo into an RGB uint8 array, refusing non-images, big files and
    decompression bombs (the pixel count is checked from the header, before decoding)."""
    if not data:
        raise PhotoRejected("not_an_image")
    if len(data) > max_bytes:
        raise PhotoRejected("too_large", max_mb=max_bytes // (1024 * 1024), max_mp=max_pixels // 1_000_000)
    try:
        image = image_open_bounded(data, max_pixels=max_pixels, formats=ALLOWED_FORMATS)
        image.load()
    except ImageRejected as exc:
        if exc.details.get("reason") == "too_many_pixels":
            raise PhotoRejected(
                "too_large", max_mb=max_bytes // (1024 * 1024), max_mp=max_pixels // 1_000_000
            ) from None
        raise PhotoRejected("not_an_image") from None
    except Exception:  # PIL raises many kinds for a corrupt or foreign file
        raise PhotoRejected("not_an_image") from None
    # Phone photos are often stored sideways with an EXIF rotation; HOG only finds upright faces.
    image = ImageOps.exif_transpose(image)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3):
        raise PhotoRejected("not_an_image")
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    if image.shape[2] == 4:
        image = image[:, :, :3]
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image)


def _luma(image: np.ndarray) -> np.ndarray:
    return image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114


def _laplacian_variance(gray: np.ndarray) -> float:
    g = gray.astype(np.float32)
    lap = -4 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    return float(lap.var())


class FaceEngine:
    """One per process (see `default()`); all thresholds are constructor arguments so tests and
    terminals can tune them."""

    _default: FaceEngine | None = None
    _default_lock = threading.Lock()

    def __init__(
        self,
        *,
        score_threshold: float = 0.3,
        upsample: int = 0,
        enrol_max_side: int = 1280,
        min_face_px: int = 80,
        min_brightness: float = 45.0,
        min_sharpness: float = 10.0,
    ) -> None:
        import dlib  # imported here so that importing this module stays cheap

        models = importlib.resources.files("face_recognition_models") / "models"
        with importlib.resources.as_file(models / "shape_predictor_5_face_landmarks.dat") as path:
            self._shape = dlib.shape_predictor(str(path))
        with importlib.resources.as_file(models / "dlib_face_recognition_resnet_model_v1.dat") as path:
            self._net = dlib.face_recognition_model_v1(str(path))
        self._detector = dlib.get_frontal_face_detector()
        self._dlib = dlib
        self._net_lock = threading.Lock()
        self.score_threshold = score_threshold
        self.upsample = upsample
        self.enrol_max_side = enrol_max_side
        self.min_face_px = min_face_px
        self.min_brightness = min_brightness
        self.min_sharpness = min_sharpness

    @classmethod
    def default(cls) -> FaceEngine:
        if cls._default is None:
            with cls._default_lock:
                if cls._default is None:
                    cls._default = cls()
        return cls._default

    # -- detection and embedding -------------------------------------------------------------

    def detect(self, image: np.ndarray, *, upsample: int | None = None, min_face_px: int = 0) -> list[FaceBox]:
        """Faces above the score threshold, largest first, in `image`'s coordinates.

        `min_face_px` above HOG's 80 px window: look only for faces at least that wide, on a copy
        scaled so that such a face fills the window. The pyramid's largest levels, which cost the
        most, are skipped: at the serving window the student's face is 100 px or more in a 640×480
        frame, and the smaller faces are the queue behind, which is not to be identified anyway.
        """
        image = _as_rgb(image)
        h, w = image.shape[:2]
        scale = HOG_WINDOW_PX / min_face_px if min_face_px > HOG_WINDOW_PX else 1.0
        scanned = image
        if scale < 1.0:
            import cv2

            scanned = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        rects, scores, _ = self._detector.run(
            scanned, self.upsample if upsample is None else upsample, self.score_threshold
        )
        boxes = [
            FaceBox(
                max(0, round(r.left() / scale)),
                max(0, round(r.top() / scale)),
                min(w, round(r.right() / scale)),
                min(h, round(r.bottom() / scale)),
                float(s),
            )
            for r, s in zip(rects, scores, strict=True)
        ]
        return sorted(boxes, key=lambda b: b.width * b.height, reverse=True)

    def embed(self, image: np.ndarray, box: FaceBox) -> np.ndarray:
        image = _as_rgb(image)
        rect = self._dlib.rectangle(box.left, box.top, box.right, box.bottom)
        shape = self._shape(image, rect)
        with self._net_lock:
            descriptor = self._net.compute_face_descriptor(image, shape)
        vec = np.asarray(descriptor, dtype=np.float32)
        return vec / np.linalg.norm(vec)

    def embed_frame(self, image: np.ndarray) -> list[tuple[FaceBox, np.ndarray]]:
        """Every face in a terminal frame, largest (nearest the window) first. No quality gate:
        the gallery's thresholds decide, and a bad frame is simply followed by the next one."""
        image = _as_rgb(image)
        return [(box, self.embed(image, box)) for box in self.detect(image)]

    # -- enrolment ---------------------------------------------------------------------------

    def embed_single(self, image: np.ndarray) -> np.ndarray:
        """The template of an enrolment photo, or PhotoRejected with the reason: exactly one face,
        large, lit and sharp enough that the template will match this child reliably later."""
        return self.enrol_face(image)[1]

    def enrol_face(self, image: np.ndarray) -> tuple[FaceBox, np.ndarray]:
        """`embed_single` with the face box (in the analysed, possibly downscaled, image)."""
        image = _as_rgb(image)
        h, w = image.shape[:2]
        scale = min(1.0, self.enrol_max_side / max(h, w))
        if scale < 1.0:
            # Phone photos are 12 MP; HOG time grows with pixels, and the template is computed
            # from a 150 px chip anyway.
            image = np.asarray(
                Image.fromarray(image).resize((round(w * scale), round(h * scale)), Image.Resampling.LANCZOS)
            )
        gray = _luma(image)
        if float(gray.mean()) < self.min_brightness * 0.8:
            raise PhotoRejected("too_dark")
        boxes = self.detect(image)
        if not boxes:
            # Faces under ~80 px are invisible to HOG without upsampling; look again only to
            # give the right reason.
            small = self.detect(image, upsample=1)
            if len(small) > 1:
                raise PhotoRejected("several_faces", count=len(small))
            if small:
                raise PhotoRejected("face_too_small", size=small[0].width)
            raise PhotoRejected("no_face")
        if len(boxes) > 1:
            raise PhotoRejected("several_faces", count=len(boxes))
        box = boxes[0]
        if box.width < self.min_face_px:
            raise PhotoRejected("face_too_small", size=box.width)
        face = gray[box.top : box.bottom, box.left : box.right]
        if float(face.mean()) < self.min_brightness:
            raise PhotoRejected("too_dark")
        # Sharpness on a fixed-size crop so that the threshold does not depend on face size.
        crop = np.asarray(Image.fromarray(face.astype(np.uint8)).resize((128, 128), Image.Resampling.BILINEAR))
        if _laplacian_variance(crop) < self.min_sharpness:
            raise PhotoRejected("too_blurry")
        return box, self.embed(image, box)
