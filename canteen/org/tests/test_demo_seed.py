import pytest
from django.core.management import CommandError, call_command

from canteen.org.choices import Role
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


@pytest.mark.django_db
def test_the_demo_district_has_30_schools_and_51_campuses_and_scoped_logins(capsys):
    call_command("demo_seed", "--students-per-campus", "6", "--only-org")
    out = capsys.readouterr().out
    assert "district" in out
    assert "school01" in out
    assert "canteen2026" in out
    district_admin = User.objects.get(username="district")
    assert School.objects.visible_to(district_admin).count() == 30
    assert Campus.objects.visible_to(district_admin).count() == 51
    school_admin = User.objects.get(username="school01")
    assert School.objects.visible_to(school_admin).count() == 1
    assert Campus.objects.visible_to(school_admin).count() == Campus.objects.filter(school=school_admin.school).count()
    assert Student.objects.count() == 51 * 6
    guardian = User.objects.get(username="guardian01", role=Role.GUARDIAN)
    assert Student.objects.visible_to(guardian).count() == 2
    assert Campus.objects.filter(name="灵均校区").exists()


def _wipe_org():
    User.objects.all().delete()
    for model in (GuardianLink, Guardian, Student, SchoolClass, ServingWindow, Canteen, Campus, School, District, City):
        model.objects.all().delete()


def _snapshot():
    return list(
        Student.objects.order_by("campus__code", "student_number").values_list("campus__code", "name", "birth_date")
    )


@pytest.mark.django_db
def test_the_generator_is_deterministic():
    call_command("demo_seed", "--students-per-campus", "3", "--only-org", "--seed", "7")
    first = _snapshot()
    _wipe_org()
    call_command("demo_seed", "--students-per-campus", "3", "--only-org", "--seed", "7")
    assert _snapshot() == first
    _wipe_org()
    call_command("demo_seed", "--students-per-campus", "3", "--only-org", "--seed", "8")
    assert _snapshot() != first


@pytest.mark.django_db
def test_seeding_twice_is_refused_and_bad_sizes_are_explained():
    call_command("demo_seed", "--students-per-campus", "1", "--only-org", "--schools", "2", "--campuses", "3")
    with pytest.raises(CommandError, match="already has data"):
        call_command("demo_seed", "--only-org")


@pytest.mark.django_db
def test_a_city_of_districts():
    call_command(
        "demo_seed", "--students-per-campus", "1", "--only-org", "--districts", "3", "--schools", "2", "--campuses", "3"
    )
    city = User.objects.get(username="city")
    assert School.objects.visible_to(city).count() == 6
    assert Campus.objects.visible_to(city).count() == 9
