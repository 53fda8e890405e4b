import pytest
from django.db import transaction

from canteen.core.events import _subscribers, publish, subscribe
from canteen.core.models import OutboxEvent


@pytest.fixture
def recorder():
    seen = []

    @subscribe("test.happened")
    def handler(event):
        seen.append(event)

    yield seen
    _subscribers["test.happened"].remove(handler)


@pytest.mark.django_db
def test_an_event_is_stored_and_dispatched_in_the_same_transaction(recorder):
    with transaction.atomic():
        event = publish("test.happened", {"meal": 1})
    assert [e.id for e in recorder] == [event.id]
    assert OutboxEvent.objects.get(pk=event.id).payload == {"meal": 1}


@pytest.mark.django_db
def test_a_rolled_back_change_leaves_no_event(recorder):
    def change_that_crashes():
        with transaction.atomic():
            publish("test.happened", {"meal": 2})
            raise RuntimeError("crash after the event")

    with pytest.raises(RuntimeError):
        change_that_crashes()
    assert not OutboxEvent.objects.filter(topic="test.happened").exists()


@pytest.mark.django_db(transaction=True)
def test_publishing_outside_a_transaction_is_a_bug():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        publish("test.happened", {})
