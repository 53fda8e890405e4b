import pytest

from canteen.supervision.choices import CaseStatus, Flag, InspectionStatus
from canteen.supervision.models import CampusDim, Case, Feedback, Inspection

pytestmark = pytest.mark.django_db


def test_demo_seed_leaves_cases_in_every_state_inspections_and_feedback():
    from canteen.org.demo import seed_organisation
    from canteen.supervision import demo

    ctx = seed_organisation(schools=4, campuses=6, students_per_campus=2)
    demo.seed(ctx)
    statuses = set(Case.objects.values_list("status", flat=True))
    assert {
        CaseStatus.OPENED,
        CaseStatus.ASSIGNED,
        CaseStatus.RESPONDED,
        CaseStatus.ACCEPTED,
        CaseStatus.CLOSED,
    } <= statuses
    assert Case.objects.filter(return_count=1, status=CaseStatus.ASSIGNED).exists()
    assert Case.objects.filter(flag=Flag.RED).exists()
    assert Inspection.objects.filter(status=InspectionStatus.DONE, items__case__isnull=False).exists()
    assert Inspection.objects.filter(kind="random").count() == 3
    assert Feedback.objects.filter(case__isnull=False).count() == 1
    assert Feedback.objects.exclude(answer="").count() == 1
    assert CampusDim.objects.count() == 6
