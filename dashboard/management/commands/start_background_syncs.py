"""Run the scheduled work by hand: syncs (all platforms or one), cleanup, or token refresh.

The work is queued exactly as beat queues it; the command then follows it with a progress bar
and prints a summary. With ``--no-wait`` it prints the task ids and returns at once. Its exit
status says what happened (``EXIT_CODES``): 0 only when every requested sync ran and succeeded and
no loaded window's totals differ from the platform's own (reconciliation).

With in-process tasks (the embedded default) the command runs the syncs itself and owns them:
Ctrl-C (or SIGTERM) ends the run in progress as cancelled, and a command killed outright leaves a
run whose owner is gone, which the next trigger takes over at once. With workers, the syncs are
theirs: Ctrl-C stops following them, not the syncs.

``--backfill-days N`` reads the last N days again, in day-slices, newest first (etl/backfill.py);
``--plan`` prints what the work would cost in API calls against each credential's daily budget,
without calling any API or creating any run (etl/sync_plan.py).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, NoReturn

from celery.signals import task_postrun
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from connectors.models import Connection
from connectors.registry import UnknownPlatform, get_connector_class
from connectors.selectors import connection_list_syncable
from dashboard.management.plan import write_plan
from dashboard.management.progress import Progress, progress
from dashboard.management.quiet import quiet_logs
from dashboard.selectors.reconciliation import reconciliation_view
from etl.backfill import BackfillTooLong, backfill_request
from etl.lease import clock, describe_owner
from etl.models import SyncRun
from etl.pipeline import sync_start
from etl.selectors import (
    sync_run_in_flight_for,
    sync_run_is_finished,
    sync_run_list,
    sync_run_owned_by_this_process,
)
from etl.services import SyncRunNotInFlight, sync_run_cancel, today_utc
from etl.sync_plan import sync_plan
from tenancy.models import Organization

STEPS = [s.value for s in SyncRun.Step]

EXIT_OK = 0
EXIT_SYNC_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_BUSY = 3
EXIT_CANNOT_SYNC = 4
EXIT_TIMED_OUT = 5
EXIT_PARTIAL = 6
EXIT_TOTALS_DIFFER = 7
EXIT_DOES_NOT_FIT = 8
EXIT_INTERRUPTED = 130
EXIT_CODES = {
    EXIT_OK: (
        "every requested sync ran and succeeded, and no loaded window's totals differ from the "
        "platform's (or there was nothing to sync)"
    ),
    EXIT_SYNC_FAILED: "a sync failed, or was cancelled or taken over before it finished",
    EXIT_BAD_INPUT: "bad input: an unknown platform, organization or connection, a bad option or setting",
    EXIT_BUSY: "a requested sync was not started: another live run holds the connection",
    EXIT_CANNOT_SYNC: "a requested connection cannot sync: it is paused or needs re-authorization",
    EXIT_TIMED_OUT: "timed out waiting for the syncs (they go on in the workers)",
    EXIT_PARTIAL: "every sync ran, but some could not read every stream (partial; the summary says which)",
    EXIT_TOTALS_DIFFER: (
        "every sync loaded, but for some the warehouse's totals differ from the platform's own "
        "(loaded, totals differ; the summary shows the figures side by side)"
    ),
    EXIT_DOES_NOT_FIT: (
        "--plan only: some planned work does not fit its credential's budget today (the plan says how "
        "many days it would take); 0 when everything fits or has no known daily budget"
    ),
    EXIT_INTERRUPTED: "interrupted (Ctrl-C or SIGTERM); the sync this command was running is cancelled",
}
EPILOG = "exit status:\n" + "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES.items())


def _progress(run: SyncRun) -> int:
    if sync_run_is_finished(run):
        return len(STEPS) - 1
    return STEPS.index(run.step)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a service manager stopping the command) ends the work as Ctrl-C does."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def describe_holder(run: SyncRun) -> str:
    """The live run that holds a connection, for the line that says why a sync was not started."""
    beat = run.heartbeat_at or run.created_at
    ago = int((timezone.now() - beat).total_seconds())
    waiting = f"; {run.waiting_reason}" if run.waiting_reason else ""
    return (
        f"run {run.pk} ({run.status}, step {run.step}) by {describe_owner(run)}, "
        f"last heartbeat {clock(beat)} ({ago} s ago){waiting}"
    )


class Command(BaseCommand):
    help = "Queue syncs (all platforms, or --platform), --cleanup or --refresh-tokens, and follow them."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        from argparse import RawDescriptionHelpFormatter

        return super().create_parser(
            prog_name, subcommand, epilog=EPILOG, formatter_class=RawDescriptionHelpFormatter, **kwargs
        )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--platform", help="Sync only this platform (e.g. linkedin_ads).")
        parser.add_argument("--org", dest="org", help="Only this organization (slug).")
        parser.add_argument(
            "--connection",
            dest="connections",
            type=int,
            action="append",
            default=[],
            metavar="ID",
            help="Sync only this connection (its id; may be repeated).",
        )
        parser.add_argument("--cleanup", action="store_true", help="Remove data older than RETENTION_DAYS.")
        parser.add_argument("--refresh-tokens", action="store_true", help="Refresh tokens that expire soon.")
        parser.add_argument("--no-wait", action="store_true", help="Queue the work, print task ids, return.")
        parser.add_argument("--timeout", type=float, default=3600.0, help="Seconds to wait (default 3600).")
        parser.add_argument(
            "--backfill-days",
            type=int,
            metavar="N",
            help="Read the last N days again (at most RETENTION_DAYS), in day-slices, newest first; a "
            "backfill stopped by a platform's quota continues from where it stopped on the next sync.",
        )
        parser.add_argument(
            "--plan",
            action="store_true",
            help="Dry run: print what the syncs (or the --backfill-days backfill) would cost in API calls "
            "per platform and connection, what each credential spent today, its budget, and whether it "
            "fits; no API call, no run.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # The progress bar and the summary say it all; per-request logs are for -v 2.
        with quiet_logs(options["verbosity"], ["connectors", "etl", "dashboard", "celery"]):
            self._handle(options)

    def _handle(self, options: dict[str, Any]) -> None:
        if options["cleanup"] or options["refresh_tokens"]:
            if options["cleanup"]:
                self._run_task("dashboard.cleanup_old_data", options)
            if options["refresh_tokens"]:
                self._run_task("dashboard.refresh_expired_tokens", options)
            return
        if options["backfill_days"] is not None and options["backfill_days"] < 1:
            raise CommandError("--backfill-days must be at least 1.", returncode=EXIT_BAD_INPUT)
        if options["plan"]:
            self._plan(options)
            return
        self._sync(options)

    # -- maintenance tasks ------------------------------------------------------------------------
    def _run_task(self, name: str, options: dict[str, Any]) -> None:
        from dashboard import tasks

        task = {
            "dashboard.cleanup_old_data": tasks.cleanup_old_data,
            "dashboard.refresh_expired_tokens": tasks.refresh_expired_tokens,
        }[name]
        result = task.delay()
        if options["no_wait"]:
            self.stdout.write(f"{name}: task {result.id}")
            return
        outcome = result.get(timeout=options["timeout"], propagate=True)
        details = ", ".join(f"{k}={v}" for k, v in (outcome or {}).items())
        self.stdout.write(self.style.SUCCESS(f"{name}: {details or 'done'}"))

    # -- syncs --------------------------------------------------------------------------------------
    def _requested_connections(self, options: dict[str, Any]) -> tuple[list[Connection], list[Connection]]:
        """(the connections to sync, the requested ones that cannot sync: paused, needing re-authorization)."""
        platform, org, ids = options["platform"], options["org"], options["connections"]
        if platform:
            try:
                get_connector_class(platform)
            except UnknownPlatform as exc:
                raise CommandError(str(exc), returncode=EXIT_BAD_INPUT) from None
        if org and not Organization.objects.filter(slug=org).exists():
            raise CommandError(f"Unknown organization {org!r}", returncode=EXIT_BAD_INPUT)
        if ids:
            found = {c.pk: c for c in Connection.objects.filter(pk__in=ids)}
            missing = [str(i) for i in ids if i not in found]
            if missing:
                raise CommandError(f"Unknown connection id(s): {', '.join(missing)}", returncode=EXIT_BAD_INPUT)
        syncable = connection_list_syncable(platform=platform, organization_slug=org)
        if ids:
            syncable = syncable.filter(pk__in=ids)
        connections = list(syncable)
        blocked = [c for c in found.values() if c not in connections] if ids else []
        return connections, blocked

    def _plan(self, options: dict[str, Any]) -> None:
        """--plan: the cost of the requested work and its verdict; exit 8 if some of it does not fit."""
        connections, blocked = self._requested_connections(options)
        for connection in blocked:
            self.stderr.write(f"{connection}: {connection.get_status_display().lower()}, not planned")
        days = options["backfill_days"]
        what = f"a backfill of the last {days} days" if days else "the next sync of each connection"
        lines = sync_plan(connections, backfill_days=days)
        write_plan(lines, self.stdout.write, f"Plan for {what} (a dry run: no API call made, no run created)")
        short = [line for line in lines if line.fits is False]
        if short:
            raise CommandError(
                f"{len(short)} connection(s) do not fit today's budget; see the plan above.",
                returncode=EXIT_DOES_NOT_FIT,
            )

    def _request_backfill(self, connections: list[Connection], days: int) -> None:
        for connection in connections:
            try:
                window = backfill_request(connection=connection, days=days, today=today_utc())
            except BackfillTooLong as exc:
                raise CommandError(str(exc), returncode=EXIT_BAD_INPUT) from None
            self.stdout.write(
                f"{connection}: backfill of {window.start:%d %b}–{window.end:%d %b %Y} requested, newest days first"
            )

    def _sync(self, options: dict[str, Any]) -> None:
        connections, blocked = self._requested_connections(options)
        if options["backfill_days"] is not None:
            self._request_backfill(connections, options["backfill_days"])
        for connection in blocked:
            self.stderr.write(
                f"{connection}: {connection.get_status_display().lower()}, not synced"
                + (f" ({connection.status_message})" if connection.status_message else "")
            )
        if not connections:
            if blocked:
                raise CommandError("No requested connection can sync.", returncode=EXIT_CANNOT_SYNC)
            self.stdout.write("Nothing to sync: no active connections match.")
            return

        # A bar on a terminal; in a log file or a pipe, a plain line every few seconds.
        bar = progress(
            total=len(connections) * (len(STEPS) - 1),
            desc="syncing",
            unit="step",
            file=self.stderr,
            disable=options["no_wait"] or options.get("verbosity", 1) == 0,
        )
        run_ids: list[int] = []
        try:
            with _sigterm_as_interrupt():
                busy = self._start(connections, run_ids, bar, options)
                if options["no_wait"]:
                    bar.close()
                    self._exit_for(busy=busy, blocked=blocked)
                    return
                runs = self._follow(run_ids, bar, options)
        except KeyboardInterrupt:
            bar.close()
            self._interrupted()
        bar.close()
        self._summary(runs)
        self._exit_for(busy=busy, blocked=blocked, runs=runs)

    def _start(
        self, connections: list[Connection], run_ids: list[int], bar: Progress, options: dict[str, Any]
    ) -> list[Connection]:
        """Queue one sync per connection (in-process: run it); returns the connections held by a live run."""

        def refresh_bar(**_: Any) -> None:
            done = sum(_progress(run) for run in sync_run_list(ids=run_ids))
            bar.update(done - bar.n)

        # In-process mode runs each chain while it is queued; follow it step by step.
        task_postrun.connect(refresh_bar, weak=False)
        busy = []
        taken_over: list[str] = []
        try:
            for connection in connections:
                before = sync_run_in_flight_for(connection_id=connection.pk)
                run = sync_start(connection_id=connection.pk, trigger="manual")
                if run is None:
                    busy.append(connection)
                    continue
                if before is not None:  # it was stale: the start closed it
                    before.refresh_from_db()
                    taken_over.append(f"{connection}: took over run {before.pk}: {before.error_message}")
                run_ids.append(run.pk)
                if options["no_wait"]:
                    self.stdout.write(f"{connection}: sync run {run.pk}, tasks {' '.join(run.task_ids)}")
                refresh_bar()
        finally:
            task_postrun.disconnect(refresh_bar)
        for line in taken_over:
            self.stdout.write(line)
        for connection in busy:
            holder = sync_run_in_flight_for(connection_id=connection.pk)
            what = describe_holder(holder) if holder else "another trigger started one at the same moment"
            self.stderr.write(f"{connection}: not started, a sync is already in flight: {what}")
        return busy

    def _follow(self, run_ids: list[int], bar: Progress, options: dict[str, Any]) -> list[SyncRun]:
        deadline = time.monotonic() + options["timeout"]
        while True:
            runs = list(sync_run_list(ids=run_ids))
            bar.update(sum(_progress(run) for run in runs) - bar.n)
            if all(sync_run_is_finished(r) for r in runs):
                return runs
            if time.monotonic() > deadline:
                bar.close()
                raise CommandError(
                    "Timed out waiting for the syncs; they continue in the workers.", returncode=EXIT_TIMED_OUT
                )
            time.sleep(0.5 if settings.CELERY_TASK_ALWAYS_EAGER else 1.0)

    def _interrupted(self) -> NoReturn:
        """Ctrl-C: in-process, the run this command is running (it owns its lease) ends as cancelled."""
        if not settings.CELERY_TASK_ALWAYS_EAGER:
            raise CommandError(
                "Interrupted: stopped following the syncs; they go on in the workers.",
                returncode=EXIT_INTERRUPTED,
            )
        cancelled = []
        for run in sync_run_owned_by_this_process():
            reason = f"Cancelled with Ctrl-C at {clock(timezone.now())} during {run.step}; nothing of it was loaded."
            try:
                sync_run_cancel(sync_run_id=run.pk, reason=reason)
            except SyncRunNotInFlight:
                continue
            cancelled.append(f"{run.connection} (run {run.pk}, during {run.step})")
        what = f"cancelled {', '.join(cancelled)}" if cancelled else "no sync was in progress"
        raise CommandError(f"Interrupted: {what}.", returncode=EXIT_INTERRUPTED)

    def _exit_for(
        self, *, busy: list[Connection], blocked: list[Connection], runs: list[SyncRun] | None = None
    ) -> None:
        unsuccessful = [r for r in runs or [] if r.status not in SyncRun.LOADED]
        if unsuccessful:
            raise CommandError(
                f"{len(unsuccessful)} sync(s) did not succeed; see the messages above.", returncode=EXIT_SYNC_FAILED
            )
        if busy:
            raise CommandError(
                f"{len(busy)} sync(s) not started: another run holds the connection.", returncode=EXIT_BUSY
            )
        if blocked:
            raise CommandError(
                f"{len(blocked)} requested connection(s) cannot sync.", returncode=EXIT_CANNOT_SYNC
            )
        partial = [r for r in runs or [] if r.status == SyncRun.Status.PARTIAL]
        if partial:
            raise CommandError(
                f"{len(partial)} sync(s) were partial: some streams could not be read.", returncode=EXIT_PARTIAL
            )
        differ = [r for r in runs or [] if r.totals_differ]
        if differ:
            raise CommandError(
                f"{len(differ)} sync(s) loaded, but their totals differ from the platform's; see the figures above.",
                returncode=EXIT_TOTALS_DIFFER,
            )

    def _summary(self, runs: list[SyncRun]) -> None:
        header = f"{'connection':<48} {'status':<10} {'rows':>8} {'duration':>9}  note"
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for run in runs:
            duration = f"{run.duration_seconds:.1f}s" if run.duration_seconds is not None else "-"
            style = {
                SyncRun.Status.SUCCEEDED: self.style.SUCCESS,
                SyncRun.Status.PARTIAL: self.style.WARNING,
            }.get(SyncRun.Status(run.status), self.style.ERROR)
            label = f"{run.connection.platform} {run.connection.name or run.connection.account_id}"[:48]
            self.stdout.write(
                f"{label:<48} {style(f'{run.status:<10}')} {run.rows_loaded:>8} {duration:>9}  {self._note(run)}"
            )
            totals = reconciliation_view(run)
            if totals.shown:
                totals_style = self.style.WARNING if totals.differs else (lambda text: text)
                for line in totals.lines():
                    self.stdout.write(totals_style(f"{'':<4}{line}"))

    @staticmethod
    def _note(run: SyncRun) -> str:
        if run.error_message:
            return run.error_message
        changes = {"inserted": 0, "updated": 0, "deleted": 0}
        for stats in run.rows.values():
            for key in changes:
                changes[key] += int(stats.get(key, 0))
        note = f"{changes['inserted']} new, {changes['updated']} updated, {changes['deleted']} removed"
        return "; ".join([note, *run.notes])
