"""Create the demo organization and user, and register every sandbox account as a connection.

Run after ``run_sandbox`` with its environment loaded (``make demo`` does both).
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from connectors.errors import ConnectorError
from connectors.models import Membership
from connectors.registry import platforms
from connectors.services import connection_create, organization_get_or_create
from dashboard.management.quiet import quiet_logs

DEMO_ORG = "demo"
DEMO_USER = "demo"
DEMO_PASSWORD = "demo-analytics"


class Command(BaseCommand):
    help = "Create the demo organization, its user and the sandbox connections (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        # A failure is reported in one line; the per-attempt retry warnings are for -v 2.
        with quiet_logs(options["verbosity"], ["connectors"], logging.ERROR):
            self._setup(options)

    def _setup(self, options: dict[str, Any]) -> None:
        organization = organization_get_or_create(slug=DEMO_ORG, name="Demo Marketing Team")
        user, created = get_user_model().objects.get_or_create(username=DEMO_USER)
        if created or not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
            user.save()
        Membership.objects.get_or_create(organization=organization, user=user, defaults={"role": "admin"})

        for platform in platforms():
            try:
                sandbox = importlib.import_module(f"connectors.{platform}.sandbox")
            except ModuleNotFoundError:
                continue
            for spec in getattr(sandbox, "DEMO_CONNECTIONS", []):
                try:
                    connection = connection_create(
                        organization=organization,
                        platform=platform,
                        account_id=spec["account_id"],
                        credentials=spec["credentials"],
                        options=spec.get("options", {}),
                        check=True,
                    )
                except ConnectorError as exc:
                    raise CommandError(
                        f"{platform} {spec['account_id']}: {exc.message} (is the sandbox running and its "
                        "environment loaded? `make demo` does both)"
                    ) from None
                self.stdout.write(f"connection {connection.pk}: {connection.platform} {connection.name}")
        self.stdout.write(self.style.SUCCESS(f"Log in as {DEMO_USER} / {DEMO_PASSWORD}"))
