"""Cancel a sync run in flight: ``python manage.py cancel_sync RUN_ID [--reason TEXT]``.

The run ends as cancelled and its staging is cleared; a worker still running one of its steps
stops at its next heartbeat and loads nothing. Exit status: 0 cancelled, 2 no such run, 3 the run
is not in flight (it already ended).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from etl.lease import clock
from etl.services import SyncRunNotFound, SyncRunNotInFlight, sync_run_cancel


class Command(BaseCommand):
    help = "Cancel a sync run in flight (its id is in Sync health, the admin and the command's output)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("run_id", type=int, help="The sync run's id.")
        parser.add_argument("--reason", default="", help="Why (shown on the run).")

    def handle(self, *args: Any, **options: Any) -> None:
        reason = options["reason"].strip() or f"Cancelled from the command line at {clock(timezone.now())}."
        try:
            run = sync_run_cancel(sync_run_id=options["run_id"], reason=reason)
        except SyncRunNotFound as exc:
            raise CommandError(str(exc), returncode=2) from None
        except SyncRunNotInFlight as exc:
            raise CommandError(str(exc), returncode=3) from None
        self.stdout.write(f"Sync run {run.pk} of {run.connection} cancelled during {run.step}.")
