"""The demo district generator: Jingzhou District (荆州区), 30 schools and 51 campuses, with
generated (not real) people. Deterministic for a given seed; scales to a city of districts.

Other domains add their demo data through `canteen.<domain>.demo.seed(ctx)`, called in
INSTALLED_APPS order after the organisation exists."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from .choices import Gender, Relation, Role, SchoolStage
from .models import (
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

DEMO_PASSWORD = "canteen2026"  # noqa: S105 - printed for the demo; never used outside it

REAL_DISTRICTS = [
    ("荆州区", "421003"),
    ("沙市区", "421002"),
    ("公安县", "421022"),
    ("江陵县", "421024"),
    ("石首市", "421081"),
    ("洪湖市", "421083"),
    ("松滋市", "421087"),
    ("监利市", "421088"),
]
PLACES = [
    "川店",
    "马山",
    "八岭山",
    "李埠",
    "弥市",
    "郢城",
    "纪南",
    "菱角湖",
    "太湖港",
    "西城",
    "东城",
    "城南",
    "荆北",
    "锣场",
    "龙山",
    "九阳",
    "御河",
    "万城",
    "观音垱",
    "岑河",
    "滩桥",
    "关沮",
    "江津",
    "楚都",
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "子梓浩宇轩涵欣怡雨泽晨博文佳俊思嘉一诗可若依奕铭睿瑞昊天心乐彤瑶琪婷磊鑫杰志明华丽静敏强军洋勇艳娜慧颖航宁安然悦语诺萱"
CAMPUS_SUFFIXES = ["本部", "东校区", "西校区", "南校区", "北校区"]

# Jingzhou District spans roughly these coordinates; campuses are scattered inside.
LAT0, LON0 = 30.35, 112.19


@dataclass
class DemoContext:
    rng: random.Random
    today: date
    districts: list[District]
    campuses: list[Campus]
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # (role, username, scope)
    scale: int = 1
    password_hash: str = ""

    def progress(self, iterable, desc: str, total: int | None = None):
        return tqdm(iterable, desc=desc, total=total, unit="", leave=False, dynamic_ncols=True)


def _person_name(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.8 else "")
    return rng.choice(SURNAMES) + given


def _school_plan(rng: random.Random, district_name: str, schools: int, campuses: int) -> list[tuple[str, str, int]]:
    """(name, stage, campus_count) for each school; campus counts add up to `campuses`."""
    plan: list[tuple[str, str, int]] = []
    places = PLACES[:]
    rng.shuffle(places)
    base = district_name.rstrip("区县市")
    specials = [
        (f"{base}实验中学", SchoolStage.JUNIOR),
        (f"{base}实验小学", SchoolStage.PRIMARY),
        (f"{base}区第一中学", SchoolStage.JUNIOR),
    ]
    for i in range(schools):
        if i < len(specials):
            name, stage = specials[i]
        else:
            place = places[(i - len(specials)) % len(places)]
            kind = rng.choice(["中心小学", "小学", "初级中学", "九年一贯制学校", "中学"])
            stage = {
                "中心小学": SchoolStage.PRIMARY,
                "小学": SchoolStage.PRIMARY,
                "初级中学": SchoolStage.JUNIOR,
                "中学": SchoolStage.JUNIOR,
                "九年一贯制学校": SchoolStage.NINE_YEAR,
            }[kind]
            round_no = (i - len(specials)) // len(places)
            name = f"{base}区{place}{kind}" + (f"（{round_no + 1}）" if round_no else "")
        plan.append((name, stage, 1))
    extra = campuses - schools
    for i in range(extra):
        name, stage, count = plan[i % schools]
        plan[i % schools] = (name, stage, count + 1)
    return plan


def _grades_for(stage: str) -> range:
    return {
        SchoolStage.PRIMARY: range(1, 7),
        SchoolStage.JUNIOR: range(7, 10),
        SchoolStage.NINE_YEAR: range(1, 10),
        SchoolStage.SENIOR: range(10, 13),
    }[stage]


def _make_user(ctx: DemoContext, username: str, role: str, name: str, **scope) -> User:
    user = User(username=username, role=role, display_name=name, password=ctx.password_hash, **scope)
    user.save()
    return user


@transaction.atomic
def seed_organisation(
    *, seed: int = 2024, districts: int = 1, schools: int = 30, campuses: int = 51, students_per_campus: int = 80
) -> DemoContext:
    rng = random.Random(seed)
    today = timezone.localdate()
    password_hash = make_password(DEMO_PASSWORD)
    city, _ = City.objects.get_or_create(code="4210", defaults={"name": "荆州市"})
    ctx = DemoContext(rng=rng, today=today, districts=[], campuses=[], scale=districts, password_hash=password_hash)
    school_year = today.year if today.month >= 9 else today.year - 1

    for d in range(districts):
        if d < len(REAL_DISTRICTS):
            d_name, d_code = REAL_DISTRICTS[d]
        else:
            d_name, d_code = f"示范{d + 1}区", f"42{9000 + d}"
        district = District.objects.create(city=city, name=d_name, code=d_code)
        ctx.districts.append(district)
        plan = _school_plan(rng, d_name, schools, campuses)
        bar = tqdm(total=campuses, desc=f"{d_name} 校区 campuses", unit="校区", dynamic_ncols=True)
        for s_index, (s_name, stage, campus_count) in enumerate(plan, start=1):
            school = School.objects.create(
                district=district,
                name=s_name,
                code=f"{d_code}{s_index:03d}",
                stage=stage,
                address=f"湖北省荆州市{d_name}{rng.choice(PLACES)}路{rng.randint(1, 300)}号",
            )
            for c_index in range(campus_count):
                c_name = "灵均校区" if (s_index == 1 and c_index == 1 and d == 0) else CAMPUS_SUFFIXES[c_index % 5]
                campus = Campus.objects.create(
                    school=school,
                    name=c_name,
                    code=f"{school.code}-{c_index + 1}",
                    address=school.address,
                    latitude=round(LAT0 + rng.uniform(-0.12, 0.12) + d * 0.05, 6),
                    longitude=round(LON0 + rng.uniform(-0.15, 0.15) + d * 0.05, 6),
                )
                ctx.campuses.append(campus)
                canteen = Canteen.objects.create(
                    campus=campus,
                    name=f"{s_name}{c_name}食堂",
                    code=f"{campus.code}-C1",
                    licence_number=f"JY3421003{rng.randint(10**6, 10**7 - 1)}",
                )
                ServingWindow.objects.bulk_create(
                    [
                        ServingWindow(canteen=canteen, name=f"{w}号窗口", code=f"{canteen.code}-W{w}")
                        for w in range(1, 5)
                    ]
                )
                _seed_students(ctx, campus, stage, students_per_campus, school_year)
                bar.update(1)
        bar.close()
    _seed_accounts(ctx, city)
    return ctx


def _seed_students(ctx: DemoContext, campus: Campus, stage: str, count: int, school_year: int) -> None:
    rng = ctx.rng
    grades = list(_grades_for(stage))
    per_class = 45
    classes: list[SchoolClass] = []
    for grade in grades:
        share = max(1, count // len(grades))
        for k in range(max(1, -(-share // per_class))):
            classes.append(
                SchoolClass(
                    campus=campus,
                    grade=grade,
                    name=f"{_grade_name(grade)}{k + 1}班",
                    entry_year=school_year - (grade - 1) if grade <= 6 else school_year - (grade - 7),
                )
            )
    SchoolClass.objects.bulk_create(classes)
    by_grade: dict[int, list[SchoolClass]] = {}
    for c in classes:
        by_grade.setdefault(c.grade, []).append(c)
    students, guardians, links = [], [], []
    for i in range(count):
        grade = grades[i % len(grades)]
        school_class = by_grade[grade][(i // len(grades)) % len(by_grade[grade])]
        age = grade + 6
        birth = date(school_year - age, 9, 1) - timedelta(days=rng.randint(0, 364))
        gender = Gender.MALE if rng.random() < 0.51 else Gender.FEMALE
        student = Student(
            campus=campus,
            school_class=school_class,
            student_number=f"{school_year - grade + 1}{i + 1:05d}",
            name=_person_name(rng),
            gender=gender,
            birth_date=birth,
            nutrition_programme=rng.random() < 0.35,
            allergens=["peanut"] if rng.random() < 0.03 else (["milk"] if rng.random() < 0.02 else []),
        )
        students.append(student)
        guardian = Guardian(name=student.name[0] + _person_name(rng)[1:], phone=f"13{rng.randint(10**8, 10**9 - 1)}")
        guardians.append(guardian)
        links.append(
            GuardianLink(
                guardian=guardian,
                student=student,
                relation=rng.choice([Relation.FATHER, Relation.MOTHER, Relation.GRANDPARENT]),
                is_primary=True,
            )
        )
    Student.objects.bulk_create(students, batch_size=2000)
    Guardian.objects.bulk_create(guardians, batch_size=2000)
    GuardianLink.objects.bulk_create(links, batch_size=2000)


def _grade_name(grade: int) -> str:
    names = {
        1: "一年级",
        2: "二年级",
        3: "三年级",
        4: "四年级",
        5: "五年级",
        6: "六年级",
        7: "七年级",
        8: "八年级",
        9: "九年级",
        10: "高一",
        11: "高二",
        12: "高三",
    }
    return names[grade]


def _seed_accounts(ctx: DemoContext, city: City) -> None:
    district = ctx.districts[0]
    campus = ctx.campuses[0]
    school = campus.school
    _make_user(ctx, "city", Role.CITY_REGULATOR, "市教育局监管员", city=city)
    _make_user(ctx, "district", Role.DISTRICT_REGULATOR, "区教育局监管员", district=district)
    ctx.logins += [
        ("市级监管 city regulator", "city", city.name),
        ("区级监管 district regulator", "district", district.name),
    ]
    for n, other in enumerate(School.objects.filter(district=district).order_by("code")[:3], start=1):
        _make_user(ctx, f"school{n:02d}", Role.SCHOOL_ADMIN, f"{other.name}管理员", school=other, district=district)
        ctx.logins.append(("学校管理员 school admin", f"school{n:02d}", other.name))
    for username, role, label, title in [
        ("canteen01", Role.CANTEEN_MANAGER, "食堂负责人 canteen manager", "食堂负责人"),
        ("window01", Role.WINDOW_OPERATOR, "窗口操作员 window operator", "窗口操作员"),
        ("store01", Role.STOREKEEPER, "库管员 storekeeper", "库管员"),
    ]:
        _make_user(ctx, username, role, f"{campus.name}{title}", campus=campus, school=school, district=district)
        ctx.logins.append((label, username, str(campus)))
    _make_user(ctx, "supplier01", Role.SUPPLIER_USER, "供应商联系人")
    ctx.logins.append(("供应商 supplier", "supplier01", "—"))
    # A guardian with two children at the first campus (for transfers between children).
    children = list(
        Student.objects.filter(campus__school__district=district).order_by("campus__code", "student_number")[:2]
    )
    user = _make_user(ctx, "guardian01", Role.GUARDIAN, "家长（演示）")
    guardian = GuardianLink.objects.get(student=children[0], is_primary=True).guardian
    guardian.user = user
    guardian.save(update_fields=["user", "updated_at"])
    GuardianLink.objects.filter(student=children[1]).delete()
    GuardianLink.objects.create(guardian=guardian, student=children[1], relation=Relation.MOTHER, is_primary=True)
    ctx.logins.append(("家长 guardian", "guardian01", "、".join(c.name for c in children)))
    User.objects.create_superuser("admin", password=DEMO_PASSWORD, display_name="系统管理员")
    ctx.logins.append(("系统管理员 superuser", "admin", "—"))
