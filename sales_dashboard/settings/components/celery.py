"""Celery and django-celery-beat.

Without ``CELERY_BROKER_URL`` tasks run in-process (the embedded default). With it, workers and
one beat process share the Redis broker; see DESIGN.md "Celery and Redis: facts that bite".
``CELERY_BROKER_URL=filesystem://`` is the one-machine broker of ``manage.py run_embedded`` (and
``make demo``): kombu's filesystem transport, its messages and results in files under ``VAR_DIR``.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from kombu import Queue

from connectors.platform_settings import declared
from sales_dashboard.env import BASE_DIR, env

_broker = env.str("CELERY_BROKER_URL", default="")
_redis = env.str("REDIS_URL", default="")

CELERY_TASK_ALWAYS_EAGER = not _broker
CELERY_TASK_EAGER_PROPAGATES = False
# In-process tasks need no broker, but Celery still builds a producer (over a pooled connection of
# this URL) to pass each task's arguments through the serializer, as a worker would. kombu warns
# "No hostname was supplied" about a URL without one, so the placeholder names one.
CELERY_BROKER_URL = _broker or "memory://localhost/"
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or (_redis or _broker or None)
# The one-machine broker: kombu's filesystem transport, one folder the web process, the worker and
# beat all write to and read from, and Celery's file result backend beside it.
EMBEDDED_BROKER = CELERY_BROKER_URL.startswith("filesystem://")
_embedded_dir = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var"))) / "broker"
if EMBEDDED_BROKER:
    for _folder in ("queue", "processed", "control", "results"):
        (_embedded_dir / _folder).mkdir(parents=True, exist_ok=True)
    if not env.str("CELERY_RESULT_BACKEND", default="") and not _redis:
        CELERY_RESULT_BACKEND = (_embedded_dir / "results").as_uri()
CELERY_RESULT_EXPIRES = 24 * 3600

CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True

# Every step is idempotent, so a step whose worker dies is redelivered rather than lost.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TRACK_STARTED = True
# Workers publish an event when a task is received, started and finished (Flower, monitoring).
# A "sent" event as well would cost every step one more round trip to Redis, from inside the
# step before it, for a state the queue length already shows.
CELERY_TASK_SEND_SENT_EVENT = False
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Keep Django's LOGGING (structured lines, secrets scrubbed) in workers too.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Keep a worker's database connection from one task to the next (Celery's Django support would
# open a new one for every task); CONN_MAX_AGE and the health checks still apply, see
# etl/worker_lifecycle.py. The connection is also renewed after this many tasks.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)

CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=20 * 60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=25 * 60)
# Longer than the longest step (the hard time limit), so no running step is delivered twice.
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=2 * 3600),
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = dict(CELERY_BROKER_TRANSPORT_OPTIONS)
if EMBEDDED_BROKER:
    CELERY_BROKER_TRANSPORT_OPTIONS.update(
        {
            "data_folder_in": str(_embedded_dir / "queue"),
            "data_folder_out": str(_embedded_dir / "queue"),
            "processed_folder": str(_embedded_dir / "processed"),
            "control_folder": str(_embedded_dir / "control"),
            "store_processed": False,
            # How often an idle worker looks into the folder (kombu's default is every second).
            "polling_interval": 0.2,
        }
    )

CELERY_TASK_DEFAULT_QUEUE = "sync"
# "sync": the entry tasks that start syncs; "maintenance": cleanup, token refresh, prune, cache
# warm-up; one "sync.<platform>" queue per platform for the steps of its syncs (etl.queues), so a
# platform throttled for hours fills only its own queue. Declared queues are all consumed by a
# worker started without -Q; `-Q sync.google_ads` gives a platform workers of its own
# (docs/operations.md "Queues and workers").
SYNC_QUEUE_PREFIX = "sync."
CELERY_TASK_QUEUES = (
    Queue("sync"),
    Queue("maintenance"),
    *(Queue(f"{SYNC_QUEUE_PREFIX}{platform}") for platform in declared()),
)

# Liveness on Sync health (etl.liveness): beat records each tick (every 5 s at most apart), a
# worker records itself every WORKER_HEARTBEAT_SECONDS. beat silent for SCHEDULER_SILENT_SECONDS,
# or a worker for WORKER_SILENT_SECONDS, counts as not running.
WORKER_HEARTBEAT_SECONDS = env.float("WORKER_HEARTBEAT_SECONDS", default=30.0)
SCHEDULER_SILENT_SECONDS = env.float("SCHEDULER_SILENT_SECONDS", default=60.0)
WORKER_SILENT_SECONDS = env.float("WORKER_SILENT_SECONDS", default=120.0)
# django-celery-beat's DatabaseScheduler, recording each tick for Sync health (etl.liveness).
CELERY_BEAT_SCHEDULER = "etl.beat:LivenessScheduler"
DJANGO_CELERY_BEAT_TZ_AWARE = True

# TLS to Redis (rediss://): verify the server against REDIS_CA_CERT, or the system store.
_tls = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
if env.str("REDIS_CA_CERT", default=""):
    _tls["ssl_ca_certs"] = env.str("REDIS_CA_CERT")
if CELERY_BROKER_URL.startswith("rediss://"):
    CELERY_BROKER_USE_SSL = _tls
if (CELERY_RESULT_BACKEND or "").startswith("rediss://"):
    CELERY_REDIS_BACKEND_USE_SSL = _tls
