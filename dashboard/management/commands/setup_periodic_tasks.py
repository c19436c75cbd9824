from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.services import periodic_tasks_install


class Command(BaseCommand):
    help = (
        "Install the beat schedule into django-celery-beat's tables (also done after every migrate). "
        "--every N installs a short test schedule instead: every entry every N seconds."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--every",
            type=int,
            metavar="SECONDS",
            help="A test schedule: every entry (syncs, cleanup, token refresh...) every SECONDS "
            "seconds. Run the command again without it (or migrate) to restore the declared times.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        every = options["every"]
        if every is not None and every < 1:
            raise CommandError("--every needs a number of seconds of at least 1")
        count = periodic_tasks_install(every_seconds=every)
        if every:
            self.stdout.write(f"{count} periodic tasks installed, each every {every} s (a test schedule)")
        else:
            self.stdout.write(f"{count} periodic tasks installed")
