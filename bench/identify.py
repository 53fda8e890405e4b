#!/usr/bin/env python
"""Face identification latency at the serving window.

    .venv/bin/python bench/identify.py [--small] [--frames 60] [--gallery 5000] [--no-liveness]

1. Per frame: detect (HOG, upsample 0, threshold 0.3; faces of 100 px or more, as the terminal
   looks, with the whole pyramid beside it) + 5-point landmarks + 128-d embedding
   on 640×480 camera frames, each with one real face of about 120 px (the eight real people of
   the test suite: six from the group photo inside the `insightface` 2.1 wheel, Tom Hanks from
   the same wheel, scikit-image's astronaut; randomly flipped / darkened / brightened / JPEG-30 /
   blurred / scaled, pasted on a noisy background). Median and p95, detection and embedding apart.
2. Identify: one probe against a 5,000-row gallery. The gallery holds the REAL templates of the
   eight people (from their enrolment photos) plus random unit vectors as filler up to 5,000.
   Random 128-d unit vectors are almost orthogonal to real faces (distance ≈ 1.41 vs ≈ 0.45 for
   real strangers), so the filler measures speed only; it says nothing about accuracy at scale.
   The correct-decision count over the frames is printed as a sanity check.
3. Frame to decision: 1 + 2 per frame.
4. The server side on PostgreSQL (scratch database bench_identify, migrated by Django):
   5,000 sealed templates in one campus; building the campus gallery (read + AES-GCM decrypt
   of every template), a cached gallery access (version check + audit row), and sealing /
   opening the terminal package. The scratch database is dropped at the end.
5. Liveness (canteen.identity.liveness): the multi-frame check's cost per approach, its
   refusal rate on attack sequences (each still portrait printed or on a screen, moved by hand:
   shift, rotation, scale, tilt in perspective, glare, moiré) and its false-refusal rate on
   SYNTHETIC blinks of the same stills (no real live video here). --no-liveness skips it.
   --small: 15 frames, 1,000 templates on the server side, 1 approach per person and kind.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
DB = "bench_identify"
os.environ["CANTEEN_DATABASE_URL"] = f"{SERVER}/{DB}"
os.environ["DJANGO_SETTINGS_MODULE"] = "canteen.settings.test"
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:7.2f} ms   p95 {pct(values, 95) * 1000:7.2f} ms"


def admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--gallery", type=int, default=5000)
    parser.add_argument("--no-db", action="store_true", help="skip the PostgreSQL part")
    parser.add_argument("--no-liveness", action="store_true", help="skip the liveness part")
    parser.add_argument("--liveness-trials", type=int, default=None, help="approaches per person and kind")
    args = parser.parse_args()
    frames_n = args.frames or (15 if args.small else 60)
    server_n = 1000 if args.small else args.gallery

    import django

    django.setup()
    import numpy as np

    from canteen.identity import samples as faces
    from canteen.identity.engine import FaceEngine
    from canteen.identity.gallery import Gallery

    rng = np.random.default_rng(7)
    print(f"load average: {os.getloadavg()}")
    t = time.perf_counter()
    engine = FaceEngine.default()
    print(f"model load: {(time.perf_counter() - t) * 1000:.0f} ms (once per process)")
    portraits = faces.portraits()
    names = list(portraits)
    real = np.stack([engine.embed_single(np.asarray(portraits[n])) for n in names])
    filler = rng.standard_normal((args.gallery - len(names), 128)).astype(np.float32)
    ids = names + [f"filler-{i}" for i in range(len(filler))]
    gallery = Gallery.from_templates(ids, np.vstack([real, filler]))
    print(f"gallery: {len(gallery)} rows = {len(names)} real templates + {len(filler)} random unit vectors")

    augment = list(faces.AUGMENTATIONS.values())
    frames = []
    for i in range(frames_n):
        name = names[i % len(names)]
        probe = augment[int(rng.integers(len(augment)))](portraits[name])
        frames.append((name, faces.window_frame(probe, face_width=int(rng.integers(110, 150)), seed=i)))

    detect_t, full_t, embed_t, identify_t, total_t = [], [], [], [], []
    found = correct = 0
    missed: dict[str, int] = {}
    for name, frame in frames:
        # The whole pyramid, for comparison; the terminal looks only for faces of 100 px or more.
        t0 = time.perf_counter()
        engine.detect(frame)
        full_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        boxes = engine.detect(frame, min_face_px=100)
        t1 = time.perf_counter()
        detect_t.append(t1 - t0)
        if not boxes:
            total_t.append(t1 - t0)
            missed[name] = missed.get(name, 0) + 1
            continue
        embedding = engine.embed(frame, boxes[0])
        t2 = time.perf_counter()
        match = gallery.identify(embedding)
        t3 = time.perf_counter()
        embed_t.append(t2 - t1)
        identify_t.append(t3 - t2)
        total_t.append(t3 - t0)
        found += 1
        correct += match.student_id == name and match.decision == "accept"
    # identify alone, many times, for a stable figure
    probes = real[rng.integers(len(real), size=2000)]
    ident = []
    for q in probes:
        t0 = time.perf_counter()
        gallery.identify(q)
        ident.append(time.perf_counter() - t0)

    print(f"\n640×480 frames: {frames_n}, face found in {found}, identified correctly (accept) in {correct}")
    if missed:
        print(f"  no face found (by person): {missed}")
    print(f"  detect, whole pyramid   {ms(full_t)}   (reference)")
    print(f"  detect, faces ≥ 100 px  {ms(detect_t)}   (the terminal's window scan)")
    print(f"  landmarks + embedding   {ms(embed_t)}")
    print(f"  identify, {len(gallery)} gallery  {ms(ident)}   (2,000 probes)")
    print(f"  frame → decision        {ms(total_t)}")

    if not args.no_liveness:
        liveness(args.liveness_trials or (1 if args.small else 3))
    if args.no_db:
        return
    server_side(server_n, rng)


def liveness(trials: int) -> None:
    """5. The multi-frame liveness check (canteen.identity.liveness) on approaches of 8 frames:
    attacks = each still portrait printed (with or without glare) or on a screen (moiré), moved
    as a hand moves it (shift, rotation, scale, ±25° tilt in perspective); "live" = the same
    stills with a SYNTHETIC blink (a non-rigid warp of the eye regions). No real live video was
    available: the false-refusal rate is on synthetic blinks, not on pupils."""
    from canteen.identity.liveness import LivenessCheck
    from canteen.identity.liveness_samples import measure, sequences

    check = LivenessCheck.default()
    rows = measure(sequences(trials=trials))
    decided = [r for r in rows if r.faces >= check.min_frames]
    attacks = [r for r in decided if r.kind != "live"]
    live = [r for r in decided if r.kind == "live"]
    undecided = len(rows) - len(decided)
    cost = [r.seconds_per_approach for r in decided]
    per_frame = [r.seconds_per_approach / r.faces for r in decided]
    print(
        f"\nLiveness, multi-frame (68-point landmarks, threshold {check.threshold}), {len(rows)} approaches of 8 frames"
    )
    print(f"  cost per approach       {ms(cost)}   (per frame with a face: {ms(per_frame)})")
    for kind in ("photo", "photo+glare", "screen"):
        group = [r for r in attacks if r.kind == kind]
        refused = sum(not r.live for r in group)
        top = max((r.score for r in group), default=0.0)
        print(f"  attack {kind:12s}     refused {refused}/{len(group)}   (highest score {top:.3f})")
    refused_all = sum(not r.live for r in attacks)
    print(f"  attacks refused         {refused_all}/{len(attacks)} = {refused_all / max(1, len(attacks)):.1%}")
    false_refusals = sum(not r.live for r in live)
    print(
        f"  synthetic blinks refused {false_refusals}/{len(live)} = {false_refusals / max(1, len(live)):.1%}"
        "   (false refusals; synthetic, not real pupils)"
    )
    by_person = {}
    for r in live:
        by_person.setdefault(r.person, []).append(r.live)
    print("  passed blinks by person: " + ", ".join(f"{p} {sum(v)}/{len(v)}" for p, v in sorted(by_person.items())))
    print(f"  approaches with fewer than {check.min_frames} faces found (no verdict): {undecided}")


def server_side(n: int, rng) -> None:
    import numpy as np
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    admin_sql(f"DROP DATABASE IF EXISTS {DB}")
    admin_sql(f"CREATE DATABASE {DB}")
    try:
        call_command("migrate", verbosity=0)
        from datetime import date

        from canteen.identity import crypto, selectors, services
        from canteen.identity.models import FaceConsent, FaceTemplate
        from canteen.org.models import Campus, City, District, Guardian, School, SchoolClass, Student

        city = City.objects.create(name="基准市", code="BENCH")
        district = District.objects.create(city=city, name="基准区", code="BD")
        school = School.objects.create(district=district, name="基准学校", code="BS", stage="primary")
        campus = Campus.objects.create(school=school, name="主校区", code="BSC")
        klass = SchoolClass.objects.create(campus=campus, grade=4, name="四年级", entry_year=2023)
        guardian = Guardian.objects.create(name="家长", phone="13900000000")
        students = Student.objects.bulk_create(
            Student(
                campus=campus,
                school_class=klass,
                student_number=f"B{i:06d}",
                name=f"学生{i}",
                gender="f",
                birth_date=date(2015, 1, 1),
            )
            for i in range(n)
        )
        consents = FaceConsent.objects.bulk_create(
            FaceConsent(
                student=s, guardian=guardian, text_version="2026-11-v1", text_sha256="x" * 64, storage_statement="s"
            )
            for s in students
        )
        vectors = rng.standard_normal((n, 128)).astype(np.float32)
        t = time.perf_counter()
        rows = [
            FaceTemplate(
                student=s,
                consent=c,
                sealed=crypto.seal_embedding(v / np.linalg.norm(v), student_id=str(s.pk)),
                source="staff_capture",
            )
            for s, c, v in zip(students, consents, vectors, strict=True)
        ]
        seal_s = time.perf_counter() - t
        FaceTemplate.objects.bulk_create(rows, batch_size=1000)
        print(f"\nserver side, PostgreSQL, one campus with {n} enrolled students (random templates)")
        print(f"  seal {n} templates (AES-GCM)   {seal_s * 1000:8.1f} ms")
        builds = []
        for _ in range(3):
            selectors.gallery_cache_invalidate(campus_id=campus.pk)
            t = time.perf_counter()
            g = selectors.gallery_for_campus(campus=campus, actor=None, purpose="bench")
            builds.append(time.perf_counter() - t)
        assert len(g) == n
        print(f"  build campus gallery (read + decrypt {n})  {ms(builds)}   (3 runs)")
        cached = []
        for _ in range(50):
            t = time.perf_counter()
            selectors.gallery_for_campus(campus=campus, actor=None, purpose="bench")
            cached.append(time.perf_counter() - t)
        print(f"  cached gallery access (version check + audit row)  {ms(cached)}")
        t = time.perf_counter()
        package = services.terminal_gallery_package(campus=campus, actor=None)
        pack_s = time.perf_counter() - t
        t = time.perf_counter()
        opened = services.gallery_package_open(package)
        open_s = time.perf_counter() - t
        assert len(opened) == n
        print(
            f"  terminal package: {len(package) / 1024:.0f} KiB, build {pack_s * 1000:.1f} ms, open {open_s * 1000:.1f} ms"
        )
    finally:
        connections.close_all()
        admin_sql(f"DROP DATABASE IF EXISTS {DB}")
        _ = settings


if __name__ == "__main__":
    main()
