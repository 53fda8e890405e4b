import numpy as np
import pytest

from canteen.identity import samples as faces


@pytest.fixture(scope="session")
def engine():
    from canteen.identity.engine import FaceEngine

    return FaceEngine.default()


@pytest.fixture(scope="session")
def portraits():
    """name -> PIL portrait of one real person (8 people)."""
    try:
        return faces.portraits()
    except faces.SamplesUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def portrait_jpegs(portraits):
    return {name: faces.jpeg_bytes(im) for name, im in portraits.items()}


@pytest.fixture(scope="session")
def astronaut_rgb():
    return np.asarray(faces.astronaut())


@pytest.fixture(scope="session")
def group_photo():
    """The six-person group photo from the insightface wheel."""
    try:
        return faces.group_photo()
    except faces.SamplesUnavailable as exc:
        pytest.skip(str(exc))
