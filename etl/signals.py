"""Signals the pipeline sends: to the apps that read the warehouse, for instrumentation and for the
fault suite's hooks.

``sync_finished`` is sent once a sync's last step (prune) is done and its rows are committed, with
``organization_id`` and ``sync_run_id``: how the apps above ``etl`` learn of new data without ``etl``
knowing them (the dashboard warms its cached views). A receiver must not fail the sync: it runs in
the worker that ran the step.

``load_holding_locks`` is sent inside a load's transaction, once a dataset's rows are written and
the load holds its locks (the per-connection advisory lock and the written rows on PostgreSQL, the
write lock on SQLite), before the transaction commits. Arguments: ``sync_run_id``, ``dataset`` (its
name) and ``path``: ``"copy"`` (a connection's first load, copied straight into the table),
``"merge"`` (a later load merged through a staging table) or ``"upsert"`` (SQLite). A receiver runs
in the loading process, inside that transaction: the fault suite uses it to kill the process or
terminate its database connection at a known point, instead of guessing the moment by timing.
"""

from __future__ import annotations

from django.dispatch import Signal

load_holding_locks = Signal()
sync_finished = Signal()
