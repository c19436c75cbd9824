"""The demo's user opens the admin (the README and Sync health send people there for the schedule),
as staff with the demo group's permissions, never as a superuser."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from dashboard.management.commands.demo_setup import DEMO_PASSWORD, DEMO_USER, demo_user_setup
from tenancy.models import Organization
from tests.dashboard import make_connection, make_org, make_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_org() -> Organization:
    call_command("setup_periodic_tasks")
    return make_org("Demo Marketing Team")


@pytest.fixture
def demo_client(demo_org: Organization) -> Client:
    demo_user_setup(demo_org)
    demo_user_setup(demo_org)  # idempotent, as `make demo` run twice
    client = Client()
    assert client.login(username=DEMO_USER, password=DEMO_PASSWORD)
    return client


def test_the_demo_user_opens_the_admin_and_the_schedule(demo_client: Client) -> None:
    index = demo_client.get(reverse("admin:index"))
    assert index.status_code == 200
    assert "Periodic tasks" in index.content.decode()

    listing = demo_client.get(reverse("admin:django_celery_beat_periodictask_changelist"))
    assert listing.status_code == 200
    assert "sync all platforms every 6 hours" in listing.content.decode()

    task = PeriodicTask.objects.get(name="sync all platforms every 6 hours")
    change = demo_client.get(reverse("admin:django_celery_beat_periodictask_change", args=[task.pk]))
    assert change.status_code == 200 and 'name="_save"' in change.content.decode()  # editable, not view-only
    crontab = CrontabSchedule.objects.get(pk=task.crontab_id)
    edit = demo_client.get(reverse("admin:django_celery_beat_crontabschedule_change", args=[crontab.pk]))
    assert edit.status_code == 200 and 'name="_save"' in edit.content.decode()


def test_the_demo_user_sees_what_the_readme_points_to(demo_client: Client, demo_org: Organization) -> None:
    connection = make_connection(demo_org)
    run = make_run(connection)
    for url in (
        reverse("admin:tenancy_organization_change", args=[demo_org.pk]),
        reverse("admin:connectors_connection_change", args=[connection.pk]),
        reverse("admin:etl_syncrun_change", args=[run.pk]),
        reverse("admin:etl_quarantinedrecord_changelist"),
        reverse("admin:etl_adperformancedaily_changelist"),
        reverse("admin:auth_user_changelist"),
    ):
        assert demo_client.get(url).status_code == 200, url


def test_the_demo_user_is_no_superuser(demo_client: Client, demo_org: Organization) -> None:
    user = demo_user_setup(demo_org)
    assert user.is_staff and not user.is_superuser
    assert not user.has_perm("auth.change_user") and not user.has_perm("connectors.delete_organization")
    # Users, groups and permissions stay with the installation's superusers.
    assert demo_client.get(reverse("admin:auth_group_changelist")).status_code == 403
    assert demo_client.get(reverse("admin:auth_user_add")).status_code == 403
    user_page = demo_client.get(reverse("admin:auth_user_change", args=[user.pk])).content.decode()
    assert 'name="is_superuser"' not in user_page
