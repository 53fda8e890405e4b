"""A small world for tests: two districts in one city, two schools each, two campuses per
school, a few students per campus with guardians, and one account per role."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from canteen.org.choices import Relation, Role, SchoolStage
from canteen.org.models import (
    Campus,
    Canteen,
    City,
    District,
    Guardian,
    GuardianLink,
    School,
    SchoolClass,
    ServingWindow,
    Student,
    User,
)


@dataclass
class World:
    city: City
    districts: list[District] = field(default_factory=list)
    schools: list[School] = field(default_factory=list)
    campuses: list[Campus] = field(default_factory=list)
    canteens: list[Canteen] = field(default_factory=list)
    windows: list[ServingWindow] = field(default_factory=list)
    students: list[Student] = field(default_factory=list)
    users: dict[str, User] = field(default_factory=dict)

    def user(self, role: str) -> User:
        return self.users[role]


def make_user(username: str, role: str = "", **scope) -> User:
    user = User(username=username, role=role, display_name=username, **scope)
    user.set_password("pw-" + username)
    user.save()
    return user


def make_world(students_per_campus: int = 3, tag: str = "") -> World:
    """Codes are prefixed with `tag` so several worlds can live in one database."""
    city = City.objects.create(name="测试市", code=f"C{tag}")
    world = World(city=city)
    n = 0
    for d in range(2):
        district = District.objects.create(city=city, name=f"测试{d + 1}区", code=f"{tag}D{d}")
        world.districts.append(district)
        for s in range(2):
            school = School.objects.create(
                district=district,
                name=f"{district.name}第{s + 1}小学",
                code=f"{tag}D{d}S{s}",
                stage=SchoolStage.PRIMARY,
            )
            world.schools.append(school)
            for c in range(2):
                campus = Campus.objects.create(school=school, name=f"校区{c + 1}", code=f"{school.code}C{c}")
                world.campuses.append(campus)
                canteen = Canteen.objects.create(campus=campus, name=f"{campus}食堂", code=f"{campus.code}K")
                world.canteens.append(canteen)
                world.windows.append(
                    ServingWindow.objects.create(canteen=canteen, name="1号窗口", code=f"{canteen.code}W1")
                )
                klass = SchoolClass.objects.create(campus=campus, grade=4, name="四年级1班", entry_year=2023)
                for _i in range(students_per_campus):
                    n += 1
                    student = Student.objects.create(
                        campus=campus,
                        school_class=klass,
                        student_number=f"{tag}{n:05d}",
                        name=f"学生{n}",
                        gender="m" if n % 2 else "f",
                        birth_date=date(2016, 3, 1),
                    )
                    guardian = Guardian.objects.create(name=f"家长{n}", phone=f"139{n:08d}")
                    GuardianLink.objects.create(
                        guardian=guardian, student=student, relation=Relation.MOTHER, is_primary=True
                    )
                    world.students.append(student)
    first_campus = world.campuses[0]
    first_school = first_campus.school
    first_district = first_school.district
    world.users = {
        Role.CITY_REGULATOR: make_user(f"{tag}city", Role.CITY_REGULATOR, city=city),
        Role.DISTRICT_REGULATOR: make_user(f"{tag}district", Role.DISTRICT_REGULATOR, district=first_district),
        Role.SCHOOL_ADMIN: make_user(f"{tag}school", Role.SCHOOL_ADMIN, school=first_school, district=first_district),
        Role.CANTEEN_MANAGER: make_user(
            f"{tag}canteen", Role.CANTEEN_MANAGER, campus=first_campus, school=first_school
        ),
        Role.WINDOW_OPERATOR: make_user(f"{tag}window", Role.WINDOW_OPERATOR, campus=first_campus, school=first_school),
        Role.STOREKEEPER: make_user(f"{tag}store", Role.STOREKEEPER, campus=first_campus, school=first_school),
        Role.SUPPLIER_USER: make_user(f"{tag}supplier", Role.SUPPLIER_USER),
        Role.GUARDIAN: make_user(f"{tag}guardian", Role.GUARDIAN),
    }
    # The guardian account is the parent of the first student only.
    guardian = world.students[0].guardian_links.get().guardian
    guardian.user = world.users[Role.GUARDIAN]
    guardian.save()
    return world
