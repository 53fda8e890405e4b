"""A recall that acts, from the batch to the pupils: the lot's stock is quarantined on every
campus and cannot be issued, each affected campus gets a supervision case, the public page
shows a banner, the notification service gets `trace.recall_started` with the pupils who ate
it, the school sees who they are (audited), and the recall closes only when every campus
confirmed."""

from __future__ import annotations

import uuid

import pytest

from canteen.core.audit import AuditEvent
from canteen.core.errors import Forbidden
from canteen.core.models import OutboxEvent
from canteen.org.choices import Role
from canteen.procurement import services as proc
from canteen.procurement.choices import MealKind
from canteen.procurement.errors import BatchQuarantined
from canteen.procurement.models import Batch
from canteen.supervision.models import Case
from canteen.trace import recalls, selectors, services
from canteen.trace.choices import RecallStatus
from canteen.trace.errors import RecallExists, RecallNotClosable

from .conftest import deliver_and_accept

pytestmark = pytest.mark.django_db


def _serve_lunch(world, students) -> None:
    """Two pupils of the first campus take today's lunch at the window (consumption's checkout)."""
    from canteen.consumption import services as consumption
    from canteen.consumption.tests.conftest import fund, serve_all_day

    serve_all_day(world.campuses[0])
    for student in students:
        fund(student, "20.00")
        consumption.checkout_record(
            student=student,
            method="manual",
            idempotency_key=f"recall-{uuid.uuid4()}",
            actor=world.user(Role.WINDOW_OPERATOR),
            window=world.windows[0],
        )


def test_a_recall_from_batch_to_pupils(journey, world, client, api_client):
    first_manager = world.user(Role.CANTEEN_MANAGER)
    first_keeper = world.user(Role.STOREKEEPER)
    ate = world.students[:2]
    _serve_lunch(world, ate)
    # The same pork lot also went to the school's second campus, which still has it in store.
    far = world.campuses[1]
    deliver_and_accept(
        world, campus=far, supplier=journey.supplier, items=(journey.extra["cabbage"], journey.extra["pork"])
    )
    far_manager = world.user(Role.CANTEEN_MANAGER)
    regulator = world.user(Role.DISTRICT_REGULATOR)

    recall = services.recall_raise(actor=regulator, code=journey.pork_code, reason="兽药残留超标")

    # 1. Stock quarantined on both campuses; issuing it is refused with a clear message.
    pork = Batch.objects.filter(item=journey.extra["pork"])
    assert pork.count() == 2
    assert all(b.quarantined_at is not None for b in pork)
    assert not Batch.objects.filter(item=journey.extra["cabbage"], quarantined_at__isnull=False).exists()
    with pytest.raises(BatchQuarantined) as refused:
        proc.stock_issue(
            actor=first_keeper,
            campus=world.campuses[0],
            item=journey.extra["pork"],
            quantity="1",
            day=journey.day,
            meal_kind=MealKind.DINNER,
        )
    assert refused.value.message("zh").startswith("该批次已被召回封存")
    assert refused.value.details["quarantined"][0]["batch"] == "PK-7788"
    proc.stock_issue(  # the cabbage is not part of the recall
        actor=first_keeper,
        campus=world.campuses[0],
        item=journey.extra["cabbage"],
        quantity="1",
        day=journey.day,
        meal_kind=MealKind.DINNER,
    )

    # 2. One supervision case per affected campus, through supervision's services.
    cases = Case.objects.filter(source="recall")
    assert {c.campus_id for c in cases} == {world.campuses[0].pk, far.pk}
    assert {str(c.pk) for c in cases} == {str(rc.case_id) for rc in recall.campuses.all()}

    # 3. The notification service gets the recall, with the pupils who ate it (ids only).
    event = OutboxEvent.objects.get(topic="trace.recall_started")
    assert event.payload == {
        "recall_id": str(recall.pk),
        "batch_ids": sorted(event.payload["batch_ids"]),
        "campus_ids": event.payload["campus_ids"],
        "student_ids": sorted(str(s.pk) for s in ate),
        "reason": "兽药残留超标",
    }
    assert set(event.payload["batch_ids"]) == {str(b.pk) for b in pork}
    assert set(event.payload["campus_ids"]) == {str(world.campuses[0].pk), str(far.pk)}

    # 4. The banner on the public page of every batch of the lot, not on the cabbage's.
    for code in {b.trace_code.code for b in pork}:
        assert 'data-testid="recall-banner"' in client.get(f"/t/{code}").content.decode()
    assert 'data-testid="recall-banner"' not in client.get(f"/t/{journey.cabbage_code.code}").content.decode()

    # 5. The pupils, for the school (audited); another school's manager sees only its own campus.
    school = selectors.recall_pupils(actor=world.user(Role.SCHOOL_ADMIN), recall=recall)
    assert [p["name"] for p in school] == [s.name for s in ate]
    assert school[0]["meals"][0]["meal_kind"] == "lunch"
    assert AuditEvent.objects.filter(action="trace.recall_pupils_viewed").count() == 1
    assert selectors.recall_pupils(actor=far_manager, recall=recall) == []
    assert selectors.recall_pupils(actor=first_keeper, recall=recall) == []
    api_client.force_authenticate(world.user(Role.GUARDIAN))
    assert api_client.get(f"/api/v1/trace/recalls/{recall.pk}/pupils/").status_code == 404
    api_client.force_authenticate(first_manager)
    listed = api_client.get(f"/api/v1/trace/recalls/{recall.pk}/pupils/").json()["pupils"]
    assert {p["student_id"] for p in listed} == {str(s.pk) for s in ate}
    client.force_login(world.user(Role.SCHOOL_ADMIN))
    page = client.get(f"/trace/recall/{journey.pork_code.code}/").content.decode()
    assert 'data-testid="recall-pupils"' in page
    assert ate[0].name in page

    # 6. One open recall per lot.
    with pytest.raises(RecallExists):
        services.recall_raise(actor=regulator, code=journey.pork_code, reason="again")

    # 7. Closing needs every campus's confirmation, each by its own staff (or a regulator).
    with pytest.raises(RecallNotClosable) as pending:
        recalls.recall_close(actor=regulator, recall=recall)
    assert len(pending.value.details["pending_campus_ids"]) == 2
    with pytest.raises(Forbidden):
        recalls.recall_confirm(actor=first_manager, recall=recall, campus_id=far.pk)
    recalls.recall_confirm(actor=first_manager, recall=recall, campus_id=world.campuses[0].pk, note="已封存3kg")
    api_client.force_authenticate(far_manager)
    confirmed = api_client.post(f"/api/v1/trace/recalls/{recall.pk}/campuses/{far.pk}/confirm/", {}, format="json")
    assert confirmed.status_code == 200
    with pytest.raises(Forbidden):
        recalls.recall_close(actor=first_manager, recall=recall)
    api_client.force_authenticate(regulator)
    closed = api_client.post(f"/api/v1/trace/recalls/{recall.pk}/close/")
    assert closed.status_code == 200
    recall.refresh_from_db()
    assert recall.status == RecallStatus.CLOSED
    public = client.get(f"/t/{journey.pork_code.code}").content.decode()
    assert 'data-testid="recall-banner"' in public
    assert 'data-testid="recall-closed"' in public
    # Closing the recall does not put recalled goods back on the shelf.
    assert all(b.quarantined_at is not None for b in Batch.objects.filter(item=journey.extra["pork"]))


def test_recall_page_raises_the_recall_and_says_what_it_did(journey, client):
    client.force_login(journey.world.user(Role.DISTRICT_REGULATOR))
    response = client.post(f"/trace/recall/{journey.pork_code.code}/", {"reason": "抽检不合格"}, follow=True)
    html = response.content.decode()
    assert 'data-testid="recall-confirmations"' in html
    assert "lunch" not in html.split('data-testid="recall-campuses"')[1].split("</table>")[0]  # labels, not codes
    assert Case.objects.filter(source="recall").count() == 1
