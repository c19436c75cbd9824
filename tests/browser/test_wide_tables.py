"""Every table a marketer reads, on demo-like data, in a real browser at 1280 and 1440 px: every
column in view without scrolling sideways, names where the warehouse has them (not raw ids),
amounts ranked within their currency, and totals equal to the sum of their rows to the cent.

Screenshots are saved under test-artifacts/browser/.
"""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from etl.models import AdPerformanceDaily
from tenancy.models import Membership, Organization
from tests.dashboard.demo_data import LINKEDIN_IDS, build_demo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

USERNAME, PASSWORD = "marketer", "a-long-browser-password"
WIDTHS = (1280, 1440)
MONEY = re.compile(r"^(-?[\d,]+\.\d{2}) ([A-Z]{3})$")

# What every table cell reports about its place: the table, its wrapper, the viewport.
LAYOUT = """
() => [...document.querySelectorAll("main table")]
  .filter((table) => table.offsetParent !== null)
  .map((table) => {
    const wrap = table.closest(".table-wrap") || table.parentElement;
    const box = wrap.getBoundingClientRect();
    return {
      table: table.id || table.closest("section, .card")?.querySelector("h2, h3")?.textContent.trim() || "?",
      overflow: wrap.scrollWidth - wrap.clientWidth,
      hidden: [...table.querySelectorAll("thead th")]
        .filter((th) => {
          const r = th.getBoundingClientRect();
          return r.right > Math.min(box.right, window.innerWidth) + 1 || r.left < box.left - 1;
        })
        .map((th) => th.textContent.trim()),
      columns: table.querySelectorAll("thead th").length,
    };
  })
"""


@pytest.fixture
def demo() -> Organization:
    organization = build_demo(timezone.now().date())
    user = get_user_model().objects.create_user(username=USERNAME, password=PASSWORD)
    Membership.objects.create(organization=organization, user=user, role=Membership.Role.ADMIN)
    return organization


def log_in(page: Any, base: str) -> None:
    page.goto(base + "/accounts/login/")
    page.fill("input[name=username]", USERNAME)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.form button[type=submit]")
    page.wait_for_selector("nav.tabs")


def money(text: str) -> tuple[Decimal, str]:
    found = MONEY.match(" ".join(text.split()))
    assert found, text
    return Decimal(found.group(1).replace(",", "")), found.group(2)


def first_line(page: Any, selector: str) -> list[str]:
    """The first line of text of every element matched (a figure without its note below)."""
    return [text.strip().splitlines()[0].strip() for text in page.locator(selector).all_inner_texts()]


def pages_of(demo: Organization) -> list[tuple[str, str]]:
    """Every page with a table, the campaign table in both its grouped and its ungrouped form."""
    row = AdPerformanceDaily.objects.filter(organization=demo).order_by("-spend").first()
    assert row is not None
    return [
        ("overview", "/"),
        ("campaigns", "/campaigns/"),
        ("campaigns-by-clicks", "/campaigns/?sort=clicks&dir=desc"),
        ("campaign", f"/campaigns/{row.connection_id}/{row.campaign_id}/"),
        ("email", "/email/"),
        ("pipeline", "/pipeline/"),
        ("funnel", "/funnel/"),
        ("accounts", "/target-accounts/"),
        ("sync-health", "/sync/"),
    ]


@pytest.mark.parametrize("width", WIDTHS)
def test_every_column_is_in_view(
    browser: Any, live_server: Any, demo: Organization, artifacts: Path, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(60_000)
    page = context.new_page()
    try:
        log_in(page, live_server.url)
        for name, path in pages_of(demo):
            page.goto(live_server.url + path)
            for details in page.locator("main details").all():
                details.evaluate("(element) => { element.open = true; }")
            tables = page.evaluate(LAYOUT)
            assert tables, name
            for table in tables:
                assert table["overflow"] <= 1, (width, name, table)
                assert not table["hidden"], (width, name, table)
            page.screenshot(path=str(artifacts / f"wide-{width}-{name}.png"), full_page=True)
        # The campaign table shows all ten of its columns (figures included) on both pages.
        for path in ("/", "/campaigns/"):
            page.goto(live_server.url + path)
            headers = [
                " ".join(t.split()) for t in page.locator("#campaigns-table thead th").all_inner_texts()
            ]
            for wanted in ("Spend", "Conversions", "Cost / conv.", "Conv. value", "ROAS"):
                assert any(h.upper().startswith(wanted.upper()) for h in headers), (path, headers)
    finally:
        context.close()


def test_names_not_ids(page: Any, live_server: Any, demo: Organization) -> None:
    log_in(page, live_server.url)
    page.goto(live_server.url + "/pipeline/")
    for table in ("#leads-by-campaign", "#deals-by-campaign"):
        labels = first_line(page, f"{table} tbody td:first-child")
        assert labels, table
        assert not [label for label in labels if label in LINKEDIN_IDS], (table, labels)
        named = page.locator(f"{table} td[data-campaign-id]")
        assert named.count() > 0, table
        first = named.first
        campaign_id = first.get_attribute("data-campaign-id")
        assert campaign_id in LINKEDIN_IDS
        assert campaign_id in (first.get_attribute("title") or "")  # the id, on hover
    # Campaigns are named by their names, their ids on hover.
    page.goto(live_server.url + "/campaigns/")
    links = page.locator("#campaigns-table tbody td:first-child a")
    assert links.count() > 0
    for text, title in zip(
        links.all_inner_texts(),
        [links.nth(i).get_attribute("title") for i in range(links.count())],
        strict=True,
    ):
        assert not text.strip().isdigit(), text
        assert title and re.search(r"ID \d+$", title), title


def test_amounts_are_ranked_within_their_currency(page: Any, live_server: Any, demo: Organization) -> None:
    log_in(page, live_server.url)
    for path in ("/campaigns/", "/campaigns/?sort=cpc&dir=asc", "/"):
        page.goto(live_server.url + path)
        rows = page.locator("#campaigns-table tbody tr:not(.table__group)")
        currencies = [rows.nth(i).get_attribute("data-currency") for i in range(rows.count())]
        groups = [c for i, c in enumerate(currencies) if i == 0 or currencies[i - 1] != c]
        assert len(groups) == len(set(groups)) > 1, (path, groups)  # each currency in one block
        headers = page.locator("#campaigns-table tr.table__group").all_inner_texts()
        assert [h.strip() for h in headers] == [f"In {c}" for c in groups], path
        if path == "/campaigns/":
            spends = [
                money(t)
                for t in first_line(page, "#campaigns-table tbody tr:not(.table__group) td:nth-child(2)")
            ]
            for currency in groups:
                amounts = [amount for amount, unit in spends if unit == currency]
                assert amounts == sorted(amounts, reverse=True), currency


def test_totals_equal_their_rows_to_the_cent(page: Any, live_server: Any, demo: Organization) -> None:
    log_in(page, live_server.url)
    page.goto(live_server.url + "/")
    totals = {}
    for group in page.locator(".kpi-group").all():
        value = group.locator("[data-kpi=spend] .kpi__value").inner_text()
        amount, currency = money(value)
        totals[currency] = amount
    assert len(totals) == 3
    by_platform: dict[str, Decimal] = defaultdict(Decimal)
    for text in first_line(page, "#platforms-table tbody td:nth-child(2)"):
        amount, currency = money(text)
        by_platform[currency] += amount
    assert by_platform == totals
    for details in page.locator("main details").all():
        details.evaluate("(element) => { element.open = true; }")
    by_day: dict[str, Decimal] = defaultdict(Decimal)
    for card in page.locator("section[aria-labelledby=daily-title] .card").all():
        for text in first_line(card, "tbody td:nth-child(2)"):
            amount, currency = money(text)
            by_day[currency] += amount
    assert by_day == totals
