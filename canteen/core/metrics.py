"""Counters that only the process doing the work can count (Prometheus, through `prometheus_client`).

Everything that the database already knows (meals served, outbox backlog, terminals last seen) is
read at scrape time by `canteen.ops.metrics` instead. With several processes (gunicorn workers, the
worker), `PROMETHEUS_MULTIPROC_DIR` makes each process write its counters to a file there, and the
scrape sums them (prometheus_client's multi-process mode); `canteen up` sets it.
"""

from __future__ import annotations

from prometheus_client import Counter

CHECKOUT_REFUSALS = Counter(
    "canteen_checkout_refusals",
    "Checkouts refused at the window, by campus code and reason code",
    ["campus", "reason"],
)
JOB_RUNS = Counter("canteen_worker_job_runs", "Periodic job runs, by job", ["job"])
JOB_FAILURES = Counter("canteen_worker_job_failures", "Periodic job runs that raised, by job", ["job"])
