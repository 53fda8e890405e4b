"""The Prometheus endpoint (`/metrics`): closed unless the scraper shows the bearer token
(CANTEEN_METRICS_TOKEN) or comes from an allowed network (CANTEEN_METRICS_ALLOW).

Figures the database holds are read at scrape time, so every web process answers the same; the
counters of `canteen.core.metrics` come from this process or, in multi-process mode, from every
process's files. Labels carry campus and terminal codes only: nothing about a pupil.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count, Min
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from canteen.core.clientip import client_ip


class DatabaseCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        from canteen.consumption.models import MealRecord, RecordStatus, Terminal
        from canteen.core.models import OutboxEvent
        from canteen.org.models import Campus

        codes = dict(Campus.objects.values_list("id", "code"))
        served = GaugeMetricFamily(
            "canteen_checkouts_today", "Meals served today (local date), by campus code", labels=["campus"]
        )
        today = MealRecord.objects.filter(served_on=timezone.localdate(), status=RecordStatus.SERVED)
        for campus_id, n in today.values_list("campus_id").annotate(n=Count("id")).values_list("campus_id", "n"):
            served.add_metric([codes.get(campus_id, str(campus_id))], n)
        yield served

        backlog = OutboxEvent.objects.filter(relayed_at__isnull=True).aggregate(
            n=Count("id"), oldest=Min("occurred_at")
        )
        yield GaugeMetricFamily("canteen_outbox_backlog", "Outbox events not yet relayed", value=backlog["n"])
        age = (timezone.now() - backlog["oldest"]).total_seconds() if backlog["oldest"] else 0.0
        yield GaugeMetricFamily("canteen_outbox_oldest_age_seconds", "Age of the oldest unrelayed event", value=age)

        seen = GaugeMetricFamily(
            "canteen_terminal_last_seen_timestamp_seconds",
            "When each active window terminal last called the server (Unix time; 0: never)",
            labels=["campus", "terminal"],
        )
        for campus_id, code, at in Terminal.objects.filter(is_active=True).values_list(
            "campus_id", "code", "last_seen_at"
        ):
            seen.add_metric([codes.get(campus_id, str(campus_id)), code], at.timestamp() if at else 0.0)
        yield seen


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        import canteen.core.metrics  # noqa: F401 - registers the counters with the default registry

        registry.register(_Forward(REGISTRY))
    registry.register(DatabaseCollector())
    return registry


class _Forward(Collector):
    """This process's own counters (no multi-process directory)."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self):
        return self.source.collect()


def _allowed(request: HttpRequest) -> bool:
    token = settings.CANTEEN_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].encode(), token.encode()):
        return True
    networks = settings.CANTEEN_METRICS_ALLOW
    if networks:
        try:
            address = ipaddress.ip_address(client_ip(request))
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(net, strict=False) for net in networks)
    return False


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
