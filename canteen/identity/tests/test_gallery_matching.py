"""At the window: the right child among several, an unknown face refused, a look-alike asked to
confirm. Real faces throughout (see faces.py); augmentations make the same-person probes."""

import numpy as np
import pytest

from canteen.identity import samples as faces
from canteen.identity.gallery import Gallery, Thresholds


@pytest.fixture(scope="module")
def enrolled(engine, portraits):
    ids, templates = [], []
    for name, im in portraits.items():
        ids.append(name)
        templates.append(engine.embed_single(np.asarray(im)))
    return ids, np.stack(templates)


@pytest.mark.parametrize("augmentation", sorted(faces.AUGMENTATIONS))
def test_each_person_is_identified_among_eight_under_changed_conditions(engine, portraits, enrolled, augmentation):
    gallery = Gallery.from_templates(*enrolled)
    for name, im in portraits.items():
        [(box, embedding)] = engine.embed_frame(np.asarray(faces.AUGMENTATIONS[augmentation](im)))
        match = gallery.identify(embedding)
        assert (match.student_id, match.decision) == (name, "accept"), (name, match)
        assert match.margin >= gallery.thresholds.min_margin


def test_in_a_window_frame_the_nearest_face_is_identified(engine, portraits, enrolled):
    gallery = Gallery.from_templates(*enrolled)
    frame = faces.window_frame(portraits["group3"], face_width=120)
    assert frame.shape == (480, 640, 3)
    results = engine.embed_frame(frame)
    assert len(results) == 1
    assert gallery.identify(results[0][1]).student_id == "group3"


def _overlap(a, b) -> float:
    """Intersection over union of two face boxes."""
    w = max(0, min(a.right, b.right) - max(a.left, b.left))
    h = max(0, min(a.bottom, b.bottom) - max(a.top, b.top))
    return w * h / (a.width * a.height + b.width * b.height - w * h)


def test_the_window_scan_finds_the_student_and_skips_the_queue_behind(engine, portraits, enrolled):
    """The terminal looks only for faces of 100 px or more (a smaller, cheaper pyramid): the
    child at the window is found where the full scan finds them, and identified the same; a
    face half that size, someone further back, is not looked for."""
    gallery = Gallery.from_templates(*enrolled)
    for seed, name in enumerate(["group3", "tom", "astronaut"]):
        frame = faces.window_frame(portraits[name], face_width=130, seed=seed)
        [full] = engine.detect(frame)
        [scaled] = engine.detect(frame, min_face_px=100)
        # The same face, in the frame's own coordinates (HOG's boxes step with its pyramid levels,
        # so the two boxes overlap rather than coincide; the landmarks then align the face).
        assert _overlap(full, scaled) >= 0.6, (full, scaled)
        match = gallery.identify(engine.embed(frame, scaled))
        assert (match.student_id, match.decision) == (name, "accept"), match
    far = faces.window_frame(portraits["group3"], face_width=50)
    assert engine.detect(far, upsample=1), "the full scan with upsampling sees the small face"
    assert engine.detect(far, min_face_px=100) == []


@pytest.mark.parametrize("stranger", ["astronaut", "tom", "group1", "group4"])
def test_a_face_not_in_the_gallery_is_rejected(engine, portraits, enrolled, stranger):
    ids, matrix = enrolled
    keep = [i for i, name in enumerate(ids) if name != stranger]
    gallery = Gallery.from_templates([ids[i] for i in keep], matrix[keep])
    probe = engine.embed_frame(np.asarray(faces.AUGMENTATIONS["flip"](portraits[stranger])))[0][1]
    match = gallery.identify(probe)
    assert match.decision == "reject"
    assert match.student_id is None
    assert match.distance > gallery.thresholds.confirm_distance


def test_two_students_who_look_alike_are_asked_to_confirm_not_charged_blindly(engine, portraits, enrolled):
    # Twins: the same face enrolled for two students. The distance is tiny, the margin is not.
    ids, matrix = enrolled
    twin = engine.embed_single(np.asarray(faces.AUGMENTATIONS["jpeg_q30"](portraits["tom"])))
    gallery = Gallery.from_templates([*ids, "tom_twin"], np.vstack([matrix, twin]))
    match = gallery.identify(engine.embed_frame(np.asarray(portraits["tom"]))[0][1])
    assert match.decision == "confirm"
    assert match.student_id in {"tom", "tom_twin"}
    assert match.margin < gallery.thresholds.min_margin


def test_several_templates_of_one_student_do_not_count_as_a_rival(engine, portraits, enrolled):
    ids, matrix = enrolled
    extra = engine.embed_single(np.asarray(faces.AUGMENTATIONS["darker"](portraits["astronaut"])))
    gallery = Gallery.from_templates([*ids, "astronaut"], np.vstack([matrix, extra]))
    assert gallery.student_count == len(ids)
    match = gallery.identify(engine.embed_frame(np.asarray(portraits["astronaut"]))[0][1])
    assert (match.student_id, match.decision) == ("astronaut", "accept")
    assert match.second_distance > 0.3  # the second is another person, not the student's own second photo


def test_stricter_thresholds_turn_accept_into_confirm(engine, portraits, enrolled):
    gallery = Gallery.from_templates(*enrolled)
    probe = engine.embed_frame(np.asarray(faces.AUGMENTATIONS["jpeg_q30"](portraits["group2"])))[0][1]
    loose = gallery.identify(probe)
    strict = gallery.identify(probe, thresholds=Thresholds(accept_distance=loose.distance / 2, confirm_distance=0.42))
    assert loose.decision == "accept"
    assert strict.decision == "confirm"


def test_a_withdrawn_student_can_be_dropped_from_a_terminal_copy(engine, portraits, enrolled):
    gallery = Gallery.from_templates(*enrolled).without({"group5"})
    probe = engine.embed_frame(np.asarray(portraits["group5"]))[0][1]
    assert gallery.identify(probe).decision == "reject"


def test_an_empty_gallery_rejects():
    match = Gallery.from_templates([], np.zeros((0, 128))).identify(np.ones(128, np.float32))
    assert match.decision == "reject"


def test_a_second_factor_narrows_the_gallery_and_settles_a_look_alike(engine, portraits, enrolled):
    # Twins again; the child types the last digits of their student number, which only one twin has.
    ids, matrix = enrolled
    twin = engine.embed_single(np.asarray(faces.AUGMENTATIONS["jpeg_q30"](portraits["tom"])))
    gallery = Gallery.from_templates([*ids, "tom_twin"], np.vstack([matrix, twin]))
    probe = engine.embed_frame(np.asarray(portraits["tom"]))[0][1]
    assert gallery.identify(probe).decision == "confirm"
    narrowed = gallery.subset({"tom", "group1", "astronaut"})
    assert narrowed.student_count == 3
    match = narrowed.identify(probe)
    assert (match.student_id, match.decision) == ("tom", "accept")
