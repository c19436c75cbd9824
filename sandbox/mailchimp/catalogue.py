"""The Mailchimp sandbox's data: accounts, their campaigns over time and the campaigns' reports.

Everything is derived from hash-seeded generators, so every process serves the same numbers. A few
campaigns go out per week and account (mostly on weekdays); a campaign's report grows for weeks
after the send, as Mailchimp's do (opens, clicks and unsubscribes accumulate, soft bounces arrive
within a day). The numbers depend on the *day* the report is read, never on the hour, so reading a
report twice on one day gives the same answer; a campaign only gets a report once its send time has
passed.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any, Final

from sandbox.core import seeded_rng as _rng
from sandbox.core import weighted_pick as _pick

# Scheduled campaigns are known this many days ahead.
SCHEDULE_HORIZON_DAYS: Final = 14
# After this many days a report no longer changes.
GROWTH_DAYS: Final = 60


def _hex_id(*parts: object, length: int = 10) -> str:
    return hashlib.sha256(":".join(str(part) for part in parts).encode()).hexdigest()[:length]


def iso(moment: datetime) -> str:
    """Mailchimp's timestamp form: UTC with an explicit ``+00:00``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


# =========================================================================== accounts and audiences


@dataclass(frozen=True)
class SandboxList:
    id: str
    name: str
    members: int  # on the account's first send day
    weekly_growth: float
    weight: float  # share of the account's campaigns sent to this audience


@dataclass(frozen=True)
class SandboxAccount:
    user_id: str
    dc: str
    name: str
    login_name: str
    email: str
    token: str
    first_send: date
    sends_per_week: float
    lists: tuple[SandboxList, ...]


def _list(account: str, name: str, members: int, growth: float, weight: float) -> SandboxList:
    return SandboxList(_hex_id("mc-list", account, name), name, members, growth, weight)


def _accounts() -> Iterator[SandboxAccount]:
    yield SandboxAccount(
        user_id="40118001",
        dc="us19",
        name="Northwind Traders",
        login_name="northwind.marketing",
        email="marketing@northwind.example",
        token="sandbox-mc-token-40118001",
        first_send=date(2025, 1, 6),
        sends_per_week=3.5,
        lists=(
            _list("40118001", "Northwind Newsletter", 18_400, 0.004, 0.55),
            _list("40118001", "Product Updates", 6_250, 0.006, 0.3),
            _list("40118001", "Events – EMEA", 2_380, 0.01, 0.15),
        ),
    )
    yield SandboxAccount(
        user_id="40118002",
        dc="us6",
        name="Northwind Events",
        login_name="northwind.events",
        email="events@northwind.example",
        token="sandbox-mc-token-40118002",
        first_send=date(2025, 6, 2),
        sends_per_week=1.5,
        lists=(
            _list("40118002", "Event Attendees", 3_900, 0.008, 0.7),
            _list("40118002", "Webinar Registrants", 1_450, 0.012, 0.3),
        ),
    )
    yield SandboxAccount(
        user_id="40118003",
        dc="us19",
        name="Northwind Sandbox",
        login_name="northwind.sandbox",
        email="sandbox@northwind.example",
        token="sandbox-mc-token-40118003",
        first_send=date(2025, 1, 6),
        sends_per_week=0.0,
        lists=(_list("40118003", "Test Audience", 12, 0.0, 1.0),),
    )


ACCOUNTS: Final[Mapping[str, SandboxAccount]] = MappingProxyType({a.user_id: a for a in _accounts()})
DEMO_ACCOUNT_ID: Final = "40118001"


# =========================================================================== campaigns


@dataclass(frozen=True)
class SandboxCampaign:
    id: str
    web_id: int
    account_id: str
    audience: SandboxList
    type: str
    title: str
    subject: str
    preview: str
    send_time: datetime | None  # None for a draft
    create_time: datetime
    emails_sent: int  # at send
    hard_bounces: int
    soft_bounces: int
    syntax_errors: int
    open_share: float  # unique opens / delivered, once the report has settled
    opens_per_opener: float
    click_to_open: float  # unique subscriber clicks / unique opens
    links_per_clicker: float
    clicks_per_link: float
    unsubscribe_share: float
    abuse_share: float
    order_share: float
    order_value: float

    def sent_by(self, moment: datetime) -> bool:
        return self.send_time is not None and self.send_time <= moment


_TYPES: Final = (("regular", 0.78), ("plaintext", 0.05), ("variate", 0.05), ("absplit", 0.02), ("rss", 0.1))
_THEMES: Final = (
    "Forecasting 101",
    "Pipeline hygiene",
    "Q4 planning kit",
    "Customer story: Contoso",
    "Data quality webinar",
    "Release notes",
    "Partner summit recap",
    "Product tour",
    "Analytics tips",
    "Holiday opening hours",
)
_HOOKS: Final = (
    "what's new this week",
    "5 ideas to try",
    "your invitation",
    "a quick guide",
    "last chance to register",
    "what our customers learnt",
)
# Relative send volume per weekday (Monday first).
_WEEKDAY_WEIGHTS: Final = (1.0, 1.0, 1.0, 1.0, 1.0, 0.25, 0.25)


def _pick_list(rng: random.Random, account: SandboxAccount) -> SandboxList:
    roll = rng.random() * sum(audience.weight for audience in account.lists)
    for audience in account.lists:
        roll -= audience.weight
        if roll < 0:
            return audience
    return account.lists[-1]


def _sends_on(account: SandboxAccount, day: date) -> int:
    expected = account.sends_per_week * _WEEKDAY_WEIGHTS[day.weekday()] / sum(_WEEKDAY_WEIGHTS)
    whole, fraction = divmod(expected, 1.0)
    return int(whole) + (1 if _rng("mc-sends", account.user_id, day.isoformat()).random() < fraction else 0)


def _send_time(rng: random.Random, day: date) -> datetime:
    hour = 7 + int(rng.random() * 11)
    if rng.random() < 0.7:  # scheduled on a quarter hour
        moment = time(hour, 15 * int(rng.random() * 4))
    else:  # sent by hand
        moment = time(hour, int(rng.random() * 60), int(rng.random() * 60))
    return datetime.combine(day, moment, tzinfo=UTC)


def _audience_size(audience: SandboxList, account: SandboxAccount, day: date) -> int:
    weeks = max(0, (day - account.first_send).days) / 7
    return int(audience.members * (1 + audience.weekly_growth) ** weeks)


def _make_campaign(account: SandboxAccount, day: date, number: int) -> SandboxCampaign:
    rng = _rng("mc-campaign", account.user_id, day.isoformat(), number)
    ident = _hex_id("mc-campaign", account.user_id, day.isoformat(), number)
    audience = _pick_list(rng, account)
    kind = _pick(rng, _TYPES)
    theme = _THEMES[int(rng.random() * len(_THEMES))]
    hook = _HOOKS[int(rng.random() * len(_HOOKS))]
    send_time = _send_time(rng, day)
    segment = 1.0 if rng.random() < 0.7 else 0.3 + 0.6 * rng.random()
    emails_sent = max(1, int(_audience_size(audience, account, day) * segment))
    title = "RSS digest" if kind == "rss" else theme
    return SandboxCampaign(
        id=ident,
        web_id=1_000_000 + int(ident[:6], 16) % 9_000_000,
        account_id=account.user_id,
        audience=audience,
        type=kind,
        title=f"{audience.name} {day.isoformat()} – {title}",
        subject=f"{title}: {hook}",
        preview=f"{hook.capitalize()} from {account.name}",
        send_time=send_time,
        create_time=send_time - timedelta(days=1 + int(rng.random() * 9), hours=int(rng.random() * 12)),
        emails_sent=emails_sent,
        hard_bounces=int(emails_sent * (0.001 + 0.005 * rng.random())),
        soft_bounces=int(emails_sent * (0.002 + 0.008 * rng.random())),
        syntax_errors=int(rng.random() * 3),
        open_share=0.18 + 0.3 * rng.random(),
        opens_per_opener=1.3 + 0.6 * rng.random(),
        click_to_open=0.08 + 0.17 * rng.random(),
        links_per_clicker=1.0 + 0.5 * rng.random(),
        clicks_per_link=1.1 + 0.5 * rng.random(),
        unsubscribe_share=0.0005 + 0.0025 * rng.random(),
        abuse_share=0.00005 * rng.random(),
        order_share=0.02 * rng.random(),
        order_value=40 + 160 * rng.random(),
    )


@functools.lru_cache(maxsize=65_536)
def campaigns_sent_on(account_id: str, day: date) -> tuple[SandboxCampaign, ...]:
    """The campaigns an account sends (or has scheduled) on one day, in send-time order."""
    account = ACCOUNTS.get(account_id)
    if account is None or day < account.first_send:
        return ()
    made = (_make_campaign(account, day, number) for number in range(_sends_on(account, day)))
    return tuple(sorted(made, key=lambda c: (c.send_time, c.id)))


def drafts(account_id: str) -> tuple[SandboxCampaign, ...]:
    """Two unsent drafts per account (no send time: Mailchimp shows it as ``""``)."""
    account = ACCOUNTS.get(account_id)
    if account is None or not account.sends_per_week:
        return ()
    found = []
    for number in range(2):
        campaign = _make_campaign(account, account.first_send, 100 + number)
        found.append(
            replace(
                campaign,
                send_time=None,
                emails_sent=0,
                title=f"Draft – {campaign.subject}",
                create_time=datetime.combine(account.first_send, time(9), tzinfo=UTC),
            )
        )
    return tuple(found)


def _days(start: date, end: date) -> Iterator[date]:
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)


def campaigns_between(
    account_id: str, since: datetime | None, before: datetime | None, *, today: date
) -> list[SandboxCampaign]:
    """Campaigns with a send time in [since, before), in send-time order; those scheduled up to
    SCHEDULE_HORIZON_DAYS after ``today`` are included (whether one was sent is the caller's call)."""
    account = ACCOUNTS.get(account_id)
    if account is None:
        return []
    first = max(account.first_send, since.date()) if since else account.first_send
    last = today + timedelta(days=SCHEDULE_HORIZON_DAYS)
    if before is not None:
        last = min(last, before.date())
    found = []
    for day in _days(first, last):
        for campaign in campaigns_sent_on(account_id, day):
            assert campaign.send_time is not None
            if (since is None or campaign.send_time >= since) and (
                before is None or campaign.send_time < before
            ):
                found.append(campaign)
    return found


def find_campaign(account_id: str, campaign_id: str, today: date) -> SandboxCampaign | None:
    account = ACCOUNTS.get(account_id)
    if account is None:
        return None
    for campaign in drafts(account_id):
        if campaign.id == campaign_id:
            return campaign
    for day in _days(account.first_send, today + timedelta(days=SCHEDULE_HORIZON_DAYS)):
        for campaign in campaigns_sent_on(account_id, day):
            if campaign.id == campaign_id:
                return campaign
    return None


# =========================================================================== reports


def _settled(days: int) -> float:
    """Share of a report's final opens and clicks reached ``days`` after the send."""
    d = min(days, GROWTH_DAYS)
    return 1 - 0.40 * math.exp(-0.9 * d) - 0.05 * math.exp(-0.08 * d)


def _unsubscribes_settled(days: int) -> float:
    return 1 - 0.5 * math.exp(-1.2 * min(days, GROWTH_DAYS))


@dataclass(frozen=True)
class ReportNumbers:
    """A campaign's report as read on one day."""

    emails_sent: int
    hard_bounces: int
    soft_bounces: int
    syntax_errors: int
    unique_opens: int
    opens_total: int
    unique_subscriber_clicks: int
    unique_clicks: int
    clicks_total: int
    unsubscribed: int
    abuse_reports: int
    orders: int
    revenue: float
    days_since_send: int

    @property
    def delivered(self) -> int:
        return self.emails_sent - self.hard_bounces - self.soft_bounces

    @property
    def bounces(self) -> int:
        return self.hard_bounces + self.soft_bounces + self.syntax_errors

    @property
    def open_rate(self) -> float:
        return self.unique_opens / self.delivered if self.delivered > 0 else 0

    @property
    def click_rate(self) -> float:
        return self.unique_subscriber_clicks / self.delivered if self.delivered > 0 else 0


@functools.lru_cache(maxsize=65_536)
def report_numbers(campaign: SandboxCampaign, today: date) -> ReportNumbers:
    """The campaign's report as Mailchimp shows it on ``today`` (the campaign must have been sent)."""
    assert campaign.send_time is not None
    days = max(0, (today - campaign.send_time.date()).days)
    settled = _settled(days)
    soft = campaign.soft_bounces if days else int(campaign.soft_bounces * 0.8)
    delivered = campaign.emails_sent - campaign.hard_bounces - soft
    unique_opens = round(delivered * campaign.open_share * settled)
    subscriber_clicks = round(delivered * campaign.open_share * campaign.click_to_open * settled)
    unique_clicks = round(subscriber_clicks * campaign.links_per_clicker)
    orders = round(subscriber_clicks * campaign.order_share * settled)
    unsubscribes_settled = _unsubscribes_settled(days)
    return ReportNumbers(
        emails_sent=campaign.emails_sent,
        hard_bounces=campaign.hard_bounces,
        soft_bounces=soft,
        syntax_errors=campaign.syntax_errors,
        unique_opens=unique_opens,
        opens_total=round(unique_opens * campaign.opens_per_opener),
        unique_subscriber_clicks=subscriber_clicks,
        unique_clicks=unique_clicks,
        clicks_total=round(unique_clicks * campaign.clicks_per_link),
        unsubscribed=round(delivered * campaign.unsubscribe_share * unsubscribes_settled),
        abuse_reports=round(delivered * campaign.abuse_share * unsubscribes_settled),
        orders=orders,
        revenue=round(orders * campaign.order_value, 2),
        days_since_send=days,
    )


def _last_activity(campaign: SandboxCampaign, numbers: ReportNumbers, happened: int) -> str:
    """When the last open or click was seen: shortly after the send on day 0, else late yesterday."""
    assert campaign.send_time is not None
    if not happened:
        return ""
    if numbers.days_since_send == 0:
        return iso(campaign.send_time + timedelta(minutes=7))
    day = campaign.send_time.date() + timedelta(days=min(numbers.days_since_send, GROWTH_DAYS))
    return iso(datetime.combine(day, time(0), tzinfo=UTC) - timedelta(minutes=3 + len(campaign.id)))


def _timeseries(campaign: SandboxCampaign, numbers: ReportNumbers) -> list[dict[str, Any]]:
    """The first 24 hours after the send, hour by hour (once those hours are over)."""
    assert campaign.send_time is not None
    if numbers.days_since_send == 0:
        return []
    start = campaign.send_time.replace(minute=0, second=0)
    weights = [0.5**hour for hour in range(24)]
    total = sum(weights)
    first_day = _settled(0) / _settled(numbers.days_since_send)
    return [
        {
            "timestamp": iso(start + timedelta(hours=hour)),
            "emails_sent": numbers.emails_sent if hour == 0 else 0,
            "unique_opens": round(numbers.unique_opens * first_day * weight / total),
            "recipients_clicks": round(numbers.unique_subscriber_clicks * first_day * weight / total),
        }
        for hour, weight in enumerate(weights)
    ]


def _ab_split(campaign: SandboxCampaign, numbers: ReportNumbers) -> dict[str, Any]:
    if campaign.type != "absplit":
        return {}

    def half(share: float) -> dict[str, Any]:
        return {
            "bounces": round(numbers.bounces * share),
            "abuse_reports": round(numbers.abuse_reports * share),
            "unsubs": round(numbers.unsubscribed * share),
            "recipient_clicks": round(numbers.unique_subscriber_clicks * share),
            "forwards": 0,
            "forwards_opens": 0,
            "opens": round(numbers.opens_total * share),
            "last_open": _last_activity(campaign, numbers, numbers.unique_opens),
            "unique_opens": round(numbers.unique_opens * share),
        }

    return {"a": half(0.5), "b": half(0.5)}


def links(api_base: str, path: str, schema: str) -> list[dict[str, str]]:
    """HAL-like ``_links`` as Mailchimp adds them to every resource."""
    href = f"{api_base}/3.0/{path}"
    return [
        {
            "rel": "self",
            "href": href,
            "method": "GET",
            "targetSchema": f"{api_base}/schema/3.0/Definitions/{schema}/Response.json",
        },
        {
            "rel": "parent",
            "href": href.rsplit("/", 1)[0] if "/" in path else f"{api_base}/3.0/",
            "method": "GET",
            "targetSchema": f"{api_base}/schema/3.0/Definitions/{schema}/CollectionResponse.json",
        },
    ]


def render_report(campaign: SandboxCampaign, today: date, api_base: str) -> dict[str, Any]:
    """One element of ``/3.0/reports`` (all fields, before ``fields``/``exclude_fields``)."""
    assert campaign.send_time is not None
    n = report_numbers(campaign, today)
    audience = campaign.audience
    return {
        "id": campaign.id,
        "campaign_title": campaign.title,
        "type": campaign.type,
        "list_id": audience.id,
        "list_is_active": True,
        "list_name": audience.name,
        "subject_line": campaign.subject,
        "preview_text": campaign.preview,
        "emails_sent": n.emails_sent,
        "abuse_reports": n.abuse_reports,
        "unsubscribed": n.unsubscribed,
        "send_time": iso(campaign.send_time),
        "bounces": {
            "hard_bounces": n.hard_bounces,
            "soft_bounces": n.soft_bounces,
            "syntax_errors": n.syntax_errors,
        },
        "forwards": {"forwards_count": n.unique_opens // 500, "forwards_opens": n.unique_opens // 800},
        "opens": {
            "opens_total": n.opens_total,
            "unique_opens": n.unique_opens,
            "open_rate": n.open_rate,
            "last_open": _last_activity(campaign, n, n.unique_opens),
        },
        "clicks": {
            "clicks_total": n.clicks_total,
            "unique_clicks": n.unique_clicks,
            "unique_subscriber_clicks": n.unique_subscriber_clicks,
            "click_rate": n.click_rate,
            "last_click": _last_activity(campaign, n, n.unique_subscriber_clicks),
        },
        "facebook_likes": {"recipient_likes": 0, "unique_likes": 0, "facebook_likes": 0},
        "industry_stats": {
            "type": "Software and Web App",
            "open_rate": 0.2149,
            "click_rate": 0.0253,
            "bounce_rate": 0.0071,
            "unopen_rate": 0.7851,
            "unsub_rate": 0.0021,
            "abuse_rate": 0.0001,
        },
        "list_stats": {"sub_rate": 4.2, "unsub_rate": 0.6, "open_rate": 31.8, "click_rate": 3.4},
        "ab_split": _ab_split(campaign, n),
        "timewarp": [],
        "timeseries": _timeseries(campaign, n),
        "share_report": {
            "share_url": f"https://mailchi.mp/northwind/report-{campaign.id}",
            "share_password": _hex_id("mc-share", campaign.id, length=12),
        },
        "ecommerce": {
            "total_orders": n.orders,
            "total_spent": n.revenue,
            "total_revenue": n.revenue,
            "currency_code": "USD",
        },
        "delivery_status": {"enabled": False},
        "_links": links(api_base, f"reports/{campaign.id}", "Reports"),
    }


def render_campaign(campaign: SandboxCampaign, now: datetime, api_base: str) -> dict[str, Any]:
    """One element of ``/3.0/campaigns``."""
    sent = campaign.sent_by(now)
    status = "sent" if sent else ("schedule" if campaign.send_time else "save")
    audience = campaign.audience
    body: dict[str, Any] = {
        "id": campaign.id,
        "web_id": campaign.web_id,
        "parent_campaign_id": "",
        "type": campaign.type,
        "create_time": iso(campaign.create_time),
        "archive_url": f"http://eepurl.com/{campaign.id[:6]}",
        "long_archive_url": f"https://mailchi.mp/northwind/{campaign.id}",
        "status": status,
        "emails_sent": campaign.emails_sent if sent else 0,
        "send_time": iso(campaign.send_time) if campaign.send_time else "",
        "content_type": "template",
        "needs_block_refresh": False,
        "resendable": sent and campaign.type == "regular",
        "recipients": {
            "list_id": audience.id,
            "list_is_active": True,
            "list_name": audience.name,
            "segment_text": "",
            "recipient_count": campaign.emails_sent,
        },
        "settings": {
            "subject_line": campaign.subject,
            "preview_text": campaign.preview,
            "title": campaign.title,
            "from_name": "Northwind",
            "reply_to": "hello@northwind.example",
            "use_conversation": False,
            "to_name": "*|FNAME|*",
            "folder_id": "",
            "authenticate": True,
            "auto_footer": False,
            "inline_css": False,
            "auto_tweet": False,
            "fb_comments": True,
            "timewarp": False,
            "template_id": 10_000 + campaign.web_id % 90,
            "drag_and_drop": True,
        },
        "tracking": {
            "opens": True,
            "html_clicks": True,
            "text_clicks": False,
            "goal_tracking": False,
            "ecomm360": True,
            "google_analytics": "",
            "clicktale": "",
        },
        "delivery_status": {"enabled": False},
        "_links": links(api_base, f"campaigns/{campaign.id}", "Campaigns"),
    }
    if sent:
        n = report_numbers(campaign, now.date())
        body["report_summary"] = {
            "opens": n.opens_total,
            "unique_opens": n.unique_opens,
            "open_rate": n.open_rate,
            "clicks": n.clicks_total,
            "subscriber_clicks": n.unique_subscriber_clicks,
            "click_rate": n.click_rate,
            "ecommerce": {"total_orders": n.orders, "total_spent": n.revenue, "total_revenue": n.revenue},
        }
    return body


def expected_campaign_rows(account_id: str, start: date, end: date, *, now: datetime) -> list[dict[str, Any]]:
    """What ``/3.0/reports`` serves at ``now`` for campaigns sent from ``start`` to ``end`` (inclusive
    days, UTC), as canonical values: one dict per campaign, in send-time order."""
    since = datetime.combine(start, time(0), tzinfo=UTC)
    before = datetime.combine(end + timedelta(days=1), time(0), tzinfo=UTC)
    rows = []
    for campaign in campaigns_between(account_id, since, before, today=now.date()):
        if not campaign.sent_by(now):
            continue
        assert campaign.send_time is not None
        n = report_numbers(campaign, now.date())
        rows.append(
            {
                "campaign_id": campaign.id,
                "campaign_title": campaign.title,
                "campaign_type": campaign.type,
                "list_id": campaign.audience.id,
                "list_name": campaign.audience.name,
                "subject": campaign.subject,
                "send_time": campaign.send_time,
                "emails_sent": n.emails_sent,
                "opens": n.opens_total,
                "unique_opens": n.unique_opens,
                "clicks": n.clicks_total,
                "unique_clicks": n.unique_subscriber_clicks,
                "bounces": n.bounces,
                "unsubscribes": n.unsubscribed,
                "open_rate": n.open_rate,
                "click_rate": n.click_rate,
            }
        )
    return rows
