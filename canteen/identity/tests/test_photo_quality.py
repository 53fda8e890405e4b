"""A guardian uploads a photo; a bad one is refused with a reason they can act on."""

import io

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter

from canteen.identity import samples as faces
from canteen.identity.engine import load_image
from canteen.identity.errors import PhotoRejected


def reason_of(engine, data: bytes) -> str:
    with pytest.raises(PhotoRejected) as exc:
        engine.embed_single(load_image(data))
    assert exc.value.message_zh
    assert exc.value.message_en
    return exc.value.code


def test_a_good_portrait_gives_a_unit_128d_template(engine):
    data = faces.jpeg_bytes(faces.astronaut())
    template = engine.embed_single(load_image(data))
    assert template.shape == (128,)
    assert template.dtype == np.float32
    assert abs(float(np.linalg.norm(template)) - 1.0) < 1e-5


@pytest.mark.parametrize(
    "data",
    [b"", b"hello, this is my child's photo", b"%PDF-1.4\n%...", faces.jpeg_bytes(faces.astronaut())[:2000]],
    ids=["empty", "text", "pdf", "truncated_jpeg"],
)
def test_not_an_image(engine, data):
    assert reason_of(engine, data) == "not_an_image"


def test_a_huge_file_is_refused_before_decoding():
    with pytest.raises(PhotoRejected) as exc:
        load_image(b"\xff\xd8" + b"0" * (9 * 1024 * 1024))
    assert exc.value.code == "too_large"
    assert "8 MB" in exc.value.message_en


def test_a_decompression_bomb_is_refused_from_its_header():
    # 8000×6000 of one colour compresses to a few kB but would decode to 48 megapixels.
    buf = io.BytesIO()
    Image.new("1", (8000, 6000)).save(buf, "PNG")
    assert len(buf.getvalue()) < 100_000
    with pytest.raises(PhotoRejected) as exc:
        load_image(buf.getvalue())
    assert exc.value.code == "too_large"


def test_no_face(engine):
    from skimage import data

    assert reason_of(engine, faces.jpeg_bytes(Image.fromarray(data.coffee()))) == "no_face"


def test_several_faces(engine, group_photo):
    with pytest.raises(PhotoRejected) as exc:
        engine.embed_single(load_image(faces.jpeg_bytes(group_photo)))
    assert exc.value.code == "several_faces"
    assert exc.value.details["count"] >= 5
    assert str(exc.value.details["count"]) in exc.value.message_zh


def test_face_too_small(engine):
    im = faces.astronaut()
    small = im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS)  # face ≈ 45 px
    assert reason_of(engine, faces.jpeg_bytes(small)) == "face_too_small"


def test_too_dark(engine):
    dark = ImageEnhance.Brightness(faces.astronaut()).enhance(0.2)
    assert reason_of(engine, faces.jpeg_bytes(dark)) == "too_dark"


def test_too_blurry(engine):
    blurred = faces.astronaut().filter(ImageFilter.GaussianBlur(2))
    assert reason_of(engine, faces.png_bytes(blurred)) == "too_blurry"


def test_a_sideways_phone_photo_is_turned_upright_from_exif(engine):
    rotated = faces.astronaut().rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the viewer must turn it 90° clockwise
    buf = io.BytesIO()
    rotated.save(buf, "JPEG", quality=92, exif=exif)
    assert engine.embed_single(load_image(buf.getvalue())).shape == (128,)


def test_phone_sized_photos_are_analysed_downscaled(engine, portraits):
    big = portraits["tom"].resize((3000, 3000), Image.Resampling.BICUBIC)
    box, template = engine.enrol_face(np.asarray(big))
    assert box.width >= engine.min_face_px
    assert template.shape == (128,)
