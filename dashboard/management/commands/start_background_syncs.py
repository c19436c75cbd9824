"""Run the scheduled work by hand: syncs (all platforms or one), cleanup, or token refresh.

The work is queued exactly as beat queues it; the command then follows it with a progress bar
and prints a summary. With ``--no-wait`` it prints the task ids and returns at once.
"""

from __future__ import annotations

import time
from typing import Any

from celery.signals import task_postrun
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from connectors.models import Organization
from connectors.registry import UnknownPlatform, get_connector_class
from connectors.selectors import connection_list_syncable
from dashboard.management.quiet import quiet_logs
from dashboard.services import sync_start
from etl.models import SyncRun
from etl.selectors import sync_run_is_finished, sync_run_list

STEPS = [s.value for s in SyncRun.Step]


def _progress(run: SyncRun) -> int:
    if sync_run_is_finished(run):
        return len(STEPS) - 1
    return STEPS.index(run.step)


class Command(BaseCommand):
    help = "Queue syncs (all platforms, or --platform), --cleanup or --refresh-tokens, and follow them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--platform", help="Sync only this platform (e.g. linkedin_ads).")
        parser.add_argument("--org", dest="org", help="Only this organization (slug).")
        parser.add_argument("--cleanup", action="store_true", help="Remove data older than RETENTION_DAYS.")
        parser.add_argument("--refresh-tokens", action="store_true", help="Refresh tokens that expire soon.")
        parser.add_argument("--no-wait", action="store_true", help="Queue the work, print task ids, return.")
        parser.add_argument("--timeout", type=float, default=3600.0, help="Seconds to wait (default 3600).")

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
    def _sync(self, options: dict[str, Any]) -> None:
        platform, org = options["platform"], options["org"]
        if platform:
            try:
                get_connector_class(platform)
            except UnknownPlatform as exc:
                raise CommandError(str(exc)) from None
        if org and not Organization.objects.filter(slug=org).exists():
            raise CommandError(f"Unknown organization {org!r}")
        connections = list(connection_list_syncable(platform=platform, organization_slug=org))
        if not connections:
            self.stdout.write("Nothing to sync: no active connections match.")
            return

        bar = tqdm(
            total=len(connections) * (len(STEPS) - 1),
            desc="syncing",
            unit="step",
            disable=options["no_wait"] or options.get("verbosity", 1) == 0,
        )
        run_ids: list[int] = []

        def refresh_bar(**_: Any) -> None:
            done = sum(_progress(run) for run in sync_run_list(ids=run_ids))
            bar.update(done - bar.n)

        # In-process mode runs each chain while it is queued; follow it step by step.
        task_postrun.connect(refresh_bar, weak=False)
        skipped = []
        try:
            for connection in connections:
                run = sync_start(connection_id=connection.pk, trigger="manual")
                if run is None:
                    skipped.append(connection)
                    continue
                run_ids.append(run.pk)
                if options["no_wait"]:
                    self.stdout.write(f"{connection}: sync run {run.pk}, tasks {' '.join(run.task_ids)}")
                refresh_bar()
        finally:
            task_postrun.disconnect(refresh_bar)
        for connection in skipped:
            self.stdout.write(f"{connection}: a sync is already in flight, not started again")
        if options["no_wait"]:
            bar.close()
            return

        deadline = time.monotonic() + options["timeout"]
        while True:
            runs = list(sync_run_list(ids=run_ids))
            refresh_bar()
            if all(sync_run_is_finished(r) for r in runs):
                break
            if time.monotonic() > deadline:
                bar.close()
                raise CommandError("Timed out waiting for the syncs; they continue in the workers.")
            time.sleep(0.5 if settings.CELERY_TASK_ALWAYS_EAGER else 1.0)
        bar.close()
        self._summary(runs)
        if any(r.status == SyncRun.Status.FAILED for r in runs):
            raise CommandError("Some syncs failed; see the messages above.")

    def _summary(self, runs: list[SyncRun]) -> None:
        header = f"{'connection':<48} {'status':<10} {'rows':>8} {'duration':>9}  note"
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for run in runs:
            duration = f"{run.duration_seconds:.1f}s" if run.duration_seconds is not None else "-"
            style = self.style.SUCCESS if run.status == SyncRun.Status.SUCCEEDED else self.style.ERROR
            label = f"{run.connection.platform} {run.connection.name or run.connection.account_id}"[:48]
            self.stdout.write(
                f"{label:<48} {style(f'{run.status:<10}')} {run.rows_loaded:>8} {duration:>9}  {self._note(run)}"
            )

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
