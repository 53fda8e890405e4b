"""The organisation: city → district → school → campus → canteen → serving window;
students, their guardians, and staff accounts with one role each."""

from __future__ import annotations

from datetime import date

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models

from canteen.core.models import BaseModel
from canteen.core.scoping import Scope, ScopedQuerySet

from .choices import CAMPUS_ROLES, Gender, Relation, Role, SchoolStage, StudentStatus


class City(BaseModel):
    name = models.CharField(max_length=60)
    code = models.CharField(max_length=12, unique=True)

    scope_lookups = {"city": "id"}

    class Meta:
        verbose_name = "城市 City"
        verbose_name_plural = "城市 Cities"

    def __str__(self) -> str:
        return self.name


class District(BaseModel):
    city = models.ForeignKey(City, on_delete=models.PROTECT, related_name="districts")
    name = models.CharField(max_length=60)
    code = models.CharField(max_length=12, unique=True)

    scope_lookups = {"city": "city_id", "district": "id"}

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class School(BaseModel):
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="schools")
    name = models.CharField(max_length=100)
    code = models.CharField(max_length=20, unique=True)
    stage = models.CharField(max_length=20, choices=SchoolStage.choices)
    address = models.CharField(max_length=200, blank=True)

    scope_lookups = {
        "city": "district__city_id",
        "district": "district_id",
        "school": "id",
        "campus": "campuses__id",
        "guardian": "campuses__students__guardian_links__guardian__user_id",
    }

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Campus(BaseModel):
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="campuses")
    name = models.CharField(max_length=100)
    code = models.CharField(max_length=24, unique=True)
    address = models.CharField(max_length=200, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)

    scope_lookups = {
        "city": "school__district__city_id",
        "district": "school__district_id",
        "school": "school_id",
        "campus": "id",
        "guardian": "students__guardian_links__guardian__user_id",
    }

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "campuses"

    def __str__(self) -> str:
        return f"{self.school.name}·{self.name}"


class Canteen(BaseModel):
    campus = models.ForeignKey(Campus, on_delete=models.PROTECT, related_name="canteens")
    name = models.CharField(max_length=100)
    code = models.CharField(max_length=28, unique=True)
    licence_number = models.CharField("食品经营许可证号", max_length=40, blank=True)

    scope_lookups = {
        "city": "campus__school__district__city_id",
        "district": "campus__school__district_id",
        "school": "campus__school_id",
        "campus": "campus_id",
        "guardian": "campus__students__guardian_links__guardian__user_id",
    }

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class ServingWindow(BaseModel):
    canteen = models.ForeignKey(Canteen, on_delete=models.PROTECT, related_name="windows")
    name = models.CharField(max_length=40)
    code = models.CharField(max_length=32, unique=True)

    scope_lookups = {
        "city": "canteen__campus__school__district__city_id",
        "district": "canteen__campus__school__district_id",
        "school": "canteen__campus__school_id",
        "campus": "canteen__campus_id",
    }

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.canteen.name} {self.name}"


class SchoolClass(BaseModel):
    campus = models.ForeignKey(Campus, on_delete=models.PROTECT, related_name="classes")
    grade = models.PositiveSmallIntegerField(help_text="1–6 primary, 7–9 junior, 10–12 senior")
    name = models.CharField(max_length=40)
    entry_year = models.PositiveSmallIntegerField()

    scope_lookups = {
        "city": "campus__school__district__city_id",
        "district": "campus__school__district_id",
        "school": "campus__school_id",
        "campus": "campus_id",
        "guardian": "students__guardian_links__guardian__user_id",
    }

    class Meta:
        ordering = ["grade", "name"]
        verbose_name_plural = "school classes"

    def __str__(self) -> str:
        return self.name


class Student(BaseModel):
    campus = models.ForeignKey(Campus, on_delete=models.PROTECT, related_name="students")
    school_class = models.ForeignKey(SchoolClass, on_delete=models.PROTECT, related_name="students")
    student_number = models.CharField(max_length=32)
    name = models.CharField(max_length=40)
    gender = models.CharField(max_length=1, choices=Gender.choices)
    birth_date = models.DateField()
    status = models.CharField(max_length=12, choices=StudentStatus.choices, default=StudentStatus.ENROLLED)
    # Covered by the rural compulsory-education nutrition improvement programme (营养改善计划).
    nutrition_programme = models.BooleanField(default=False)
    allergens = models.JSONField(default=list, blank=True, help_text="allergen group codes")
    diet_notes = models.CharField(max_length=200, blank=True)
    boarding = models.BooleanField(default=False, help_text="寄宿生 boards at school")

    scope_lookups = {
        "city": "campus__school__district__city_id",
        "district": "campus__school__district_id",
        "school": "campus__school_id",
        "campus": "campus_id",
        "guardian": "guardian_links__guardian__user_id",
    }

    class Meta:
        ordering = ["student_number"]
        constraints = [
            models.UniqueConstraint(fields=["campus", "student_number"], name="student_number_unique_per_campus")
        ]
        # student_number alone: the roster import looks pupils up by it across the district.
        indexes = [
            models.Index(fields=["campus", "status"]),
            models.Index(fields=["student_number"], name="student_number_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.student_number}）"

    def age_on(self, day: date) -> int:
        years = day.year - self.birth_date.year
        return years - ((day.month, day.day) < (self.birth_date.month, self.birth_date.day))


class UserQuerySet(ScopedQuerySet):
    pass


class ScopedUserManager(UserManager.from_queryset(UserQuerySet)):
    pass


class User(AbstractUser):
    """One role per account; the org unit fields say where that role applies."""

    display_name = models.CharField(max_length=60, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    role = models.CharField(max_length=24, choices=Role.choices, blank=True)
    city = models.ForeignKey(City, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    district = models.ForeignKey(District, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    school = models.ForeignKey(School, null=True, blank=True, on_delete=models.PROTECT, related_name="staff")
    campus = models.ForeignKey(Campus, null=True, blank=True, on_delete=models.PROTECT, related_name="staff")

    objects = ScopedUserManager()

    scope_lookups = {
        "city": "district__city_id",
        "district": "district_id",
        "school": "school_id",
        "campus": "campus_id",
        "guardian": "id",
        "supplier": "id",
    }

    def __str__(self) -> str:
        return self.display_name or self.username

    def access_scope(self) -> Scope:
        """What this account may see; the base of every selector's filtering."""
        role = self.role
        if role == Role.CITY_REGULATOR:
            return Scope("city", self.city_id)
        if role == Role.DISTRICT_REGULATOR:
            return Scope("district", self.district_id)
        if role == Role.SCHOOL_ADMIN:
            return Scope("school", self.school_id)
        if role in CAMPUS_ROLES:
            return Scope("campus", self.campus_id)
        if role == Role.GUARDIAN:
            return Scope("guardian", self.id)
        if role == Role.SUPPLIER_USER:
            return Scope("supplier", self.id)
        return Scope("none")


class Guardian(BaseModel):
    user = models.OneToOneField(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="guardian")
    name = models.CharField(max_length=40)
    phone = models.CharField(max_length=20)

    scope_lookups = {
        "city": "links__student__campus__school__district__city_id",
        "district": "links__student__campus__school__district_id",
        "school": "links__student__campus__school_id",
        "campus": "links__student__campus_id",
        "guardian": "user_id",
    }

    class Meta:
        # The roster import and guardian binding find a guardian by mobile.
        indexes = [models.Index(fields=["phone"], name="guardian_phone_idx")]

    def __str__(self) -> str:
        return self.name


class GuardianLink(BaseModel):
    guardian = models.ForeignKey(Guardian, on_delete=models.CASCADE, related_name="links")
    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="guardian_links")
    relation = models.CharField(max_length=12, choices=Relation.choices)
    is_primary = models.BooleanField(default=False)

    scope_lookups = {
        "city": "student__campus__school__district__city_id",
        "district": "student__campus__school__district_id",
        "school": "student__campus__school_id",
        "campus": "student__campus_id",
        "guardian": "guardian__user_id",
    }

    class Meta:
        constraints = [models.UniqueConstraint(fields=["guardian", "student"], name="guardian_student_unique")]

    def __str__(self) -> str:
        return f"{self.guardian} → {self.student}"


class RosterImportStatus(models.TextChoices):
    PREVIEWED = "previewed", "待确认 Awaiting confirmation"
    REJECTED = "rejected", "有错误 Has errors"
    APPLYING = "applying", "导入中 Importing"
    APPLIED = "applied", "已导入 Imported"
    DRY_RUN = "dry_run", "试运行 Dry run"
    FAILED = "failed", "失败 Failed"


class RosterImport(BaseModel):
    """One upload of a roster file: who sent what, what the preview found, what was written.
    The checked rows are kept (compressed) only until they are applied; the file's hash stays."""

    actor = models.ForeignKey("org.User", null=True, on_delete=models.SET_NULL, related_name="+")
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    # Null for a district-wide import.
    school = models.ForeignKey(School, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    filename = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField(default=0)
    content = models.BinaryField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=RosterImportStatus.choices)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    warning_count = models.PositiveIntegerField(default=0)
    # {"file_errors": [...], "rows": [{"row": n, "student_number", "errors": [...], "warnings": [...]}]}
    report = models.JSONField(default=dict, blank=True)
    # {"students_created", "students_updated", "students_unchanged", "guardians_created", "links_created", ...}
    counts = models.JSONField(default=dict, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    scope_lookups = {"city": "district__city_id", "district": "district_id", "school": "school_id"}

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display()})"


class BindingCode(BaseModel):
    """The code printed for a pupil's family: with a one-time code sent to the guardian's mobile it
    binds a guardian account to the pupil. Reprinting gives the same code; revoking makes a new one."""

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="binding_codes")
    code = models.CharField(max_length=16, unique=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    scope_lookups = {
        "city": "student__campus__school__district__city_id",
        "district": "student__campus__school__district_id",
        "school": "student__campus__school_id",
        "campus": "student__campus_id",
    }

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["student"], condition=models.Q(revoked_at__isnull=True), name="one_active_binding_code"
            )
        ]

    def __str__(self) -> str:
        return f"binding code of {self.student_id}"


class BindingChallenge(BaseModel):
    """A one-time code sent to a mobile to confirm a binding. Only the code's hash is stored."""

    binding_code = models.ForeignKey(BindingCode, on_delete=models.CASCADE, related_name="challenges")
    mobile = models.CharField(max_length=20, db_index=True)
    guardian_name = models.CharField(max_length=40, blank=True)
    relation = models.CharField(max_length=12, choices=Relation.choices, default=Relation.OTHER)
    code_hash = models.CharField(max_length=128)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"binding challenge {self.pk}"
