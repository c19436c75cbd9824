"""URLs and downloads that a visitor controls: no input ends in a 500, and no data names a file.

- **Downloads**: a campaign id from the warehouse goes into a CSV's file name. Every CSV download is
  built by one function, whose ``Content-Disposition`` holds an ASCII fallback and an RFC 5987
  ``filename*``, both from sanitized parts: an id like ``x"; filename*=UTF-8''evil.html; a="``
  cannot add a parameter, change the extension or name a path.
- **Ids**: a connection or run id past 64 bits (in the path or in ``?connection=``) is a 404, not an
  ``OverflowError``; a campaign id of any characters a platform allows (``/``, ``..``, spaces,
  ``%``, ``?``, ``#``, unicode) renders on the Campaigns page and links to its page and its CSV.
- **The fuzz**: every pattern of ``dashboard/urls.py``, the login pages and the admin, with every
  query parameter the views read, given ids past 64 bits, negative, zero, path characters, ``..``,
  NUL and control characters, unicode, huge numbers, long strings, empty and repeated values, as
  a plain member, an organization admin and a staff user: never a 500.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from freezegun import freeze_time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.models import Connection
from dashboard.exports import export_names
from dashboard.urls import urlpatterns
from etl.models import AdPerformanceDaily, SyncRun
from etl.services import today_utc
from sandbox.core import SandboxServer
from tenancy.models import Membership, Organization
from tests.dashboard import (
    PASSWORD,
    TODAY,
    add_account,
    add_deal,
    add_email,
    add_engagement,
    add_lead,
    add_row,
    make_connection,
    make_org,
    make_run,
    make_user,
)
from tests.sandboxes import run_sync

EVIL_ID = "x\"; filename*=UTF-8''evil.html; a=\""
# Ids a platform could send: every character a URL or a header treats specially, and unicode.
ODD_IDS = [
    "a/b",
    "/leading",
    "trailing/",
    "a//b",
    "..",
    ".",
    "../up",
    "a/../b",
    "with space",
    "100%",
    "%2F",
    "what?x=1",
    "#frag",
    "Frühling 春 🚀",
    "~7E",
    "~",
    "back\\slash",
    "tab\there",
    "line\nbreak",
    "<b>&amp;'\"",
    EVIL_ID,
]
MAX_BIGINT = 2**63 - 1
HUGE_IDS = [str(MAX_BIGINT + 1), str(2**64), str(2**64 + 1), "9" * 30, "9" * 5000]

# The strict shape of every download's header: nothing a value could add a parameter with.
DISPOSITION = re.compile(r"attachment; filename=\"([A-Za-z0-9._-]+)\"; filename\*=UTF-8''([A-Za-z0-9%._~-]+)")


def signed_in(
    username: str, organization: Organization | None, role: str | None = None, **extra: Any
) -> Client:
    user = make_user(username, organization=organization, **extra)
    if role is not None:
        Membership.objects.filter(user_id=user.pk).update(role=role)
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def content_disposition(filename: str) -> str:
    from dashboard.downloads import content_disposition

    return content_disposition(filename)


def download_names(header: str) -> tuple[str, str]:
    """The ASCII fallback and the decoded ``filename*`` of a Content-Disposition header."""
    found = DISPOSITION.fullmatch(header)
    assert found, f"not a safe Content-Disposition: {header!r}"
    return found[1], unquote(found[2], errors="strict")


def assert_safe_name(name: str, *, extension: str = ".csv") -> None:
    assert name.endswith(extension), name
    assert not name.startswith("."), name
    assert not set(name) & set("/\\\"';:%*?<>|=&#"), name
    assert all(ch.isprintable() and not ch.isspace() for ch in name), name
    assert len(name) <= 200


# --------------------------------------------------------------------------------------------
# Downloads: the file name
# --------------------------------------------------------------------------------------------


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_any_text_gives_one_safe_file_name(text: str) -> None:
    fallback, name = download_names(content_disposition(f"campaign_{text}_daily.csv"))
    assert_safe_name(fallback)
    assert_safe_name(name)
    assert fallback.isascii()
    assert fallback.startswith("campaign_") and name.startswith("campaign_")


def test_plain_names_are_kept_and_unicode_gets_an_ascii_fallback() -> None:
    assert download_names(content_disposition("campaigns_2025-03-02_2025-03-31.csv")) == (
        "campaigns_2025-03-02_2025-03-31.csv",
        "campaigns_2025-03-02_2025-03-31.csv",
    )
    fallback, name = download_names(content_disposition("campaign_Frühling 春_daily.csv"))
    assert fallback == "campaign_Fruhling_daily.csv"
    assert name == "campaign_Frühling_春_daily.csv"
    for hostile in (EVIL_ID, "../../etc/passwd", "a\r\nSet-Cookie: x=1", "\u202egpj.exe", "..", ""):
        for part in download_names(content_disposition(f"campaign_{hostile}_daily.csv")):
            assert_safe_name(part)


@pytest.mark.django_db
@pytest.mark.embedded
def test_a_campaign_id_cannot_name_the_downloaded_file() -> None:
    with freeze_time(f"{TODAY.isoformat()} 12:00:00"):
        org = make_org("Northwind")
        ads = make_connection(org)
        add_row(ads, day=TODAY, campaign_id=EVIL_ID, spend="5", impressions=10)
        add_row(ads, day=TODAY, campaign_id="Frühling/春", spend="5", impressions=10)
        client = signed_in("ann", org)
        url = reverse("dashboard:export_csv", args=["campaign_daily"])
        for campaign_id in (EVIL_ID, "Frühling/春"):
            response = client.get(url, {"connection": str(ads.pk), "campaign": campaign_id, "days": "7"})
            assert response.status_code == 200
            fallback, name = download_names(response["Content-Disposition"])
            for part in (fallback, name):
                assert_safe_name(part)
                assert part.startswith("campaign_") and part.endswith("_daily_2025-03-25_2025-03-31.csv")
                assert part.count(".") == 1  # the id adds no extension
        assert name == "campaign_Frühling_春_daily_2025-03-25_2025-03-31.csv"


@pytest.mark.django_db
@pytest.mark.embedded
@pytest.mark.parametrize("table", sorted(export_names()))
def test_every_download_goes_through_the_safe_header(table: str) -> None:
    with freeze_time(f"{TODAY.isoformat()} 12:00:00"):
        org = make_org("Northwind")
        ads = make_connection(org)
        add_row(ads, day=TODAY, campaign_id="501", spend="5")
        params: dict[str, str] = {"connection": str(ads.pk), "campaign": "501"}
        response = signed_in("ann", org).get(reverse("dashboard:export_csv", args=[table]), params)
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["X-Content-Type-Options"] == "nosniff"
        for part in download_names(response["Content-Disposition"]):
            assert_safe_name(part)


# --------------------------------------------------------------------------------------------
# Ids past 64 bits
# --------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.embedded
@pytest.mark.parametrize("huge", HUGE_IDS)
def test_ids_past_64_bits_are_not_found(huge: str) -> None:
    with freeze_time(f"{TODAY.isoformat()} 12:00:00"):
        org = make_org("Northwind")
        ads = make_connection(org)
        add_row(ads, day=TODAY, campaign_id="501", spend="5")
        client = signed_in("ann", org, Membership.Role.ADMIN)
        assert client.get(f"/campaigns/{huge}/501/").status_code == 404
        assert client.get(f"/campaigns/{ads.pk}/501/").status_code == 200
        export = reverse("dashboard:export_csv", args=["campaign_daily"])
        assert client.get(export, {"connection": huge, "campaign": "501"}).status_code == 404
        assert client.get(export, {"connection": f"-{huge}", "campaign": "501"}).status_code == 404
        runs = client.get(reverse("dashboard:export_csv", args=["sync_runs"]), {"connection": huge})
        assert runs.status_code == 200
        assert client.get(reverse("dashboard:sync_health"), {"connection": huge}).status_code == 200
        for action in ("connections/{}/sync/", "connections/{}/reconnect/", "sync/runs/{}/cancel/"):
            assert client.post("/" + action.format(huge)).status_code == 404, action


@pytest.mark.django_db
@pytest.mark.embedded
def test_ids_up_to_64_bits_still_resolve() -> None:
    assert reverse("dashboard:campaign", args=[MAX_BIGINT, "501"]) == f"/campaigns/{MAX_BIGINT}/501/"
    assert reverse("dashboard:sync_run_cancel", args=[1]) == "/sync/runs/1/cancel/"
    client = signed_in("ann", make_org("Northwind"))
    assert client.get(f"/campaigns/{MAX_BIGINT}/501/").status_code == 404
    assert client.get("/campaigns/0/501/").status_code == 404


# --------------------------------------------------------------------------------------------
# Campaign ids of any characters
# --------------------------------------------------------------------------------------------


def links(body: bytes, prefix: str) -> list[str]:
    """The links of a page whose path starts with ``prefix`` (a regular expression)."""
    return [html.unescape(href) for href in re.findall(rf'href="({prefix}[^"]*)"', body.decode())]


def as_a_browser_sends_it(link: str) -> str:
    """The path and query a browser requests for a link: dot segments resolved, no fragment."""
    parts = urlsplit(urljoin("http://testserver/campaigns/", link))
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.mark.django_db
@pytest.mark.embedded
def test_campaign_ids_of_any_characters_render_and_link() -> None:
    with freeze_time(f"{TODAY.isoformat()} 12:00:00"):
        org = make_org("Northwind")
        ads = make_connection(org)
        for n, campaign_id in enumerate(ODD_IDS):
            add_row(ads, day=TODAY, campaign_id=campaign_id, campaign_name=None, spend=str(n + 1), clicks=n)
        client = signed_in("ann", org)
        page = client.get(reverse("dashboard:campaigns"), {"days": "7"})
        assert page.status_code == 200
        found = links(page.content, r"/campaigns/\d")
        assert len(found) == len(ODD_IDS)
        seen = set()
        for link in found:
            path = urlsplit(link).path
            segments = path.split("/")
            assert "." not in segments and ".." not in segments and "//" not in path, link
            assert as_a_browser_sends_it(link) == link, link  # nothing a browser rewrites
            detail = client.get(link)
            assert detail.status_code == 200, link
            (campaign_id,) = [c for c in ODD_IDS if f"ID {html.escape(c)}\n" in detail.content.decode()]
            seen.add(campaign_id)
            (csv_link,) = links(detail.content, r"/export/campaign_daily\.csv")
            download = client.get(csv_link)
            assert download.status_code == 200, csv_link
            lines = download.content.decode().splitlines()
            assert len(lines) == 1 + 7 and any(line.startswith(TODAY.isoformat()) for line in lines)
            for part in download_names(download["Content-Disposition"]):
                assert_safe_name(part)
        assert seen == set(ODD_IDS)


@pytest.mark.django_db
@pytest.mark.embedded
def test_a_campaign_url_that_no_id_can_have_is_not_found() -> None:
    client = signed_in("ann", make_org("Northwind"))
    connection = make_connection(Organization.objects.get())
    for raw in ("%00", "a%00b", "x" * 65, "~", "~zz", "a~2"):
        assert client.get(f"/campaigns/{connection.pk}/{raw}/").status_code == 404, raw
    export = reverse("dashboard:export_csv", args=["campaign_daily"])
    for campaign_id in ("\x00", "a\x00b", "x" * 65, ""):
        response = client.get(export, {"connection": str(connection.pk), "campaign": campaign_id})
        assert response.status_code == 404, campaign_id


# --------------------------------------------------------------------------------------------
# The fuzz
# --------------------------------------------------------------------------------------------

NASTY = [
    "", " ", "0", "-0", "-1", "00", "1", "7", "30", "+7", "1_000", "1e3", "1.5", "0x1f", "\u0661\u0662", "NaN",
    "inf", "None", "true", "[]", "{}",
    str(MAX_BIGINT), str(MAX_BIGINT + 1), str(2**64), f"-{2**64}", "9" * 30, "9" * 5000,
    "..", "../..", ".", "/", "//evil.example", "/\\evil.example", "a/../b", "%2e%2e%2f", "\\", "~", "~2F",
    "\x00", "a\x00b", "\r\n", "\n", "\t", "\x1b[31m", "\x7f", "\x85", "\u202e", "\ufeff", "\u2028",
    "é", "春", "🚀", "İ", "ß", "ﬁ", "x" * 10_000, "'\"<>&;", "%", "%00", "%%", "%ZZ", "?", "#", "&", "=",
    "2025-02-30", "2025-03-31", "0001-01-01", "9999-12-31", "2025-03-31T23:59:59+14:00", "-2025-01-01",
    "https://evil.example/", "javascript:alert(1)",
]  # fmt: skip
# Every query parameter the dashboard reads (request.GET, request.POST and the exports' params).
PARAMS = [
    "days", "start", "end", "page", "platform", "status", "currency", "q", "sort", "dir", "connection",
    "campaign", "account", "state", "code", "error", "error_description", "next", "account_id",
]  # fmt: skip
RAW_QUERIES = ["%FF=%FE", "q=%ZZ&page=%", "=", "&&&", "q", "days", "days=7&days=14&days=", "a=" + "b" * 5000]
ADMIN_PARAMS = ["q", "o", "p", "e", "all", "_changelist_filters", "_to_field", "_popup", "status__exact",
                "platform__exact", "organization__id__exact", "role__exact", "date__gte", "id__in"]  # fmt: skip
PATH_VALUES = [*NASTY, *HUGE_IDS, *ODD_IDS]
# One value of each kind, where every value of NASTY would take too long.
CORE = [
    "", "0", "-1", str(2**64), "9" * 5000, "..", "/", "//evil.example", "\x00", "a\x00b", "\r\n", "\x1b[31m",
    "\u202e", "春", "🚀", "x" * 10_000, "'\"<>&;", "%", "?", "#", "9999-12-31", "javascript:alert(1)",
]  # fmt: skip


@dataclass
class Site:
    """An organization with synced sandbox data, and who visits it."""

    organization: Organization
    ads: Connection
    run: SyncRun
    clients: dict[str, Client]
    valid: dict[str, str]  # a real value for each kind of path argument
    admin_urls: list[str]


def path_templates() -> dict[str, str]:
    """Each dashboard URL pattern as a path with ``{name}`` for each of its arguments."""
    return {p.name: "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(p.pattern)) for p in urlpatterns if p.name}


def fuzz_path(template: str, site: Site, values: dict[str, str], *, raw: bool) -> str:
    """A path with the given values in its arguments, percent-encoded (or raw: ``/`` and ``..`` left)."""
    names = re.findall(r"{(\w+)}", template)
    filled = {n: values.get(n, site.valid[n]) for n in names}
    return template.format(**{n: quote(v, safe="/" if raw else "") for n, v in filled.items()})


@pytest.fixture
def site(linkedin_connection: Connection, linkedin_sandbox: SandboxServer) -> Iterator[Site]:
    run = run_sync(linkedin_connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert AdPerformanceDaily.objects.filter(connection=linkedin_connection).exists()
    org = linkedin_connection.organization
    today = today_utc()
    noon = datetime(today.year, today.month, today.day, 12, tzinfo=UTC)
    odd = make_connection(org, account_id="odd-ids", name="Odd ids")
    for n, campaign_id in enumerate(ODD_IDS):
        add_row(odd, day=today - timedelta(days=n % 5), campaign_id=campaign_id, spend=f"{n}.5", clicks=n)
    add_row(
        odd, day=today, campaign_id="eur", currency="EUR", spend="3", conversions="1", conversion_value="9"
    )
    mail = make_connection(org, platform="mailchimp", account_id="mc", name="Mail")
    add_email(mail, campaign_id="m1", send_time=noon)
    crm = make_connection(org, platform="zoho_crm", account_id="crm", name="CRM")
    add_lead(crm, lead_id="l1", created=noon, lead_source="Web", campaign_name="Spring", utm_campaign="a/b")
    add_deal(crm, deal_id="d1", created=noon, deal_name="Deal", stage="Won", amount="10", currency="USD")
    abm = make_connection(org, platform="demandbase", account_id="abm", name="ABM")
    add_account(abm, account_id="acct", name="Target", domain="t.example", engagement_points_30d="5")
    add_engagement(abm, account_id="acct", day=today, domain="t.example", intent_keywords="kw")
    in_flight = SyncRun.objects.create(
        connection=mail, status=SyncRun.Status.RUNNING, window_start=today, window_end=today
    )
    make_run(crm, status=SyncRun.Status.FAILED, error_message="Token revoked", finished_at=noon)
    # Nothing a fuzzed request presses starts a real sync: the connections are paused.
    Connection.objects.filter(organization=org).update(status=Connection.Status.PAUSED)
    clients = {
        "member": signed_in("mia", org, Membership.Role.MEMBER),
        "admin": signed_in("ada", org, Membership.Role.ADMIN),
        "staff": signed_in(
            "sam", make_org("Staff Org"), Membership.Role.ADMIN, is_staff=True, is_superuser=True
        ),
    }
    admin_urls = ["/admin/", "/admin/login/", "/admin/password_change/", "/admin/jsi18n/", "/admin/autocomplete/",
                  "/admin/r/{id}/{id}/"]  # fmt: skip
    admin_urls += sorted({f"/admin/{model._meta.app_label}/" for model in admin.site._registry})
    for model in admin.site._registry:
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        admin_urls += [base, base + "add/", base + "{id}/change/", base + "{id}/history/", base + "{id}/delete/",
                       base + "{id}/"]  # fmt: skip
    valid = {
        "connection_id": str(odd.pk),
        "campaign_id": "eur",
        "sync_run_id": str(in_flight.pk),
        "table": "campaigns",
        "platform": "linkedin_ads",
    }
    yield Site(org, linkedin_connection, run, clients, valid, admin_urls)


FIXED_PATHS = [
    "/accounts/login/", "/accounts/logout/", "/campaigns/1/a/b/../../", "/export/.csv", "/export/x.y.csv",
    "/campaigns/%2e%2e/", "/%00/", "/sync/runs//cancel/", "/connections/new/%C0%AE/",
]  # fmt: skip


class Sweep:
    """Requests that must not fail; every failure is kept (one per route and error) and reported."""

    def __init__(self) -> None:
        self.failures: dict[tuple[str, str, str], str] = {}
        self.count = 0

    def __call__(self, client: Client, method: str, path: str, data: Any = None) -> None:
        self.count += 1
        try:
            status = send(client, method, path, data)
        except Exception as exc:  # the test client re-raises a view's exception: that is the 500
            kind, error = type(exc).__name__, f"{type(exc).__name__}: {str(exc)[:200]}"
        else:
            if status < 500:
                return
            kind = error = f"status {status}"
        route = re.sub(r"/[^/]*\d[^/]*", "/*", urlsplit(path).path)
        self.failures.setdefault((method, route, kind), f"{method} {path[:300]} {str(data)[:300]} -> {error}")


def send(client: Client, method: str, path: str, data: Any = None) -> int:
    response = client.get(path, data) if method == "GET" else client.post(path, data or {})
    return response.status_code


@pytest.mark.django_db(transaction=True)
@pytest.mark.embedded
def test_fuzz_every_url_and_parameter_never_gives_a_500(site: Site) -> None:
    templates = path_templates()
    assert set(templates) == {p.name for p in urlpatterns}
    member, org_admin, staff = site.clients["member"], site.clients["admin"], site.clients["staff"]
    sweep = Sweep()

    # Every path argument of every pattern, with every nasty value, raw and encoded, GET and POST.
    for template in templates.values():
        for arg in re.findall(r"{(\w+)}", template):
            for value in PATH_VALUES:
                for raw in (False, True):
                    path = fuzz_path(template, site, {arg: value}, raw=raw)
                    sweep(org_admin, "GET", path)
                    sweep(member, "POST", path)
    for path in FIXED_PATHS:
        sweep(member, "GET", path)

    # Every GET page (each export, a real campaign) with every parameter it reads set to each nasty
    # value, the period given by ?days=, ?start= or ?end= in turn, every other time repeated.
    pages = [fuzz_path(t, site, {}, raw=False) for n, t in templates.items() if n != "export_csv"]
    synced = AdPerformanceDaily.objects.filter(connection=site.ads).values_list("campaign_id", flat=True)
    pages += [
        reverse("dashboard:campaign", args=[site.ads.pk, synced[0]]),
        "/accounts/login/",
        "/admin/login/",
    ]
    pages += [reverse("dashboard:export_csv", args=[t]) for t in ("campaigns", "campaign_daily", "sync_runs")]
    period_only = [reverse("dashboard:export_csv", args=[t]) for t in sorted(export_names())]
    today = today_utc().isoformat()
    for n, value in enumerate(NASTY):
        for k, page in enumerate(pages + period_only[n % 4 :: 4]):
            params: dict[str, Any] = {p: value for p in PARAMS if p not in ("start", "end", "days")}
            params.update(
                [{"days": value}, {"start": value, "end": today}, {"start": today, "end": value}][(n + k) % 3]
            )
            if (n + k) % 2:
                params = {p: ["7", v] for p, v in params.items()}
            sweep((member, org_admin)[k % 2], "GET", page, params)
    for page in pages:
        for query in RAW_QUERIES:
            sweep(member, "GET", f"{page}?{query}")
    # The CSV of each campaign whose id holds characters a URL or a header treats specially.
    for campaign_id in ODD_IDS:
        export = reverse("dashboard:export_csv", args=["campaign_daily"])
        sweep(member, "GET", export, {"connection": site.valid["connection_id"], "campaign": campaign_id})

    # The actions' form fields (the connections are paused, so nothing syncs).
    actions = [
        reverse("dashboard:connection_sync_now", args=[site.valid["connection_id"]]),
        reverse("dashboard:connection_reconnect", args=[site.valid["connection_id"]]),
        reverse("dashboard:sync_run_cancel", args=[site.valid["sync_run_id"]]),
        *(
            reverse("dashboard:connect_platform", args=[p])
            for p in ("linkedin_ads", "demandbase", "zoho_crm")
        ),
    ]
    for action in actions:
        for n, value in enumerate(NASTY):
            sweep((member, org_admin)[n % 2], "POST", action, {p: value for p in PARAMS})

    # The admin: a member is sent to its login; a staff user reaches every page with every parameter.
    for k, url in enumerate(site.admin_urls):
        sweep(member, "GET", url.replace("{id}", "1"), {"next": NASTY[k % len(NASTY)]})
        values = (
            CORE if url.endswith("/") and "{" not in url and not url.endswith("add/") else CORE[k % 4 :: 4]
        )
        for value in values:
            sweep(staff, "GET", url.replace("{id}", quote(value, safe="")), {p: value for p in ADMIN_PARAMS})

    assert not sweep.failures, f"{len(sweep.failures)} kinds of 500 in {sweep.count} requests:\n" + "\n".join(
        sweep.failures.values()
    )

    @given(
        name=st.sampled_from(sorted(templates)),
        args=st.dictionaries(
            st.sampled_from(["connection_id", "campaign_id", "sync_run_id", "table", "platform"]),
            st.one_of(st.sampled_from(PATH_VALUES), st.text(st.characters(exclude_categories=["Cs"]))),
        ),
        params=st.dictionaries(
            st.sampled_from(PARAMS),
            st.one_of(
                st.sampled_from(NASTY),
                st.text(st.characters(exclude_categories=["Cs"])),
                st.integers().map(str),
                st.lists(st.sampled_from(NASTY), min_size=2, max_size=4),
            ),
        ),
        raw=st.booleans(),
        method=st.sampled_from(["GET", "POST"]),
        who=st.sampled_from(["member", "admin", "staff"]),
    )
    @settings(
        max_examples=250,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    def random_requests(
        name: str, args: dict[str, str], params: dict[str, Any], raw: bool, method: str, who: str
    ) -> None:
        status = send(site.clients[who], method, fuzz_path(templates[name], site, args, raw=raw), params)
        assert status < 500

    random_requests()
    assert org_admin.get(reverse("dashboard:overview")).status_code == 200  # still signed in
