"""Celery and django-celery-beat.

Without ``CELERY_BROKER_URL`` tasks run in-process (the embedded default). With it, workers and
one beat process share the Redis broker; see DESIGN.md "Celery and Redis: facts that bite".
"""

from __future__ import annotations

import ssl

from kombu import Queue

from sales_dashboard.env import env

_broker = env.str("CELERY_BROKER_URL", default="")
_redis = env.str("REDIS_URL", default="")

CELERY_TASK_ALWAYS_EAGER = not _broker
CELERY_TASK_EAGER_PROPAGATES = False
# In-process tasks need no broker, but Celery still builds a producer (over a pooled connection of
# this URL) to pass each task's arguments through the serializer, as a worker would. kombu warns
# "No hostname was supplied" about a URL without one, so the placeholder names one.
CELERY_BROKER_URL = _broker or "memory://localhost/"
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or (_redis or _broker or None)
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
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=2 * 3600),
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = dict(CELERY_BROKER_TRANSPORT_OPTIONS)

CELERY_TASK_DEFAULT_QUEUE = "sync"
# Declared queues are all consumed by a worker started without -Q.
CELERY_TASK_QUEUES = (Queue("sync"), Queue("maintenance"))

CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
DJANGO_CELERY_BEAT_TZ_AWARE = True

# TLS to Redis (rediss://): verify the server against REDIS_CA_CERT, or the system store.
_tls = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
if env.str("REDIS_CA_CERT", default=""):
    _tls["ssl_ca_certs"] = env.str("REDIS_CA_CERT")
if CELERY_BROKER_URL.startswith("rediss://"):
    CELERY_BROKER_USE_SSL = _tls
if (CELERY_RESULT_BACKEND or "").startswith("rediss://"):
    CELERY_REDIS_BACKEND_USE_SSL = _tls
