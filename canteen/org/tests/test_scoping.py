"""Every role sees exactly its own part of the district, by default."""

import pytest

from canteen.org import selectors
from canteen.org.choices import Role
from canteen.org.models import Campus, Canteen, Guardian, School, Student, User


@pytest.mark.django_db
class TestEachRoleSeesOnlyItsOwnRows:
    def test_city_regulator_sees_every_district(self, world):
        user = world.user(Role.CITY_REGULATOR)
        assert School.objects.visible_to(user).count() == 4
        assert Student.objects.visible_to(user).count() == len(world.students)

    def test_district_regulator_sees_only_their_district(self, world):
        user = world.user(Role.DISTRICT_REGULATOR)
        schools = School.objects.visible_to(user)
        assert {s.district_id for s in schools} == {world.districts[0].pk}
        assert schools.count() == 2
        assert Student.objects.visible_to(user).count() == len(world.students) // 2

    def test_school_admin_never_sees_another_school(self, world):
        user = world.user(Role.SCHOOL_ADMIN)
        assert list(School.objects.visible_to(user)) == [world.schools[0]]
        assert set(Campus.objects.visible_to(user)) == set(world.campuses[:2])
        assert all(s.campus.school_id == world.schools[0].pk for s in Student.objects.visible_to(user))
        other = world.students[-1]
        assert not Student.objects.visible_to(user).filter(pk=other.pk).exists()

    @pytest.mark.parametrize("role", [Role.CANTEEN_MANAGER, Role.WINDOW_OPERATOR, Role.STOREKEEPER])
    def test_campus_staff_see_their_campus_only(self, world, role):
        user = world.user(role)
        assert list(Campus.objects.visible_to(user)) == [world.campuses[0]]
        assert list(Canteen.objects.visible_to(user)) == [world.canteens[0]]
        assert {s.campus_id for s in Student.objects.visible_to(user)} == {world.campuses[0].pk}

    def test_guardian_sees_only_their_own_child(self, world):
        user = world.user(Role.GUARDIAN)
        assert list(Student.objects.visible_to(user)) == [world.students[0]]
        assert list(Guardian.objects.visible_to(user)) == [user.guardian]
        assert list(School.objects.visible_to(user)) == [world.schools[0]]

    def test_supplier_sees_no_pupils_or_schools(self, world):
        user = world.user(Role.SUPPLIER_USER)
        assert Student.objects.visible_to(user).count() == 0
        assert School.objects.visible_to(user).count() == 0

    def test_an_account_without_role_or_inactive_sees_nothing(self, world):
        nobody = User.objects.create_user("nobody", password="x")
        assert Student.objects.visible_to(nobody).count() == 0
        admin = world.user(Role.SCHOOL_ADMIN)
        admin.is_active = False
        assert Student.objects.visible_to(admin).count() == 0

    def test_superuser_sees_everything(self, world):
        root = User.objects.create_superuser("root", password="x")
        assert Student.objects.visible_to(root).count() == len(world.students)


@pytest.mark.django_db
def test_the_api_is_scoped_too(world, api_client):
    api_client.force_authenticate(world.user(Role.SCHOOL_ADMIN))
    codes = [s["code"] for s in api_client.get("/api/v1/org/schools/").json()["results"]]
    assert codes == [world.schools[0].code]
    other_student = world.students[-1]
    assert api_client.get(f"/api/v1/org/students/{other_student.pk}/").status_code == 404
    api_client.force_authenticate(world.user(Role.GUARDIAN))
    names = [s["name"] for s in api_client.get("/api/v1/org/students/").json()["results"]]
    assert names == [world.students[0].name]


@pytest.mark.django_db
def test_overview_counts_follow_the_scope(world):
    assert selectors.org_overview(actor=world.user(Role.DISTRICT_REGULATOR))["campuses"] == 4
    assert selectors.org_overview(actor=world.user(Role.SCHOOL_ADMIN))["campuses"] == 2


@pytest.mark.django_db
def test_a_guardian_home_page_lists_only_their_children(world, client):
    user = world.user(Role.GUARDIAN)
    client.force_login(user)
    html = client.get("/").content.decode()
    assert world.students[0].name in html
    assert world.students[1].name not in html
