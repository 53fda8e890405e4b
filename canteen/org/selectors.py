"""Reads of the organisation, always scoped to the actor."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from .choices import StudentStatus
from .models import Campus, Canteen, District, Guardian, School, ServingWindow, Student, User


def districts_visible(*, actor: User) -> QuerySet[District]:
    return District.objects.visible_to(actor).select_related("city")


def schools_visible(*, actor: User) -> QuerySet[School]:
    return (
        School.objects.visible_to(actor)
        .select_related("district")
        .annotate(
            campus_count=Count("campuses", distinct=True),
            student_count=Count(
                "campuses__students", filter=Q(campuses__students__status=StudentStatus.ENROLLED), distinct=True
            ),
        )
    )


def campuses_visible(*, actor: User) -> QuerySet[Campus]:
    return Campus.objects.visible_to(actor).select_related("school", "school__district")


def canteens_visible(*, actor: User) -> QuerySet[Canteen]:
    return Canteen.objects.visible_to(actor).select_related("campus", "campus__school")


def windows_visible(*, actor: User) -> QuerySet[ServingWindow]:
    return ServingWindow.objects.visible_to(actor).select_related("canteen", "canteen__campus")


def students_visible(*, actor: User, search: str = "") -> QuerySet[Student]:
    qs = Student.objects.visible_to(actor).select_related("campus", "campus__school", "school_class")
    if search:
        qs = qs.filter(Q(name__contains=search) | Q(student_number__startswith=search))
    return qs


def guardians_visible(*, actor: User) -> QuerySet[Guardian]:
    return Guardian.objects.visible_to(actor)


def children_of(*, guardian_user: User) -> QuerySet[Student]:
    return Student.objects.filter(guardian_links__guardian__user=guardian_user).select_related(
        "campus", "campus__school", "school_class"
    )


def org_overview(*, actor: User) -> dict[str, int]:
    """Counts for the home page: what this account oversees."""
    return {
        "districts": District.objects.visible_to(actor).count(),
        "schools": School.objects.visible_to(actor).count(),
        "campuses": Campus.objects.visible_to(actor).count(),
        "canteens": Canteen.objects.visible_to(actor).count(),
        "students": Student.objects.visible_to(actor).filter(status=StudentStatus.ENROLLED).count(),
    }
