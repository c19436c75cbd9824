"""Whether the schedule will happen: beat's last tick, the workers seen lately and what each queue
holds, read from what beat and the workers record (etl.liveness), and the warnings Sync health
puts in place of a next scheduled run that nothing will start.

Three modes: tasks in-process (no broker: nothing runs on a schedule), the embedded broker of
``manage.py run_embedded`` (one machine), and Redis (production).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from dashboard.selectors.sync import time_ago
from etl.lease import clock
from etl.liveness import queue_lengths
from etl.models import BeatHeartbeat, WorkerHeartbeat
from etl.queues import declared_queues, sync_queue

# Workers are listed when seen within this time (those silent longer are gone).
WORKERS_LISTED_FOR = timedelta(hours=1)

START_BEAT = "celery -A sales_dashboard beat"
START_WORKER = "celery -A sales_dashboard worker"
START_EMBEDDED = "python manage.py run_embedded"


@dataclass(frozen=True)
class WorkerSeen:
    hostname: str
    queues: list[str]
    concurrency: int | None
    seen_at: datetime
    stopped_at: datetime | None
    alive: bool
    seen_ago: str


@dataclass(frozen=True)
class QueueState:
    name: str
    waiting: int | None  # None: the broker cannot say
    consumers: list[str]  # live workers taking it

    @property
    def waiting_label(self) -> str:
        return "unknown" if self.waiting is None else str(self.waiting)


@dataclass(frozen=True)
class Liveness:
    now: datetime
    in_process: bool  # no broker: tasks run inside the process that sends them
    beat: BeatHeartbeat | None  # the most recent tick of any beat
    beats_alive: list[BeatHeartbeat] = field(default_factory=list)
    workers: list[WorkerSeen] = field(default_factory=list)
    queues: list[QueueState] = field(default_factory=list)

    @property
    def scheduler_silent_seconds(self) -> int:
        return int(settings.SCHEDULER_SILENT_SECONDS)

    @property
    def worker_silent_seconds(self) -> int:
        return int(settings.WORKER_SILENT_SECONDS)

    # -- the scheduler

    @property
    def scheduler_alive(self) -> bool:
        return bool(self.beats_alive)

    @property
    def scheduler_status(self) -> str:
        """beat in one line: "Last tick 3 s ago (beat on web-1, process 4242)"."""
        if self.in_process:
            return "Not running: without a broker, tasks run in-process and nothing runs on a schedule."
        beat = self.beat
        if beat is None:
            return "Never seen: no beat has run against this database."
        where = f"beat on {beat.hostname}, process {beat.pid}"
        if beat.stopped_at is not None:
            return f"Stopped at {clock(beat.stopped_at)} ({where})."
        if not self.scheduler_alive:
            return f"Silent since {clock(beat.ticked_at)}, {time_ago(beat.ticked_at, self.now)} ({where})."
        return f"Last tick {time_ago(beat.ticked_at, self.now)} ({where})."

    @property
    def scheduler_warning(self) -> str:
        """When no scheduler is alive: what that means for the next run, and what to start."""
        if self.in_process:
            return (
                "No scheduler is running (tasks run in-process, without a broker): this run will not "
                f"happen. Start the schedule with `{START_EMBEDDED}`, or run beat and a worker on "
                "Redis (CELERY_BROKER_URL)."
            )
        if self.scheduler_alive:
            return ""
        if settings.EMBEDDED_BROKER:
            return (
                "No scheduler is running: this run will not happen. Start beat by restarting "
                f"`{START_EMBEDDED}` (or `make demo`), which runs it."
            )
        return f"No scheduler is running: this run will not happen. Start beat with `{START_BEAT}`."

    @property
    def duplicate_beat_warning(self) -> str:
        """More than one beat alive sends every scheduled task more than once."""
        if len(self.beats_alive) < 2:
            return ""
        hosts = ", ".join(sorted(b.hostname for b in self.beats_alive))
        return f"{len(self.beats_alive)} beat processes are running ({hosts}): keep exactly one."

    # -- the workers and their queues

    def consumers(self, queue: str) -> list[str]:
        return sorted(w.hostname for w in self.workers if w.alive and queue in w.queues)

    def unserved(self, platform: str) -> list[str]:
        """The queues a sync of this platform passes through that no live worker takes."""
        if self.in_process:
            return []
        needed = ["sync", sync_queue(platform), "maintenance"]
        return [queue for queue in needed if not self.consumers(queue)]

    def run_warning(self, platform: str) -> str:
        """Why the next scheduled sync of this platform will not happen, or not finish; else ""."""
        if warning := self.scheduler_warning:
            return warning
        missing = self.unserved(platform)
        if not missing:
            return ""
        names = ", ".join(missing)
        noun = "queue" if len(missing) == 1 else "queues"
        start = (
            f"`{START_EMBEDDED}`"
            if settings.EMBEDDED_BROKER
            else f"`{START_WORKER}` (all queues, or `-Q {names}`)"
        )
        return f"No worker takes the {names} {noun}: this run will wait in the queue. Start a worker with {start}."

    @property
    def worker_warning(self) -> str:
        if self.in_process or any(w.alive for w in self.workers):
            return ""
        start = START_EMBEDDED if settings.EMBEDDED_BROKER else START_WORKER
        return f"No worker is running: queued syncs wait until one starts (`{start}`)."


def liveness_get(*, now: datetime | None = None) -> Liveness:
    """The scheduler's and the workers' signs of life, and each queue's waiting tasks."""
    now = now or timezone.now()
    in_process = bool(settings.CELERY_TASK_ALWAYS_EAGER)
    beat_since = now - timedelta(seconds=settings.SCHEDULER_SILENT_SECONDS)
    beats = list(BeatHeartbeat.objects.order_by("-ticked_at"))
    beats_alive = [b for b in beats if b.stopped_at is None and b.ticked_at >= beat_since]
    worker_since = now - timedelta(seconds=settings.WORKER_SILENT_SECONDS)
    workers = [
        WorkerSeen(
            hostname=w.hostname,
            queues=list(w.queues),
            concurrency=w.concurrency,
            seen_at=w.seen_at,
            stopped_at=w.stopped_at,
            alive=w.stopped_at is None and w.seen_at >= worker_since,
            seen_ago=time_ago(w.seen_at, now),
        )
        for w in WorkerHeartbeat.objects.filter(seen_at__gte=now - WORKERS_LISTED_FOR).order_by("hostname")
    ]
    state = Liveness(
        now=now,
        in_process=in_process,
        beat=beats[0] if beats else None,
        beats_alive=beats_alive,
        workers=workers,
    )
    if in_process:
        return state
    lengths = queue_lengths()
    queues = [
        QueueState(name=name, waiting=lengths.get(name), consumers=state.consumers(name))
        for name in declared_queues()
    ]
    return Liveness(
        now=now, in_process=False, beat=state.beat, beats_alive=beats_alive, workers=workers, queues=queues
    )
