"""Staff capture in bulk: `canteen identity_enrol_folder --campus CODE --dir PATH --user NAME`.

For a school's photo day: files named by student number (`00017.jpg`, several photos of one child
as `00017_2.jpg`). Only students whose guardian has consented are enrolled; the others are listed
so the school can give them QR cards. Each refused photo is listed with its reason. The photos are
not copied anywhere; delete the folder afterwards."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from canteen.core.errors import DomainError
from canteen.identity import selectors, services
from canteen.identity.models import TemplateSource
from canteen.org.models import Campus, Student, User

SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


class Command(BaseCommand):
    help = "按学号批量采集人脸（需家长已同意）Enrol a folder of photos named by student number"

    def add_arguments(self, parser):
        parser.add_argument("--campus", required=True, help="campus code")
        parser.add_argument("--dir", required=True)
        parser.add_argument("--user", required=True, help="the staff account doing the capture (audited)")

    def handle(self, *args, **opts):
        campus = Campus.objects.filter(code=opts["campus"]).first()
        actor = User.objects.filter(username=opts["user"]).first()
        folder = Path(opts["dir"])
        if campus is None or actor is None or not folder.is_dir():
            raise CommandError("unknown campus, user or folder")
        photos: dict[str, list[Path]] = defaultdict(list)
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in SUFFIXES:
                photos[path.stem.split("_")[0]].append(path)
        enrolled = no_consent = refused = 0
        for number, paths in photos.items():
            student = Student.objects.filter(campus=campus, student_number=number).first()
            if student is None:
                self.stdout.write(f"{number}: 无此学生 no such student")
                refused += 1
                continue
            if not selectors.has_face_consent(student=student):
                self.stdout.write(f"{number}: 未同意，使用二维码/PIN no consent, use QR/PIN")
                no_consent += 1
                continue
            try:
                services.face_enrol(
                    student=student,
                    actor=actor,
                    photos=[p.read_bytes() for p in paths],
                    source=TemplateSource.STAFF_CAPTURE,
                )
                enrolled += 1
            except DomainError as exc:
                self.stdout.write(f"{number}: {exc.code} {exc.message_zh} / {exc.message_en}")
                refused += 1
        self.stdout.write(f"enrolled {enrolled}, no consent {no_consent}, refused {refused}")
