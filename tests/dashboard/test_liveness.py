"""Sync health's scheduler and workers: beat's last tick, the workers seen, each queue's waiting
tasks, and the warning that replaces a next scheduled run nothing will start.

Heartbeats are rows as beat and the workers write them (etl.liveness); times are relative to
``timezone.now()``, so the tests hold on any day.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from celery import Celery
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connectors.models import Connection
from connectors.registry import platforms
from dashboard.selectors.liveness import liveness_get
from dashboard.selectors.sync import sync_health_get
from etl.liveness import beat_tick_record, queue_lengths, worker_seen_record
from etl.models import BeatHeartbeat, WorkerHeartbeat
from etl.pipeline import sync_chain
from etl.queues import declared_queues
from etl.tasks import prune_task
from tenancy.models import Organization
from tests.dashboard import PASSWORD, make_connection, make_org, make_user

# Nothing here is specific to PostgreSQL: `make test` runs it on the embedded default (SQLite) too.
pytestmark = [pytest.mark.embedded, pytest.mark.django_db]

SYNC_HEALTH = reverse("dashboard:sync_health")
ALL_QUEUES = ["maintenance", "sync", *(f"sync.{p}" for p in platforms())]


@pytest.fixture
def org() -> Organization:
    return make_org("Northwind")


@pytest.fixture
def conn(org: Organization) -> Connection:
    return make_connection(org, platform="linkedin_ads", account_id="508000001", name="Northwind DACH")


def beat_ticked(seconds_ago: float, *, hostname: str = "scheduler-1", stopped: bool = False) -> None:
    moment = timezone.now() - timedelta(seconds=seconds_ago)
    BeatHeartbeat.objects.update_or_create(
        hostname=hostname,
        defaults={
            "pid": 4242,
            "started_at": moment - timedelta(hours=1),
            "ticked_at": moment,
            "stopped_at": moment if stopped else None,
        },
    )


def worker_seen(seconds_ago: float, queues: list[str], *, hostname: str = "celery@worker-1") -> None:
    worker_seen_record(
        hostname=hostname,
        queues=queues,
        concurrency=2,
        now=timezone.now() - timedelta(seconds=seconds_ago),
        started=True,
    )


def next_run_warning(org: Organization, conn: Connection, now: datetime | None = None) -> str:
    health = sync_health_get(organization=org, now=now)
    (item,) = [c for c in health.connections if c.connection.pk == conn.pk]
    assert item.next_run_at is not None  # the schedule is installed (migrate did it)
    return item.schedule_warning


class TestInProcess:
    """The embedded default without run_embedded: tasks run in-process, nothing on a schedule."""

    def test_every_next_run_says_it_will_not_happen(self, org: Organization, conn: Connection) -> None:
        beat_ticked(1)  # a row left by an earlier run_embedded does not make a scheduler
        warning = next_run_warning(org, conn)
        assert warning.startswith("No scheduler is running (tasks run in-process, without a broker)")
        assert "python manage.py run_embedded" in warning

    def test_the_page_shows_the_warning_in_the_next_run_column(
        self, org: Organization, conn: Connection
    ) -> None:
        user = make_user("ana", organization=org)
        client = Client()
        assert client.login(username=user.username, password=PASSWORD)
        page = client.get(SYNC_HEALTH).content.decode()
        assert "data-schedule-warning" in page and "this run will not happen" in page
        assert 'data-scheduler-status="silent"' in page
        assert 'id="queues-table"' not in page  # no queues in-process


class TestWithABroker:
    @pytest.fixture(autouse=True)
    def with_a_broker(self, settings: Any) -> None:
        settings.CELERY_TASK_ALWAYS_EAGER = False

    def test_a_ticking_beat_and_a_worker_on_every_queue_leave_the_next_run_alone(
        self, org: Organization, conn: Connection
    ) -> None:
        beat_ticked(3)
        worker_seen(10, declared_queues())
        assert next_run_warning(org, conn) == ""
        live = liveness_get()
        assert live.scheduler_alive
        assert re.fullmatch(
            r"Last tick \d s ago \(beat on scheduler-1, process 4242\)\.", live.scheduler_status
        )
        assert [w.hostname for w in live.workers if w.alive] == ["celery@worker-1"]
        assert sorted(q.name for q in live.queues) == ALL_QUEUES
        assert all(q.waiting == 0 and q.consumers == ["celery@worker-1"] for q in live.queues)

    def test_a_beat_silent_past_the_limit_turns_the_next_run_into_a_warning(
        self, org: Organization, conn: Connection
    ) -> None:
        worker_seen(5, declared_queues())
        beat_ticked(50)
        assert next_run_warning(org, conn) == ""
        beat_ticked(70)  # SCHEDULER_SILENT_SECONDS is 60
        warning = next_run_warning(org, conn)
        assert warning == (
            "No scheduler is running: this run will not happen. "
            "Start beat with `celery -A sales_dashboard beat`."
        )
        assert liveness_get().scheduler_status.startswith("Silent since ")

    def test_a_beat_that_stopped_cleanly_is_a_warning_at_once(
        self, org: Organization, conn: Connection
    ) -> None:
        worker_seen(5, declared_queues())
        beat_ticked(2, stopped=True)
        assert next_run_warning(org, conn).startswith("No scheduler is running")
        assert liveness_get().scheduler_status.startswith("Stopped at ")

    def test_no_beat_ever(self, org: Organization, conn: Connection) -> None:
        worker_seen(5, declared_queues())
        assert next_run_warning(org, conn).startswith("No scheduler is running")
        assert liveness_get().scheduler_status == "Never seen: no beat has run against this database."

    def test_a_platform_queue_nobody_takes_is_a_warning_for_that_platform_only(
        self, org: Organization, conn: Connection
    ) -> None:
        beat_ticked(1)
        worker_seen(5, ["sync", "maintenance", "sync.google_ads"])
        google = make_connection(org, platform="google_ads", account_id="1234567890", name="Search")
        assert next_run_warning(org, google) == ""
        warning = next_run_warning(org, conn)
        assert warning.startswith(
            "No worker takes the sync.linkedin_ads queue: this run will wait in the queue."
        )
        assert "-Q sync.linkedin_ads" in warning
        live = liveness_get()
        (queue,) = [q for q in live.queues if q.name == "sync.linkedin_ads"]
        assert queue.consumers == []

    def test_a_silent_or_stopped_worker_does_not_count(self, org: Organization, conn: Connection) -> None:
        beat_ticked(1)
        worker_seen(130, declared_queues())  # WORKER_SILENT_SECONDS is 120
        worker_seen(5, declared_queues(), hostname="celery@worker-2")
        worker_seen_record(hostname="celery@worker-2", queues=declared_queues(), concurrency=2, stopped=True)
        live = liveness_get()
        assert [(w.hostname, w.alive) for w in live.workers] == [
            ("celery@worker-1", False),
            ("celery@worker-2", False),
        ]
        assert live.worker_warning.startswith("No worker is running")
        assert next_run_warning(org, conn).startswith(
            "No worker takes the sync, sync.linkedin_ads, maintenance queues"
        )

    def test_on_the_embedded_broker_the_warning_says_to_restart_run_embedded(
        self, org: Organization, conn: Connection, settings: Any
    ) -> None:
        settings.EMBEDDED_BROKER = True
        worker_seen(5, declared_queues())
        beat_ticked(2, stopped=True)
        assert next_run_warning(org, conn) == (
            "No scheduler is running: this run will not happen. Start beat by restarting "
            "`python manage.py run_embedded` (or `make demo`), which runs it."
        )

    def test_two_live_beats_are_named(self) -> None:
        beat_ticked(1, hostname="host-a")
        beat_ticked(2, hostname="host-b")
        assert (
            liveness_get().duplicate_beat_warning
            == "2 beat processes are running (host-a, host-b): keep exactly one."
        )

    def test_the_page_lists_workers_and_queues(self, org: Organization, conn: Connection) -> None:
        beat_ticked(1)
        worker_seen(5, declared_queues())
        user = make_user("ana", organization=org)
        client = Client()
        assert client.login(username=user.username, password=PASSWORD)
        page = client.get(SYNC_HEALTH).content.decode()
        assert "data-schedule-warning" not in page
        assert 'data-scheduler-status="alive"' in page
        assert 'data-worker="celery@worker-1" data-alive="yes"' in page
        assert 'data-queue="sync.linkedin_ads"' in page


def test_beat_tick_record_keeps_one_row_per_host_and_marks_a_clean_stop() -> None:
    beat_tick_record()
    beat_tick_record()
    (row,) = BeatHeartbeat.objects.all()
    assert row.stopped_at is None
    beat_tick_record(stopped=True)
    row.refresh_from_db()
    assert row.stopped_at == row.ticked_at


def test_a_worker_not_seen_for_a_week_is_forgotten_when_another_starts() -> None:
    worker_seen(8 * 24 * 3600, ["sync"], hostname="celery@old-container")
    worker_seen(0, ["sync"], hostname="celery@new-container")
    assert list(WorkerHeartbeat.objects.values_list("hostname", flat=True)) == ["celery@new-container"]


class TestQueueLengths:
    def test_redis_counts_each_queue(self, settings: Any) -> None:
        url = settings.REDIS_URL  # the tests' Redis; only the queues' own keys are touched
        client = Celery(broker=url, set_as_current=False)
        try:
            with client.connection_for_write() as conn:
                for name in declared_queues():
                    conn.SimpleQueue(name).clear()
            client.send_task("sync.extract", args=[1], queue="sync.google_ads")
            client.send_task("sync.extract", args=[2], queue="sync.google_ads", priority=6)
            client.send_task("dashboard.cleanup_old_data", queue="maintenance")
            lengths = queue_lengths(broker_url=url)
            assert lengths["sync.google_ads"] == 2 and lengths["maintenance"] == 1
            assert lengths["sync.linkedin_ads"] == 0
        finally:
            with client.connection_for_write() as conn:
                for name in declared_queues():
                    conn.SimpleQueue(name).clear()
            client.close()

    def test_a_broker_that_does_not_answer_is_unknown_not_zero(self) -> None:
        lengths = queue_lengths(broker_url="redis://127.0.0.1:1/0")
        assert lengths == dict.fromkeys(declared_queues())

    def test_in_process_there_are_no_queues(self) -> None:
        assert queue_lengths() == {}


def test_each_platform_has_its_queue_and_its_steps_go_there() -> None:
    assert sorted(declared_queues()) == ALL_QUEUES
    for platform in platforms():
        steps = sync_chain(sync_run_id=1, platform=platform).tasks
        queues = {step.task: step.options.get("queue") for step in steps}
        assert queues == {
            "sync.refresh_token": f"sync.{platform}",
            "sync.extract": f"sync.{platform}",
            "sync.normalize": f"sync.{platform}",
            "sync.load": f"sync.{platform}",
            "sync.prune": None,  # the task's own queue: maintenance
        }
    assert prune_task.queue == "maintenance"


def test_a_short_test_schedule_and_back(org: Organization, conn: Connection) -> None:
    from django_celery_beat.models import PeriodicTask

    now = timezone.now()
    call_command("setup_periodic_tasks", "--every", "60")
    entries = PeriodicTask.objects.filter(name__startswith="sync ")
    assert entries.count() == 1 + len(platforms())
    assert all(e.interval is not None and e.interval.every == 60 and e.crontab is None for e in entries)
    health = sync_health_get(organization=org, now=now)
    (item,) = health.connections
    assert item.next_run_at is not None and item.next_run_at <= now + timedelta(seconds=61)
    call_command("setup_periodic_tasks")
    assert all(e.crontab is not None and e.interval is None for e in entries.all())
