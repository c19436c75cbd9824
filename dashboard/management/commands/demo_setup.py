"""Create the demo organization and user, and register every sandbox account as a connection.

Run after ``run_sandbox`` with its environment loaded (``make demo`` does both).

The demo user may also open the admin (``/admin/``), where the README and Sync health send people
to edit the beat schedule. It is staff with the permissions of the "Demo operators" group, not a
superuser: a superuser could also edit users, groups and permissions (and make anyone a superuser)
and delete organizations with all their data, none of which the demo needs. The group grants:

- the schedule: django-celery-beat's periodic tasks (view, add, change, delete) and the schedules
  they point to (crontab, interval, clocked: view, add, change; solar: view);
- organizations (view, change) and their memberships (view, add, change, delete), where a member's
  role is set; users (view only, so a member can be picked but no account or permission changed);
- connections (view, change: pause one, set its restatement days or options, never its tokens);
- the pipeline's runs, quarantined records and warehouse tables (view: they are read-only there).

A production installation makes its administrators with ``manage.py createsuperuser``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group, Permission
from django.core.management.base import BaseCommand, CommandError

from connectors.errors import ConnectorError
from connectors.registry import platforms
from connectors.services import connection_create
from dashboard.management.commands.run_sandbox import sandbox_serve
from dashboard.management.quiet import quiet_logs
from tenancy.models import Membership, Organization
from tenancy.services import organization_get_or_create

DEMO_ORG = "demo"
DEMO_USER = "demo"
DEMO_PASSWORD = "demo-analytics"
DEMO_GROUP = "Demo operators"

# (app label, model) -> the actions the demo user may take in the admin; see the module docstring.
DEMO_ADMIN_PERMISSIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("django_celery_beat", "periodictask"): ("view", "add", "change", "delete"),
    ("django_celery_beat", "crontabschedule"): ("view", "add", "change"),
    ("django_celery_beat", "intervalschedule"): ("view", "add", "change"),
    ("django_celery_beat", "clockedschedule"): ("view", "add", "change"),
    ("django_celery_beat", "solarschedule"): ("view",),
    ("tenancy", "organization"): ("view", "change"),
    ("tenancy", "membership"): ("view", "add", "change", "delete"),
    ("connectors", "connection"): ("view", "change"),
    ("auth", "user"): ("view",),
}


def demo_admin_permissions() -> list[Permission]:
    """The permissions of the demo's group: the table above, and a view of every pipeline model
    that the admin shows (runs, quarantine, warehouse tables)."""
    wanted = dict(DEMO_ADMIN_PERMISSIONS)
    for model in apps.get_app_config("etl").get_models():
        if admin.site.is_registered(model):
            wanted[("etl", model._meta.model_name or "")] = ("view",)
    permissions = []
    for (app_label, model_name), actions in wanted.items():
        for action in actions:
            codename = f"{action}_{model_name}"
            permissions.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return permissions


def demo_user_setup(organization: Organization) -> AbstractUser:
    """The demo user (idempotent): an admin of ``organization`` and staff of the demo's group."""
    group, _ = Group.objects.get_or_create(name=DEMO_GROUP)
    group.permissions.set(demo_admin_permissions())
    user, created = get_user_model().objects.get_or_create(username=DEMO_USER)
    assert isinstance(user, AbstractUser)
    if created or not user.check_password(DEMO_PASSWORD) or not user.is_staff:
        user.set_password(DEMO_PASSWORD)
        user.is_staff = True  # never a superuser: see the module docstring
        user.save()
    user.groups.add(group)
    Membership.objects.get_or_create(organization=organization, user=user, defaults={"role": "admin"})
    return user


class Command(BaseCommand):
    help = "Create the demo organization, its user and the sandbox connections (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        # A failure is reported in one line; the per-attempt retry warnings are for -v 2.
        with quiet_logs(options["verbosity"], ["connectors"], logging.ERROR):
            self._setup(options)

    def _setup(self, options: dict[str, Any]) -> None:
        serve = sandbox_serve()  # the demo's accounts are the sandbox's
        organization = organization_get_or_create(slug=DEMO_ORG, name="Demo Marketing Team")
        demo_user_setup(organization)

        for platform in platforms():
            for spec in serve.demo_connections(platform):
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
        # The password is printed once, by `make demo` just before the dashboard starts.
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo user {DEMO_USER!r} ready: an admin of {organization.name}, and staff in the admin "
                "(/admin/: the schedule, organizations, connections, runs)"
            )
        )
