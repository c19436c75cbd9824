from typing import Any

from django.core.management.base import BaseCommand

from dashboard.services import periodic_tasks_install


class Command(BaseCommand):
    help = "Install the beat schedule into django-celery-beat's tables (also done after every migrate)."

    def handle(self, *args: Any, **options: Any) -> None:
        count = periodic_tasks_install()
        self.stdout.write(f"{count} periodic tasks installed")
