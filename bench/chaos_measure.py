"""What the fault suite compares: the rows a sandbox serves against the rows in the warehouse.

``served`` is the sandbox's own account of the rows its API serves for a window, and ``loaded`` the
rows of the connection in the warehouse, both keyed by natural key. The queries take a database
alias, so the same comparison reads the scratch PostgreSQL database of the worker scenarios and the
SQLite file of the embedded ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

Key = tuple[str, ...]  # a warehouse row's natural key, e.g. (campaign id, ISO date)
Values = tuple[Any, ...]  # the row's compared values, e.g. (impressions, clicks, spend)
Served = Callable[[Any, str, date, date], dict[Key, Values]]  # (sandbox app, account, start, end)
Loaded = Callable[[int, str], list[tuple[Key, Values]]]  # (connection id, database alias)


@dataclass(frozen=True)
class Platform:
    """How the suite connects one platform's sandbox account and what its warehouse should hold.

    ``data_path`` is the request path (or gRPC method) of the platform's main data call: the one a
    ``hold`` fault keeps in flight when a scenario must act in the middle of an extract.
    """

    account_id: str
    module: str  # the sandbox module, whose first demo connection gives the credentials
    data_path: str
    served: Served
    loaded: Loaded
    options: dict[str, str] = field(default_factory=dict)

    def credentials(self) -> dict[str, str]:
        import importlib

        return dict(importlib.import_module(self.module).DEMO_CONNECTIONS[0]["credentials"])


def ad_rows(rows: list[dict[str, Any]]) -> dict[Key, Values]:
    return {
        (str(r["campaign_id"]), r["date"].isoformat()): (
            int(r["impressions"]),
            int(r["clicks"]),
            Decimal(str(r["cost"])),
        )
        for r in rows
    }


def linkedin_served(app: Any, account_id: str, start: date, end: date) -> dict[Key, Values]:
    from sandbox.linkedin_ads import expected_daily_rows

    return ad_rows(expected_daily_rows(account_id, start, end))


def google_served(app: Any, account_id: str, start: date, end: date) -> dict[Key, Values]:
    from sandbox.google_ads.catalogue import expected_daily_rows

    return ad_rows(expected_daily_rows(account_id, start, end))


def ad_loaded(connection_id: int, using: str) -> list[tuple[Key, Values]]:
    from etl.models import AdPerformanceDaily

    return [
        ((r.campaign_id, r.date.isoformat()), (r.impressions, r.clicks, Decimal(r.spend)))
        for r in AdPerformanceDaily.objects.using(using).filter(connection_id=connection_id)
    ]


EMAIL_COUNTS = ("emails_sent", "opens", "unique_opens", "clicks", "unique_clicks", "bounces", "unsubscribes")


def mailchimp_served(app: Any, account_id: str, start: date, end: date) -> dict[Key, Values]:
    from sandbox.mailchimp import expected_campaign_rows

    rows = expected_campaign_rows(account_id, start, end, now=app.moment())
    return {
        (r["campaign_id"],): (
            r["send_time"],
            *(r[name] for name in EMAIL_COUNTS),
            round(r["open_rate"], 6),
            round(r["click_rate"], 6),
        )
        for r in rows
    }


def mailchimp_loaded(connection_id: int, using: str) -> list[tuple[Key, Values]]:
    from etl.models import EmailCampaign

    return [
        (
            (r.campaign_id,),
            (
                r.send_time,
                *(getattr(r, name) for name in EMAIL_COUNTS),
                round(float(r.open_rate or 0), 6),
                round(float(r.click_rate or 0), 6),
            ),
        )
        for r in EmailCampaign.objects.using(using).filter(connection_id=connection_id)
    ]


def zoho_served(app: Any, account_id: str, start: date, end: date) -> dict[Key, Values]:
    from sandbox.zoho_crm import expected_records

    since = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    leads: dict[Key, Values] = {
        ("lead", r["id"]): (datetime.fromisoformat(r["Modified_Time"]), r["Lead_Status"], r["Owner"]["name"])
        for r in expected_records(account_id, "Leads", since=since)
    }
    deals: dict[Key, Values] = {
        ("deal", r["id"]): (
            datetime.fromisoformat(r["Modified_Time"]),
            r["Stage"],
            None if r["Amount"] is None else Decimal(str(r["Amount"])),
        )
        for r in expected_records(account_id, "Deals", since=since)
    }
    return {**leads, **deals}


def zoho_loaded(connection_id: int, using: str) -> list[tuple[Key, Values]]:
    from etl.models import CrmDeal, CrmLead

    leads: list[tuple[Key, Values]] = [
        (("lead", r.lead_id), (r.modified_time, r.status, r.owner))
        for r in CrmLead.objects.using(using).filter(connection_id=connection_id)
    ]
    deals: list[tuple[Key, Values]] = [
        (("deal", r.deal_id), (r.modified_time, r.stage, r.amount))
        for r in CrmDeal.objects.using(using).filter(connection_id=connection_id)
    ]
    return leads + deals


def demandbase_served(app: Any, account_id: str, start: date, end: date) -> dict[Key, Values]:
    from etl.services import today_utc
    from tests.connectors.demandbase.truth import account_truth, engagement_truth, intent_truth

    today = today_utc()
    accounts: dict[Key, Values] = {
        ("account", account): values for account, values in account_truth(today).items()
    }
    intent: dict[Key, Values] = {
        ("intent", account, day.isoformat()): values
        for (account, day), values in intent_truth(start, end, today=today).items()
    }
    # The daily table carries intent (weekly, on the period's end) and engagement (each active day)
    # side by side: each is compared on the rows that have it.
    engagement: dict[Key, Values] = {
        ("engagement", account, day.isoformat()): values
        for (account, day), values in engagement_truth(start, end, as_of=today).items()
    }
    return {**accounts, **intent, **engagement}


def demandbase_loaded(connection_id: int, using: str) -> list[tuple[Key, Values]]:
    from etl.models import AbmAccount, AbmEngagementDaily

    accounts: list[tuple[Key, Values]] = [
        (
            ("account", r.account_id),
            (
                r.domain,
                r.name,
                r.journey_stage,
                r.engagement_minutes_7d,
                r.engagement_points_30d,
                r.intent_score,
                r.intent_keyword_count,
            ),
        )
        for r in AbmAccount.objects.using(using).filter(connection_id=connection_id)
    ]
    daily = list(AbmEngagementDaily.objects.using(using).filter(connection_id=connection_id))
    intent: list[tuple[Key, Values]] = [
        (
            ("intent", r.account_id, r.date.isoformat()),
            (r.domain, r.people_researching, r.intent_strength, r.intent_keywords),
        )
        for r in daily
        if r.intent_strength is not None
    ]
    engagement: list[tuple[Key, Values]] = [
        (
            ("engagement", r.account_id, r.date.isoformat()),
            (r.engagement_minutes, r.engagement_points, r.web_minutes, r.email_minutes, r.ad_minutes, r.page_views),
        )
        for r in daily
        if r.engagement_minutes is not None
    ]
    unaccounted: list[tuple[Key, Values]] = [  # a daily row with neither counts as one the sandbox never served
        (("daily", r.account_id, r.date.isoformat()), ())
        for r in daily
        if r.intent_strength is None and r.engagement_minutes is None
    ]
    return accounts + intent + engagement + unaccounted


GOOGLE_ADS_STREAM = "/google.ads.googleads.v26.services.GoogleAdsService/SearchStream"
MAILCHIMP_REPORTS = "/us19/3.0/reports"

PLATFORMS: dict[str, Platform] = {
    "linkedin_ads": Platform(
        "508000001", "sandbox.linkedin_ads", "/rest/adAnalytics", linkedin_served, ad_loaded
    ),
    "google_ads": Platform(
        "5550003001", "sandbox.google_ads", GOOGLE_ADS_STREAM, google_served, ad_loaded
    ),
    "mailchimp": Platform(
        "40118001", "sandbox.mailchimp", MAILCHIMP_REPORTS, mailchimp_served, mailchimp_loaded
    ),
    "zoho_crm": Platform(
        "810004517",
        "sandbox.zoho_crm",
        "/crm/v8/Leads",
        zoho_served,
        zoho_loaded,
        options={"accounts_server": "https://accounts.zoho.in"},
    ),
    "demandbase": Platform(
        "northwind",
        "sandbox.demandbase",
        "/data/intent/v1/companies/intent/query",
        demandbase_served,
        demandbase_loaded,
    ),
}


# --------------------------------------------------------------------------- one scenario's figures


@dataclass
class Tally:
    """Served against loaded for one connection."""

    served: int
    loaded: int
    duplicates: int  # rows beyond one per natural key
    lost: int  # served rows missing or stored with other values, minus the quarantined records
    extra: int  # loaded keys the sandbox does not serve
    quarantined: int


def tally(
    platform: str, app: Any, connection_id: int, window: tuple[date, date] | None, *, using: str = "default"
) -> Tally:
    """Compare the warehouse with what the sandbox serves for ``window`` (None: nothing is served)."""
    from etl.models import QuarantinedRecord

    spec = PLATFORMS[platform]
    account_id = connection_account(connection_id, using)
    served = spec.served(app, account_id, *window) if window is not None else {}
    loaded = spec.loaded(connection_id, using)
    counts = Counter(key for key, _ in loaded)
    stored = dict(loaded)
    quarantined = QuarantinedRecord.objects.using(using).filter(connection_id=connection_id).count()
    missing = sum(1 for key, values in served.items() if stored.get(key) != values)
    return Tally(
        served=len(served),
        loaded=len(loaded),
        duplicates=sum(n - 1 for n in counts.values()),
        lost=max(0, missing - quarantined),
        extra=sum(1 for key in counts if key not in served) if window is not None else 0,
        quarantined=quarantined,
    )


def connection_account(connection_id: int, using: str) -> str:
    from connectors.models import Connection

    return str(Connection.objects.using(using).values_list("account_id", flat=True).get(pk=connection_id))


def runs_window(connection_id: int, using: str = "default") -> tuple[date, date] | None:
    """The days the connection's runs covered together: what its warehouse rows should span."""
    from django.db.models import Max, Min

    from etl.models import SyncRun

    span = SyncRun.objects.using(using).filter(connection_id=connection_id)
    bounds = span.aggregate(start=Min("window_start"), end=Max("window_end"))
    if bounds["start"] is None or bounds["end"] is None:
        return None
    return bounds["start"], bounds["end"]


# --------------------------------------------------------------------------- outcome and verdict


@dataclass
class Outcome:
    """One scenario's line of the table, what happened in words, and whether it held up."""

    served: int = 0
    loaded: int = 0
    duplicates: int = 0
    lost: int = 0
    quarantined: int = 0
    runs: int = 0
    run_state: str = "-"
    connection_state: str = "-"
    detail: str = ""
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return "ok" if not self.failures else "FAIL: " + "; ".join(self.failures)

    @classmethod
    def of(cls, figures: Tally, runs: list[Any], connection_state: str, seconds: float) -> Outcome:
        """The line of a scenario whose last run is ``runs[-1]``."""
        last = runs[-1]
        return cls(
            served=figures.served,
            loaded=figures.loaded,
            duplicates=figures.duplicates,
            lost=figures.lost,
            quarantined=figures.quarantined,
            runs=len(runs),
            run_state=f"{last.status}/{last.step}",
            connection_state=connection_state,
            seconds=seconds,
        )

    @classmethod
    def error(cls, exc: BaseException, seconds: float, log: str = "") -> Outcome:
        """A scenario that raised: it counts as failed, with the exception as its reason and the
        end of the process's log below it."""
        reason = f"error {type(exc).__name__}: {exc}"
        tail = "".join(f"\n    | {line}" for line in log.splitlines()[-LOG_TAIL_LINES:])
        return cls(run_state="ERROR", detail=reason + tail, seconds=seconds, failures=[reason])


LOG_TAIL_LINES = 15


def rows_failures(figures: Tally, dropped: int = 0) -> list[str]:
    """What every scenario requires of the warehouse: nothing lost, doubled or made up; except the
    ``dropped`` rows a silent gap in the platform's answer left out (reconciliation must flag them)."""
    failures = []
    if figures.lost != dropped:
        expected = f", expected the {dropped} the silent gap dropped" if dropped else ""
        failures.append(f"{figures.lost} served row(s) lost{expected}")
    if figures.duplicates:
        failures.append(f"{figures.duplicates} duplicate row(s)")
    if figures.extra:
        failures.append(f"{figures.extra} loaded row(s) the sandbox does not serve")
    return failures


HEADER = (
    f"{'scenario':<36} {'served':>6} {'loaded':>6} {'dup':>4} {'lost':>4} {'quar':>4} {'runs':>4}  "
    f"{'run (status/step)':<20} {'connection':<13} {'secs':>5}  verdict"
)


def outcome_line(name: str, outcome: Outcome) -> str:
    return (
        f"{name:<36} {outcome.served:>6} {outcome.loaded:>6} {outcome.duplicates:>4} {outcome.lost:>4} "
        f"{outcome.quarantined:>4} {outcome.runs:>4}  {outcome.run_state:<20} {outcome.connection_state:<13} "
        f"{outcome.seconds:>5.1f}  {outcome.verdict}"
    )
