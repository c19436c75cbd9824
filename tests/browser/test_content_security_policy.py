"""Under the Content-Security-Policy, in a real browser: every page loads with no violation, the
run filter on Sync health works (a Show button now, not an inline ``onchange`` handler), and the
admin's periodic-task form still shows the crontab in words (its script is a static file).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from dashboard.services import periodic_tasks_install
from tenancy.models import Membership, Organization
from tests.dashboard import make_connection, make_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

USERNAME, PASSWORD = "admin", "a-long-browser-password"


def watch_violations(page: Any) -> list[str]:
    violations: list[str] = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.on("pageerror", lambda error: violations.append(f"page error: {error}"))
    return violations


def test_pages_work_under_the_policy(page: Any, live_server: Any) -> None:
    organization = Organization.objects.create(name="Northwind", slug="northwind")
    user = get_user_model().objects.create_user(
        username=USERNAME, password=PASSWORD, is_staff=True, is_superuser=True
    )
    Membership.objects.create(organization=organization, user=user, role=Membership.Role.ADMIN)
    first = make_connection(organization, account_id="508000001", name="LinkedIn main")
    second = make_connection(organization, account_id="508000002", name="LinkedIn DACH")
    make_run(first)
    make_run(second)
    periodic_tasks_install()
    violations = watch_violations(page)
    base = live_server.url

    page.goto(base + "/")
    page.fill("input[name=username]", USERNAME)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.form button[type=submit]")
    page.wait_for_selector("nav.tabs")
    response = page.goto(base + "/sync/")
    assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]

    # The run filter: choose a connection, press Show.
    page.select_option("#run-filter", str(second.pk))
    page.click("form.inline-form:has(#run-filter) button[type=submit]")
    page.wait_for_url(re.compile(rf".*/sync/\?connection={second.pk}$"))
    assert "LinkedIn DACH" in page.locator("#runs-title").inner_text()

    for path in ("/", "/campaigns/", "/email/", "/pipeline/", "/target-accounts/", "/connections/new/",
                 "/connections/new/zoho_crm/", "/admin/", "/admin/connectors/connection/"):  # fmt: skip
        page.goto(base + path)
        page.wait_for_load_state("load")

    # The admin's periodic task form: the crontab's translation is shown by a static script.
    page.goto(base + "/admin/django_celery_beat/periodictask/")
    page.click("#result_list tbody tr th a")
    page.wait_for_selector(".field-crontab")
    page.wait_for_load_state("load")
    assert violations == []
    assert "Translation:" in page.locator(".field-crontab .help").inner_text()
