"""A local imitation of Zoho CRM's accounts server and REST API (v8), for tests and the demo.

It copies what a connector meets on the real service (docs/platform-apis.md, section 4):

- the accounts server: ``GET /oauth/v2/auth`` approves at once and redirects with ``code``, ``state``,
  ``location`` and ``accounts-server``; ``POST /oauth/v2/token`` takes the ``authorization_code`` and
  ``refresh_token`` grants (form or query parameters), answers with ``api_domain`` (this same server)
  and a one-hour access token, never rotates the refresh token, reports errors with HTTP 200
  ``{"error": ...}`` (``invalid_code``, ``invalid_client``) and refuses more than ten access tokens per
  refresh token in ten minutes (HTTP 400 ``Access Denied``);
- the API on the same server: ``Authorization: Zoho-oauthtoken``, 401 ``INVALID_TOKEN`` after an hour,
  401 ``OAUTH_SCOPE_MISMATCH`` without the right scope, ``GET /crm/v8/org``,
  ``GET /crm/v8/settings/fields?module=``, and ``GET /crm/v8/{Leads|Deals|Campaigns}`` with mandatory
  ``fields`` (at most 50), ``per_page`` at most 200, ``page`` only within the first 2,000 records
  (``DISCRETE_PAGINATION_LIMIT_EXCEEDED``), signed ``page_token`` cursors valid 24 hours that may not
  be combined with ``page``, ``sort_by``/``sort_order``, ``converted`` (false by default),
  ``If-Modified-Since`` (304 when nothing changed) and 204 with an empty body when there is nothing;
- the errors envelope ``{"code", "details", "message", "status": "error"}``; 24-hour credits and
  simultaneous calls per org by edition, both answered with 429 ``TOO_MANY_REQUESTS`` and no
  ``Retry-After``; ``X-API-CREDITS-REMAINING`` once half the credits are used.

Data: two orgs. Northwind Traders (IST, multi-currency, UTM custom fields) has 2,450 leads, so a
client that ignores ``page_token`` loses rows, and 320 deals; Northwind GmbH (Berlin, euros only, no
UTM fields) has no leads and 40 deals. Records are hash-seeded and the same in every process; their
modified times spread over the 60 days before the current UTC midnight, so ``If-Modified-Since``
filters, and stay put for the whole day.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import random
import secrets
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Final
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from connectors.sandbox import (
    BASE_FAULT_KINDS,
    FakeApi,
    SandboxRequest,
    SandboxResponse,
    json_response,
    route,
)
from connectors.sandbox import (
    seeded_rng as _rng,
)
from connectors.sandbox import (
    weighted_pick as _pick,
)

SANDBOX_CLIENT_ID: Final = "1000.SANDBOXZOHOCRMCLIENT01"
SANDBOX_CLIENT_SECRET: Final = "sandbox-zoho-crm-secret"
DEMO_REFRESH_TOKEN: Final = "1000.5a4db1e7c0de4e57a11ce5a4db1e7c0d.9e0f3c2b1a0d9e8f7a6b5c4d3e2f1a0b"
GMBH_REFRESH_TOKEN: Final = "1000.0b1a2c3d4e5f60718293a4b5c6d7e8f9.1f2e3d4c5b6a79880716253443526170"

ACCESS_TOKEN_TTL: Final = 3_600
AUTHORIZATION_CODE_TTL: Final = 120
PAGE_TOKEN_TTL: Final = 86_400
TOKENS_PER_WINDOW: Final = 10  # access tokens per refresh token ...
TOKEN_WINDOW_SECONDS: Final = 600  # ... per ten minutes
DEFAULT_SCOPE: Final = (
    "ZohoCRM.modules.leads.READ,ZohoCRM.modules.deals.READ,ZohoCRM.modules.campaigns.READ,"
    "ZohoCRM.settings.fields.READ,ZohoCRM.org.READ"
)

MAX_PER_PAGE: Final = 200
DISCRETE_LIMIT: Final = 2_000
MAX_FIELDS: Final = 50
SUPPORTED_VERSIONS: Final = frozenset({"v3", "v4", "v5", "v6", "v7", "v8"})
CREDIT_WINDOW_SECONDS: Final = 86_400

FAULT_KINDS: Final = BASE_FAULT_KINDS | {
    "rate_limit",
    "server_error",
    "expire_token",
    "revoke_refresh",
    "invalid_client",
    "malformed",
    "expire_page_token",
}

DAY: Final = 86_400


# =========================================================================== catalogue


@dataclass(frozen=True)
class SandboxOrg:
    zgid: str
    id: str
    id_prefix: str  # the first seven digits of the org's 19-digit record ids
    company_name: str
    domain_name: str
    time_zone: str
    iso_code: str
    currency_symbol: str
    currency_name: str
    country: str
    edition: str
    users: int
    lead_count: int
    deal_count: int
    campaign_count: int
    multi_currency: bool
    utm_fields: bool
    lead_campaign_lookup: bool
    refresh_token: str
    location: str


ORGS: Final[Mapping[str, SandboxOrg]] = {
    "810004517": SandboxOrg(
        zgid="810004517",
        id="5725767000000219001",
        id_prefix="5725767",
        company_name="Northwind Traders",
        domain_name="northwindtraders",
        time_zone="Asia/Kolkata",
        iso_code="USD",
        currency_symbol="$",
        currency_name="US Dollar - USD",
        country="India",
        edition="professional",
        users=12,
        lead_count=2_450,
        deal_count=320,
        campaign_count=14,
        multi_currency=True,
        utm_fields=True,
        lead_campaign_lookup=True,
        refresh_token=DEMO_REFRESH_TOKEN,
        location="in",
    ),
    "820017733": SandboxOrg(
        zgid="820017733",
        id="6104433000000010005",
        id_prefix="6104433",
        company_name="Northwind GmbH",
        domain_name="northwindgmbh",
        time_zone="Europe/Berlin",
        iso_code="EUR",
        currency_symbol="€",
        currency_name="Euro - EUR",
        country="Germany",
        edition="free",
        users=3,
        lead_count=0,
        deal_count=40,
        campaign_count=3,
        multi_currency=False,
        utm_fields=False,
        lead_campaign_lookup=False,
        refresh_token=GMBH_REFRESH_TOKEN,
        location="eu",
    ),
}
DEMO_ORG: Final = "810004517"

CONCURRENCY_BY_EDITION: Final = {
    "free": 5,
    "standard": 10,
    "professional": 15,
    "enterprise": 20,
    "ultimate": 25,
}
CREDITS_PER_USER: Final = {"standard": 250, "professional": 500, "enterprise": 1_000, "ultimate": 2_000}


def credit_limit(org: SandboxOrg) -> int:
    """24-hour API credits: Free 5,000; paid editions 50,000 plus a per-user amount."""
    if org.edition == "free":
        return 5_000
    return 50_000 + CREDITS_PER_USER[org.edition] * org.users


_FIRST_NAMES: Final = (
    "Aarav", "Priya", "Lena", "Jonas", "Maya", "Noah", "Sofia", "Ravi", "Emma", "Lukas",
    "Ananya", "Oliver", "Chloe", "Arjun", "Mia", "Felix", "Isha", "Leon", "Zoe", "Kabir",
)  # fmt: skip
_LAST_NAMES: Final = (
    "Sharma", "Becker", "Nguyen", "Fischer", "Patel", "Okafor", "Rossi", "Iyer", "Schulz", "Kim",
    "Menon", "Weber", "Silva", "Khan", "Novak", "Hughes", "Rao", "Wagner", "Costa", "Singh",
)  # fmt: skip
_COMPANY_WORDS: Final = (
    "Apex", "Blue", "Cedar", "Delta", "Ember", "Fjord", "Granite", "Harbor", "Iris", "Juniper",
    "Kestrel", "Lumen", "Maple", "Nimbus", "Orbit", "Pioneer", "Quartz", "Ridge", "Summit", "Tidal",
)  # fmt: skip
_COMPANY_KINDS: Final = ("Logistics", "Analytics", "Foods", "Systems", "Health", "Labs", "Retail", "Energy")
_COMPANY_SUFFIXES: Final = ("Pvt Ltd", "Inc", "GmbH", "LLC", "Ltd", "AG", "Corp")
_LEAD_STATUSES: Final = (
    ("Not Contacted", 0.22),
    ("Attempted to Contact", 0.16),
    ("Contact in Future", 0.08),
    ("Contacted", 0.18),
    ("Pre-Qualified", 0.12),
    ("Not Qualified", 0.08),
    ("Junk Lead", 0.06),
    ("Lost Lead", 0.1),
)
# Campaign ids of the LinkedIn sandbox's demo account 508000001 (400_000_000 + 1 * 100_000 + n).
LINKEDIN_DEMO_CAMPAIGN_IDS: Final = tuple(400_100_001 + n for n in range(12))
# Lead source → (weight, UTM source, UTM medium); None means the lead has no UTM values.
_SOURCES: Final = (
    (("Google AdWords", "google", "cpc"), 0.24),
    (("LinkedIn", "linkedin", "paid_social"), 0.18),
    (("Web Download", "newsletter", "email"), 0.12),
    (("Webinar", "zoho_webinar", "event"), 0.1),
    (("Trade Show", None, None), 0.08),
    (("Employee Referral", None, None), 0.06),
    (("Cold Call", None, None), 0.07),
    (("Partner", "partner", "referral"), 0.06),
    (("Chat", "website", "chat"), 0.05),
    ((None, None, None), 0.04),
)
_STAGES: Final = (
    ("Qualification", 10, 0.16),
    ("Needs Analysis", 20, 0.14),
    ("Value Proposition", 40, 0.1),
    ("Identify Decision Makers", 60, 0.08),
    ("Proposal/Price Quote", 75, 0.1),
    ("Negotiation/Review", 90, 0.08),
    ("Closed Won", 100, 0.2),
    ("Closed Lost", 0, 0.1),
    ("Closed-Lost to Competition", 0, 0.04),
)
_DEAL_PRODUCTS: Final = ("Analytics Suite", "Data Platform", "Support Plan", "Onboarding", "Renewal")
_DEAL_CURRENCIES: Final = ((("USD", 1), 0.6), (("EUR", 0.92), 0.25), (("GBP", 0.79), 0.15))
_CAMPAIGN_THEMES: Final = (
    "Spring Webinar Series", "Data Platform Launch", "Partner Summit", "Pricing Retargeting",
    "Customer Stories", "Ebook: Forecasting 101", "Trade Show Follow-up", "Brand Always-On",
)  # fmt: skip
_CAMPAIGN_TYPES: Final = ("Webinar", "Email", "Advertisement", "Conference", "Banner Ads", "Referral Program")


@dataclass(frozen=True)
class Stored:
    """One record: its full body (every field of the org's layout) and what listings filter on."""

    id: int
    created: int  # epoch seconds
    modified: int
    converted: bool
    body: Mapping[str, Any]


@dataclass(frozen=True)
class OrgData:
    users: tuple[dict[str, str], ...]
    campaigns: tuple[Stored, ...]
    leads: tuple[Stored, ...]
    deals: tuple[Stored, ...]

    def module(self, name: str) -> tuple[Stored, ...]:
        return {"Leads": self.leads, "Deals": self.deals, "Campaigns": self.campaigns}[name]


def _record_id(org: SandboxOrg, serial: int) -> int:
    return int(f"{org.id_prefix}{serial:012d}")


def _stamp(org: SandboxOrg, epoch: int) -> str:
    return datetime.fromtimestamp(epoch, ZoneInfo(org.time_zone)).isoformat(timespec="seconds")


def _lookup(stored: Stored, name_key: str) -> dict[str, str]:
    return {"name": str(stored.body[name_key]), "id": str(stored.id)}


def _users(org: SandboxOrg) -> tuple[dict[str, str], ...]:
    users = []
    for index in range(min(org.users, 6)):
        rng = _rng("zoho-user", org.zgid, index)
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        users.append(
            {
                "name": f"{first} {last}",
                "id": str(_record_id(org, 1000 + index)),
                "email": f"{first.lower()}.{last.lower()}@{org.domain_name}.example",
            }
        )
    return tuple(users)


def _system_keys(org: SandboxOrg) -> dict[str, Any]:
    return {"$currency_symbol": org.currency_symbol, "$approved": True, "$state": "save", "$editable": True}


def _campaign(org: SandboxOrg, number: int, anchor: int, users: tuple[dict[str, str], ...]) -> Stored:
    rng = _rng("zoho-campaign", org.zgid, number)
    created = anchor - int((120 + rng.random() * 240) * DAY)
    modified = created + int(rng.random() * 90 * DAY)
    start = datetime.fromtimestamp(created, UTC).date() + timedelta(days=7)
    owner = rng.choice(users)
    body = {
        "Campaign_Name": f"{_CAMPAIGN_THEMES[number % len(_CAMPAIGN_THEMES)]} {2025 + number % 2} #{number}",
        "Type": rng.choice(_CAMPAIGN_TYPES),
        "Status": rng.choice(("Active", "Active", "Complete", "Planning")),
        "Start_Date": start.isoformat(),
        "End_Date": (start + timedelta(days=30 + int(rng.random() * 60))).isoformat(),
        "Budgeted_Cost": round(2_000 + rng.random() * 18_000, 2),
        "Actual_Cost": round(1_000 + rng.random() * 15_000, 2),
        "Expected_Revenue": round(10_000 + rng.random() * 90_000, 2),
        "Owner": owner,
        "Created_By": {"name": owner["name"], "id": owner["id"]},
        "Modified_By": {"name": owner["name"], "id": owner["id"]},
        "Created_Time": _stamp(org, created),
        "Modified_Time": _stamp(org, modified),
    }
    return Stored(_record_id(org, 300_000 + number), created, modified, False, body)


def _modified_age(rng: random.Random, recent_share: float) -> int:
    """Seconds before the anchor: most records changed in the last 30 days, the rest in the 30 before."""
    days = 30 * rng.random() if rng.random() < recent_share else 30 + 30 * rng.random()
    return max(60, int(days * DAY))


def _attribution(
    org: SandboxOrg, rng: random.Random, campaigns: tuple[Stored, ...], *, campaign_field: bool
) -> dict[str, Any]:
    source, utm_source, utm_medium = _pick(rng, _SOURCES)
    campaign = rng.choice(campaigns) if campaigns and rng.random() < 0.55 else None
    fields: dict[str, Any] = {"Lead_Source": source}
    if campaign_field:
        fields["Campaign_Source"] = _lookup(campaign, "Campaign_Name") if campaign else None
    if org.utm_fields:
        slug = (
            str(campaign.body["Campaign_Name"]).lower().replace(" ", "_").replace(":", "")
            if campaign
            else None
        )
        if utm_source == "linkedin" and rng.random() < 0.6:
            # Tagged with the id of a campaign of the LinkedIn sandbox's demo account, as a
            # marketer's UTM template would, so the demo can tie leads to ad spend.
            slug = str(LINKEDIN_DEMO_CAMPAIGN_IDS[rng.randrange(len(LINKEDIN_DEMO_CAMPAIGN_IDS))])
        fields.update(
            UTM_Source=utm_source,
            UTM_Medium=utm_medium,
            UTM_Campaign=slug if utm_source else None,
        )
    return fields


def _company(rng: random.Random) -> str:
    return f"{rng.choice(_COMPANY_WORDS)} {rng.choice(_COMPANY_KINDS)} {rng.choice(_COMPANY_SUFFIXES)}"


def _lead(org: SandboxOrg, number: int, anchor: int, data: OrgData) -> Stored:
    rng = _rng("zoho-lead", org.zgid, number)
    modified = anchor - _modified_age(rng, 0.9)
    created = modified - int(rng.random() ** 2 * 45 * DAY)
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    company = _company(rng)
    owner = rng.choice(data.users)
    converted = rng.random() < 0.15
    body: dict[str, Any] = {
        "Owner": owner,
        "Company": company,
        "First_Name": first,
        "Last_Name": last,
        "Full_Name": f"{first} {last}",
        "Email": f"{first.lower()}.{last.lower()}{number}@{company.split()[0].lower()}.example",
        "Lead_Status": "Pre-Qualified" if converted else _pick(rng, _LEAD_STATUSES),
        **_attribution(org, rng, data.campaigns, campaign_field=org.lead_campaign_lookup),
        "Created_By": {"name": owner["name"], "id": owner["id"]},
        "Modified_By": {"name": owner["name"], "id": owner["id"]},
        "Created_Time": _stamp(org, created),
        "Modified_Time": _stamp(org, modified),
    }
    return Stored(_record_id(org, 100_000 + number), created, modified, converted, body)


def _deal(org: SandboxOrg, number: int, anchor: int, data: OrgData) -> Stored:
    rng = _rng("zoho-deal", org.zgid, number)
    modified = anchor - _modified_age(rng, 0.8)
    created = modified - int(rng.random() * 75 * DAY)
    stage, probability, _ = _pick(rng, tuple(((s, p, w), w) for s, p, w in _STAGES))
    company = _company(rng)
    owner = rng.choice(data.users)
    value = round(2_000 + rng.random() ** 2 * 148_000, 2)
    amount: float | int | None = value
    if rng.random() < 0.15:
        amount = int(value)
    elif rng.random() < 0.05:
        amount = None
    closing = datetime.fromtimestamp(created, ZoneInfo(org.time_zone)).date() + timedelta(
        days=10 + int(rng.random() * 110)
    )
    body: dict[str, Any] = {
        "Owner": owner,
        "Deal_Name": f"{company} – {rng.choice(_DEAL_PRODUCTS)}",
        "Account_Name": {"name": company, "id": str(_record_id(org, 400_000 + number))},
        "Stage": stage,
        "Probability": probability,
        "Amount": amount,
        "Expected_Revenue": round(amount * probability / 100, 2) if amount is not None else None,
        "Closing_Date": closing.isoformat(),
        **_attribution(org, rng, data.campaigns, campaign_field=True),
        "Created_By": {"name": owner["name"], "id": owner["id"]},
        "Modified_By": {"name": owner["name"], "id": owner["id"]},
        "Created_Time": _stamp(org, created),
        "Modified_Time": _stamp(org, modified),
    }
    if org.multi_currency:
        currency, rate = _pick(rng, _DEAL_CURRENCIES)
        body.update(Currency=currency, Exchange_Rate=rate)
    return Stored(_record_id(org, 200_000 + number), created, modified, False, body)


@functools.lru_cache(maxsize=16)
def org_data(zgid: str, anchor_day: date) -> OrgData:
    """Every record of one org as of a UTC day (modified times count back from its midnight)."""
    org = ORGS[zgid]
    anchor = int(datetime(anchor_day.year, anchor_day.month, anchor_day.day, tzinfo=UTC).timestamp())
    users = _users(org)
    base = OrgData(users, (), (), ())
    campaigns = tuple(_campaign(org, n, anchor, users) for n in range(1, org.campaign_count + 1))
    base = OrgData(users, campaigns, (), ())
    leads = tuple(_lead(org, n, anchor, base) for n in range(1, org.lead_count + 1))
    deals = tuple(_deal(org, n, anchor, base) for n in range(1, org.deal_count + 1))
    return OrgData(users, campaigns, leads, deals)


# =========================================================================== field layouts

# (api name, label, data type, json type)
_COMMON_HEAD: Final = (("Owner", "Owner", "ownerlookup", "jsonobject"),)
_COMMON_TAIL: Final = (
    ("Created_By", "Created By", "ownerlookup", "jsonobject"),
    ("Modified_By", "Modified By", "ownerlookup", "jsonobject"),
    ("Created_Time", "Created Time", "datetime", "string"),
    ("Modified_Time", "Modified Time", "datetime", "string"),
)
_LEAD_FIELDS: Final = (
    ("Company", "Company", "text", "string"),
    ("First_Name", "First Name", "text", "string"),
    ("Last_Name", "Last Name", "text", "string"),
    ("Full_Name", "Lead Name", "text", "string"),
    ("Email", "Email", "email", "string"),
    ("Lead_Status", "Lead Status", "picklist", "string"),
    ("Lead_Source", "Lead Source", "picklist", "string"),
)
_DEAL_FIELDS: Final = (
    ("Deal_Name", "Deal Name", "text", "string"),
    ("Account_Name", "Account Name", "lookup", "jsonobject"),
    ("Stage", "Stage", "picklist", "string"),
    ("Probability", "Probability (%)", "integer", "integer"),
    ("Amount", "Amount", "currency", "double"),
    ("Expected_Revenue", "Expected Revenue", "currency", "double"),
    ("Closing_Date", "Closing Date", "date", "string"),
    ("Lead_Source", "Lead Source", "picklist", "string"),
    ("Campaign_Source", "Campaign Source", "lookup", "jsonobject"),
)
_CAMPAIGN_FIELDS: Final = (
    ("Campaign_Name", "Campaign Name", "text", "string"),
    ("Type", "Type", "picklist", "string"),
    ("Status", "Status", "picklist", "string"),
    ("Start_Date", "Start Date", "date", "string"),
    ("End_Date", "End Date", "date", "string"),
    ("Budgeted_Cost", "Budgeted Cost", "currency", "double"),
    ("Actual_Cost", "Actual Cost", "currency", "double"),
    ("Expected_Revenue", "Expected Revenue", "currency", "double"),
)
_UTM_FIELDS: Final = (
    ("UTM_Source", "UTM Source", "text", "string"),
    ("UTM_Medium", "UTM Medium", "text", "string"),
    ("UTM_Campaign", "UTM Campaign", "text", "string"),
)
_STANDARD_MODULES: Final = frozenset(
    {"Leads", "Contacts", "Accounts", "Deals", "Campaigns", "Tasks", "Events", "Calls", "Products", "Notes"}
)
SERVED_MODULES: Final = ("Leads", "Deals", "Campaigns")


def _layout_rows(org: SandboxOrg, module: str) -> tuple[tuple[str, str, str, str], ...]:
    if module == "Leads":
        middle = _LEAD_FIELDS + (
            (("Campaign_Source", "Campaign Source", "lookup", "jsonobject"),)
            if org.lead_campaign_lookup
            else ()
        )
    elif module == "Deals":
        currency = (
            ("Currency", "Currency", "picklist", "string"),
            ("Exchange_Rate", "Exchange Rate", "double", "double"),
        )
        middle = _DEAL_FIELDS + (currency if org.multi_currency else ())
    else:
        middle = _CAMPAIGN_FIELDS
    utm = _UTM_FIELDS if org.utm_fields and module in ("Leads", "Deals") else ()
    return _COMMON_HEAD + middle + utm + _COMMON_TAIL


def layout(org: SandboxOrg, module: str) -> list[dict[str, Any]]:
    """The module's fields as ``GET /settings/fields`` describes them."""
    fields = []
    for index, (api_name, label, data_type, json_type) in enumerate(_layout_rows(org, module), start=1):
        custom = api_name.startswith("UTM_")
        fields.append(
            {
                "api_name": api_name,
                "field_label": label,
                "display_label": label,
                "data_type": data_type,
                "json_type": json_type,
                "custom_field": custom,
                "read_only": api_name in ("Created_Time", "Modified_Time", "Created_By", "Modified_By"),
                "visible": True,
                "id": str(_record_id(org, 5_000 + index + 100 * SERVED_MODULES.index(module))),
            }
        )
    return fields


def field_names(org: SandboxOrg, module: str) -> frozenset[str]:
    return frozenset(row[0] for row in _layout_rows(org, module))


# =========================================================================== listings


@dataclass(frozen=True)
class Listing:
    """What a records request selects, before paging."""

    module: str
    sort_by: str
    sort_order: str
    converted: str
    since: datetime | None

    def binding(self, org: SandboxOrg) -> str:
        since = self.since.timestamp() if self.since else ""
        return f"{org.zgid}|{self.module}|{self.sort_by}|{self.sort_order}|{self.converted}|{since}"


_SORT_KEYS: Final[Mapping[str, Callable[[Stored], int]]] = {
    "id": lambda s: s.id,
    "Created_Time": lambda s: s.created,
    "Modified_Time": lambda s: s.modified,
}


def select(records: tuple[Stored, ...], listing: Listing) -> list[Stored]:
    chosen = [
        stored
        for stored in records
        if (listing.since is None or stored.modified > listing.since.timestamp())
        and (
            listing.module != "Leads"
            or listing.converted == "both"
            or stored.converted == (listing.converted == "true")
        )
    ]
    key = _SORT_KEYS[listing.sort_by]
    return sorted(chosen, key=lambda s: (key(s), s.id), reverse=listing.sort_order == "desc")


def render(org: SandboxOrg, module: str, stored: Stored, fields: list[str]) -> dict[str, Any]:
    """A record as the API serves it: the id, the requested fields (null when empty), system keys."""
    record: dict[str, Any] = {name: stored.body.get(name) for name in fields}
    record["id"] = str(stored.id)
    record.update(_system_keys(org))
    if module == "Leads":
        record["$converted"] = stored.converted
    return record


def expected_records(
    account_id: str,
    module: str,
    *,
    since: datetime | None = None,
    converted: str = "both",
    today: date | None = None,
) -> list[dict[str, Any]]:
    """Exactly what ``GET /crm/v8/{module}`` serves (every field, sorted by id) for records modified
    after ``since``; ``converted`` as the API parameter (Leads only)."""
    org = ORGS[account_id]
    data = org_data(org.zgid, today or datetime.now(UTC).date())
    listing = Listing(module, "id", "asc", converted, since)
    names = sorted(field_names(org, module))
    return [render(org, module, stored, names) for stored in select(data.module(module), listing)]


# =========================================================================== errors


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, details: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = dict(details or {})

    def response(self) -> SandboxResponse:
        return zoho_error(self.status, self.code, self.message, self.details)


def zoho_error(
    status: int, code: str, message: str, details: Mapping[str, Any] | None = None
) -> SandboxResponse:
    return json_response(
        status, {"code": code, "details": dict(details or {}), "message": message, "status": "error"}
    )


def _oauth_error(error: str, status: int = 200, description: str | None = None) -> SandboxResponse:
    body = {"error": error}
    if description:
        body["error_description"] = description
    return json_response(status, body)


def _empty(status: int) -> SandboxResponse:
    return SandboxResponse(status, b"", {})


_MALFORMATIONS: Final[Mapping[str, Callable[[dict[str, Any]], Any]]] = {
    "bad_datetime": lambda r: {**r, "Modified_Time": "2026-02-30T15:26:00+05:30"},
    "missing_id": lambda r: {**r, "id": None},
    "non_numeric_amount": lambda r: {**r, "Amount": "12,500.00"},
    "not_an_object": lambda r: "record unavailable",
}


# =========================================================================== tokens


@dataclass
class _AccessToken:
    org: str
    scope: frozenset[str]
    expires_at: float
    expired: bool = False


@dataclass
class _RefreshToken:
    org: str
    scope: str
    revoked: bool = False
    issued: deque[float] = field(default_factory=deque)


@dataclass
class _Code:
    org: str
    scope: str
    redirect_uri: str
    expires_at: float


def _scopes(scope: str) -> frozenset[str]:
    return frozenset(part.strip().lower() for part in scope.replace(" ", ",").split(",") if part.strip())


def _scope_allows(granted: frozenset[str], path: str) -> bool:
    parts = path.strip("/").split("/")  # crm, version, ...
    if parts[2] == "org":
        wanted = {"zohocrm.org.read", "zohocrm.org.all"}
    elif parts[2] == "settings":
        wanted = {"zohocrm.settings.fields.read", "zohocrm.settings.fields.all", "zohocrm.settings.read",
                  "zohocrm.settings.all"}  # fmt: skip
    elif parts[2] not in _STANDARD_MODULES:
        return True  # the handler answers INVALID_MODULE
    else:
        module = parts[2].lower()
        wanted = {f"zohocrm.modules.{module}.read", f"zohocrm.modules.{module}.all", "zohocrm.modules.read",
                  "zohocrm.modules.all"}  # fmt: skip
    return bool(granted & wanted)


# =========================================================================== the fake service


class ZohoCrmSandbox(FakeApi):
    """The Zoho CRM fake (accounts server and API on one host). Options: see :func:`create_app`."""

    platform: ClassVar[str] = "zoho_crm"
    fault_kinds: ClassVar[frozenset[str]] = FAULT_KINDS

    def __init__(
        self,
        *,
        access_token_ttl: int = ACCESS_TOKEN_TTL,
        api_domain: str | None = None,
        credit_limit: int | None = None,
        concurrency_limit: int | None = None,
        tokens_per_window: int = TOKENS_PER_WINDOW,
        clock: Callable[[], float] | None = None,
        removed_fields: tuple[str, ...] | list[str] = (),
    ) -> None:
        super().__init__()
        # API names an org has renamed or deleted: absent from every module's layout and refused in
        # ``fields`` (INVALID_DATA), as on an org whose layout differs from the demo's.
        self.removed_fields = frozenset(removed_fields)
        self.access_token_ttl = access_token_ttl
        self.api_domain = api_domain
        self.credit_limit = credit_limit
        self.concurrency_limit = concurrency_limit
        self.tokens_per_window = tokens_per_window
        self._clock = clock
        self._secret = secrets.token_bytes(16)
        self._lock = threading.Lock()
        self._access: dict[str, _AccessToken] = {}
        self._refresh: dict[str, _RefreshToken] = {}
        self._codes: dict[str, _Code] = {}
        self._credits: dict[str, deque[float]] = {}
        self._in_flight: dict[str, int] = {}
        self.peak_in_flight: dict[str, int] = {}
        self.reset_state()

    # -- time

    # -- FakeApi hooks

    def env(self, base_url: str) -> dict[str, str]:
        return {
            "ZOHO_CRM_ACCOUNTS_URL": base_url,
            "ZOHO_CRM_TOKEN_URL": "",
            "ZOHO_CRM_API_BASE_URL": "",
            "ZOHO_CRM_CLIENT_ID": SANDBOX_CLIENT_ID,
            "ZOHO_CRM_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        }

    def error_response(self, status: int, code: str, message: str) -> SandboxResponse:
        if code == "NOT_FOUND":
            code, message = "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one"
        return zoho_error(status, code, message)

    def reset_state(self) -> None:
        with self._lock:
            self._access.clear()
            self._codes.clear()
            self._credits.clear()
            self._in_flight.clear()
            self.peak_in_flight.clear()
            self._refresh = {
                org.refresh_token: _RefreshToken(org.zgid, DEFAULT_SCOPE) for org in ORGS.values()
            }

    def extra_state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "tokens": {
                    "access": len(self._access),
                    "refresh": len(self._refresh),
                    "refresh_revoked": sum(token.revoked for token in self._refresh.values()),
                },
                "credits_used": {org: len(used) for org, used in self._credits.items()},
                "peak_in_flight": dict(self.peak_in_flight),
            }

    def validate_fault(self, kind: str, params: Mapping[str, Any]) -> str | None:
        if kind == "malformed" and params.get("variant", "bad_datetime") not in _MALFORMATIONS:
            return f"malformed variant must be one of {', '.join(_MALFORMATIONS)}"
        status = params.get("status", 500)
        if kind == "server_error" and not (isinstance(status, int) and 500 <= status <= 599):
            return "server_error status must be 5xx"
        return super().validate_fault(kind, params)

    # -- API request handling: simultaneous calls, credits, token, scope, faults

    def handle(self, request: SandboxRequest) -> SandboxResponse:
        if not request.path.startswith("/crm/"):
            return super().handle(request)
        org = self._org_of(request)
        if org is None:
            return super().handle(request)
        with self._lock:
            self._in_flight[org] = self._in_flight.get(org, 0) + 1
            busy = self._in_flight[org]
            self.peak_in_flight[org] = max(self.peak_in_flight.get(org, 0), busy)
        try:
            if busy > (self.concurrency_limit or CONCURRENCY_BY_EDITION[ORGS[org].edition]):
                self.count("throttled_concurrency")
                return self._too_many("Concurrency limit of your organization exceeded")
            response = super().handle(request)
            remaining = self._credits_remaining(org)
            if remaining is not None:
                response.headers["X-API-CREDITS-REMAINING"] = str(remaining)
            return response
        finally:
            with self._lock:
                self._in_flight[org] -= 1

    def preflight(self, request: SandboxRequest) -> SandboxResponse | None:
        if not request.path.startswith("/crm/"):
            return None
        version = request.path.split("/")[2]
        if version not in SUPPORTED_VERSIONS:
            return self.error_response(404, "NOT_FOUND", "")
        return self._check_token(request) or self._spend_credit(request) or self._injected_failure(request)

    @staticmethod
    def _token_of(request: SandboxRequest) -> str | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return token.strip() if scheme == "Zoho-oauthtoken" and token.strip() else None

    def _org_of(self, request: SandboxRequest) -> str | None:
        token = self._token_of(request)
        with self._lock:
            record = self._access.get(token or "")
            return record.org if record is not None else None

    def _check_token(self, request: SandboxRequest) -> SandboxResponse | None:
        token = self._token_of(request)
        if token is None:
            return zoho_error(401, "AUTHENTICATION_FAILURE", "Authentication failed")
        expire_now = self.faults.take("expire_token", request.path) is not None
        with self._lock:
            record = self._access.get(token)
            if record is not None and expire_now:
                record.expired = True
            if record is None or record.expired or self.now() >= record.expires_at:
                return zoho_error(401, "INVALID_TOKEN", "invalid oauth token")
            if not _scope_allows(record.scope, request.path):
                return zoho_error(401, "OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL")
        return None

    def _credit_budget(self, org: str) -> int:
        return self.credit_limit if self.credit_limit is not None else credit_limit(ORGS[org])

    def _spend_credit(self, request: SandboxRequest) -> SandboxResponse | None:
        org = self._org_of(request) or ""
        now = self.now()
        with self._lock:
            used = self._credits.setdefault(org, deque())
            while used and used[0] <= now - CREDIT_WINDOW_SECONDS:
                used.popleft()
            if len(used) >= self._credit_budget(org):
                exhausted = True
            else:
                used.append(now)
                exhausted = False
        if exhausted:
            self.count("throttled_credits")
            return self._too_many("You have exceeded the API credit limit of your organization")
        return None

    def _credits_remaining(self, org: str) -> int | None:
        """``X-API-CREDITS-REMAINING`` is only sent once half the credits are used."""
        budget = self._credit_budget(org)
        with self._lock:
            used = len(self._credits.get(org, ()))
        return budget - used if used * 2 >= budget else None

    @staticmethod
    def _too_many(message: str) -> SandboxResponse:
        return zoho_error(429, "TOO_MANY_REQUESTS", message)

    def _injected_failure(self, request: SandboxRequest) -> SandboxResponse | None:
        if self.faults.take("rate_limit", request.path) is not None:
            self.count("throttled_fault")
            return self._too_many("Too many requests are made")
        failure = self.faults.take("server_error", request.path)
        if failure is not None:
            status = int(failure.get("status", 500))
            return zoho_error(status, "INTERNAL_ERROR", "Internal Server Error")
        return None

    # -- accounts server

    def _accounts_url(self, request: SandboxRequest) -> str:
        return f"http://{request.headers.get('Host', '127.0.0.1')}"

    @route("GET", r"^/oauth/v2/auth$")
    def authorize(self, request: SandboxRequest) -> SandboxResponse:
        """Approve at once, as if the user clicked "Accept", and send the browser back with a code."""
        args = {
            name: request.arg(name) or "" for name in ("response_type", "client_id", "redirect_uri", "scope")
        }
        missing = [name for name, value in args.items() if not value]
        if missing:
            return _oauth_error("invalid_request", 400, f"The parameter {missing[0]} is missing")
        if args["client_id"] != SANDBOX_CLIENT_ID:
            return _oauth_error("invalid_client", 400)
        if args["response_type"] != "code":
            return _oauth_error("unsupported_response_type", 400)
        code = "1000." + secrets.token_hex(16) + "." + secrets.token_hex(16)
        with self._lock:
            self._codes[code] = _Code(
                DEMO_ORG, args["scope"], args["redirect_uri"], self.now() + AUTHORIZATION_CODE_TTL
            )
        answer = {
            "code": code,
            "location": ORGS[DEMO_ORG].location,
            "accounts-server": self._accounts_url(request),
        }
        state = request.arg("state")
        if state is not None:
            answer = {"state": state, **answer}
        separator = "&" if "?" in args["redirect_uri"] else "?"
        return SandboxResponse(302, b"", {"Location": args["redirect_uri"] + separator + urlencode(answer)})

    @route("POST", r"^/oauth/v2/token$")
    def token(self, request: SandboxRequest) -> SandboxResponse:
        params = {name: values[0] for name, values in request.query.items()}
        if request.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            params.update(request.form())
        if self.faults.take("invalid_client", request.path) is not None:
            return _oauth_error("invalid_client")
        if (
            params.get("client_id") != SANDBOX_CLIENT_ID
            or params.get("client_secret") != SANDBOX_CLIENT_SECRET
        ):
            return _oauth_error("invalid_client")
        grant_type = params.get("grant_type", "")
        if grant_type == "refresh_token":
            return self._refresh_grant(request, params.get("refresh_token", ""))
        if grant_type == "authorization_code":
            return self._code_grant(request, params.get("code", ""), params.get("redirect_uri", ""))
        return _oauth_error("unsupported_grant_type")

    def _refresh_grant(self, request: SandboxRequest, refresh_token: str) -> SandboxResponse:
        revoke = self.faults.take("revoke_refresh", request.path) is not None
        now = self.now()
        with self._lock:
            if revoke:
                for existing in self._refresh.values():
                    existing.revoked = True
            record = self._refresh.get(refresh_token)
            if record is None or record.revoked:
                return _oauth_error("invalid_code")
            while record.issued and record.issued[0] <= now - TOKEN_WINDOW_SECONDS:
                record.issued.popleft()
            if len(record.issued) >= self.tokens_per_window:
                self.count("token_requests_refused")
                return _oauth_error(
                    "Access Denied",
                    400,
                    "You have made too many requests continuously. Please try again after some time.",
                )
            record.issued.append(now)
            return self._issue(request, record.org, record.scope, refresh_token=None)

    def _code_grant(self, request: SandboxRequest, code: str, redirect_uri: str) -> SandboxResponse:
        with self._lock:
            grant = self._codes.pop(code, None)
            if grant is None or grant.redirect_uri != redirect_uri or self.now() >= grant.expires_at:
                return _oauth_error("invalid_code")
            refresh_token = "1000." + secrets.token_hex(16) + "." + secrets.token_hex(16)
            self._refresh[refresh_token] = _RefreshToken(grant.org, grant.scope)
            return self._issue(request, grant.org, grant.scope, refresh_token=refresh_token)

    def _issue(
        self, request: SandboxRequest, org: str, scope: str, *, refresh_token: str | None
    ) -> SandboxResponse:
        """Mint an access token; the caller holds the lock."""
        access_token = "1000." + secrets.token_hex(16) + "." + secrets.token_hex(16)
        self._access[access_token] = _AccessToken(org, _scopes(scope), self.now() + self.access_token_ttl)
        self.count("tokens_issued")
        body: dict[str, Any] = {"access_token": access_token}
        if refresh_token is not None:
            body["refresh_token"] = refresh_token
        body.update(
            scope=scope,
            api_domain=self.api_domain or self._accounts_url(request),
            token_type="Bearer",
            expires_in=self.access_token_ttl,
        )
        return json_response(200, body)

    # -- API

    def _org(self, request: SandboxRequest) -> SandboxOrg:
        zgid = self._org_of(request)
        if zgid is None:  # preflight let it through, so the token was valid a moment ago
            raise ApiError(401, "INVALID_TOKEN", "invalid oauth token")
        return ORGS[zgid]

    @route("GET", r"^/crm/v[^/]+/org$")
    def get_org(self, request: SandboxRequest) -> SandboxResponse:
        org = self._org(request)
        body = {
            "id": org.id,
            "zgid": org.zgid,
            "company_name": org.company_name,
            "domain_name": org.domain_name,
            "primary_email": f"admin@{org.domain_name}.example",
            "country": org.country,
            "time_zone": org.time_zone,
            "currency": org.currency_name,
            "iso_code": org.iso_code,
            "currency_symbol": org.currency_symbol,
            "currency_locale": "en_IN" if org.time_zone == "Asia/Kolkata" else "de_DE",
            "mc_status": org.multi_currency,
            "type": "production",
            "license_details": {
                "paid": org.edition != "free",
                "paid_type": org.edition,
                "users_license_purchased": org.users,
                "portal_users_license_purchased": 0,
                "paid_expiry": None,
                "trial_type": None,
                "trial_expiry": None,
            },
        }
        return json_response(200, {"org": [body]})

    @route("GET", r"^/crm/v[^/]+/settings/fields$")
    def get_fields(self, request: SandboxRequest) -> SandboxResponse:
        org = self._org(request)
        module = request.arg("module")
        if not module:
            return zoho_error(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
                              {"param_name": "module"})  # fmt: skip
        if module not in SERVED_MODULES:
            return zoho_error(
                400, "INVALID_MODULE", "the module name given seems to be invalid", {"param_name": "module"}
            )
        fields = [f for f in layout(org, module) if f["api_name"] not in self.removed_fields]
        return json_response(200, {"fields": fields})

    @route("GET", r"^/crm/v[^/]+/(?P<module>(?!org$)[A-Za-z_]+)$")
    def get_records(self, request: SandboxRequest) -> SandboxResponse:
        try:
            return self._records(request, request.path_params["module"])
        except ApiError as exc:
            return exc.response()

    def _records(self, request: SandboxRequest, module: str) -> SandboxResponse:
        org = self._org(request)
        if module not in _STANDARD_MODULES:
            raise ApiError(
                400, "INVALID_MODULE", "the module name given seems to be invalid", {"resource_path_index": 0}
            )
        fields = self._fields_param(request, org, module)
        removed = [name for name in fields if name in self.removed_fields]
        if removed:
            raise ApiError(
                400, "INVALID_DATA", "invalid data", {"api_name": removed[0], "param_name": "fields"}
            )
        per_page = self._per_page(request)
        listing = Listing(
            module,
            self._choice(request, "sort_by", ("id", "Created_Time", "Modified_Time"), "id"),
            self._choice(request, "sort_order", ("asc", "desc"), "desc"),
            self._choice(request, "converted", ("true", "false", "both"), "false"),
            self._since(request),
        )
        offset = self._offset(request, org, listing, per_page)
        records = org_data(org.zgid, self.today()).module(module) if module in SERVED_MODULES else ()
        if not records:
            return _empty(204)
        selected = select(records, listing)
        if not selected and listing.since is not None:
            return _empty(304)
        page = selected[offset : offset + per_page]
        if not page:
            return _empty(204)
        data = [render(org, module, stored, fields) for stored in page]
        data = self._maybe_malform(request.path, data)
        self.count(f"served:{org.zgid}:{module}", len(data))
        more = offset + per_page < len(selected)
        return json_response(
            200, {"data": data, "info": self._info(org, listing, offset, per_page, len(page), more)}
        )

    def _info(
        self, org: SandboxOrg, listing: Listing, offset: int, per_page: int, count: int, more: bool
    ) -> dict[str, Any]:
        expiry = self.now() + PAGE_TOKEN_TTL
        info: dict[str, Any] = {
            "per_page": per_page,
            "next_page_token": self._page_token(org, listing, offset + per_page, expiry) if more else None,
            "count": count,
            "sort_by": listing.sort_by,
            "page": offset // per_page + 1,
            "previous_page_token": self._page_token(org, listing, max(0, offset - per_page), expiry)
            if offset
            else None,
            "page_token_expiry": _stamp(org, int(expiry)),
            "sort_order": listing.sort_order,
            "more_records": more,
        }
        return info

    # -- parameters

    @staticmethod
    def _fields_param(request: SandboxRequest, org: SandboxOrg, module: str) -> list[str]:
        raw = request.arg("fields")
        if not raw:
            raise ApiError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
                           {"param_name": "fields"})  # fmt: skip
        names = list(dict.fromkeys(name.strip() for name in raw.split(",") if name.strip()))
        if len(names) > MAX_FIELDS:
            raise ApiError(
                400, "LIMIT_EXCEEDED", "fields limit exceeded", {"param_name": "fields", "limit": MAX_FIELDS}
            )
        known = field_names(org, module) | {"id"}
        for name in names:
            if name not in known:
                raise ApiError(
                    400, "INVALID_DATA", "invalid data", {"api_name": name, "param_name": "fields"}
                )
        return [name for name in names if name != "id"]

    @staticmethod
    def _per_page(request: SandboxRequest) -> int:
        raw = request.arg("per_page", str(MAX_PER_PAGE)) or ""
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_PER_PAGE:
            raise ApiError(
                400, "INVALID_DATA", "invalid data", {"param_name": "per_page", "maximum": MAX_PER_PAGE}
            )
        return int(raw)

    @staticmethod
    def _choice(request: SandboxRequest, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = request.arg(name, default) or default
        if value not in allowed:
            raise ApiError(
                400, "INVALID_DATA", "invalid data", {"param_name": name, "supported_values": list(allowed)}
            )
        return value

    @staticmethod
    def _since(request: SandboxRequest) -> datetime | None:
        raw = request.headers.get("If-Modified-Since")
        if raw is None:
            return None
        try:
            parsed = datetime.fromisoformat(raw.strip())
        except ValueError:
            try:
                parsed = parsedate_to_datetime(raw)
            except (TypeError, ValueError):
                parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise ApiError(400, "INVALID_DATA", "invalid data", {"header_name": "If-Modified-Since"})
        return parsed

    def _offset(self, request: SandboxRequest, org: SandboxOrg, listing: Listing, per_page: int) -> int:
        page_raw, token = request.arg("page"), request.arg("page_token")
        if page_raw is not None and token is not None:
            raise ApiError(400, "AMBIGUITY_DURING_PROCESSING", "page and page_token cannot be used together",
                           {"ambiguity_due_to": ["page", "page_token"]})  # fmt: skip
        if token is not None:
            if self.faults.take("expire_page_token", request.path) is not None:
                raise ApiError(
                    400, "EXPIRED_VALUE", "the page_token has expired", {"param_name": "page_token"}
                )
            return self._token_offset(token, org, listing)
        page = page_raw or "1"
        if not page.isdigit() or int(page) < 1:
            raise ApiError(400, "INVALID_DATA", "invalid data", {"param_name": "page"})
        if int(page) * per_page > DISCRETE_LIMIT:
            raise ApiError(400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                           "You can only get the first 2000 records without using page_token param.",
                           {"limit": DISCRETE_LIMIT})  # fmt: skip
        return (int(page) - 1) * per_page

    # -- page tokens: signed, bound to the listing, valid 24 hours

    def _page_token(self, org: SandboxOrg, listing: Listing, offset: int, expiry: float) -> str:
        payload = json.dumps(
            {"b": listing.binding(org), "o": offset, "e": int(expiry)}, separators=(",", ":")
        )
        raw = payload.encode()
        signature = hmac.new(self._secret, raw, hashlib.sha256).digest()[:12]
        return base64.urlsafe_b64encode(raw + signature).decode().rstrip("=")

    def _token_offset(self, token: str, org: SandboxOrg, listing: Listing) -> int:
        try:
            blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            raw, signature = blob[:-12], blob[-12:]
            valid = hmac.compare_digest(hmac.new(self._secret, raw, hashlib.sha256).digest()[:12], signature)
            payload = json.loads(raw) if valid else None
        except (ValueError, TypeError):
            payload = None
        if not isinstance(payload, dict):
            raise ApiError(400, "INVALID_DATA", "invalid data", {"param_name": "page_token"})
        if payload.get("b") != listing.binding(org):
            raise ApiError(400, "TOKEN_BOUND_DATA_MISMATCH", "the page_token does not belong to this request",
                           {"param_name": "page_token"})  # fmt: skip
        if self.now() >= float(payload.get("e", 0)):
            raise ApiError(400, "EXPIRED_VALUE", "the page_token has expired", {"param_name": "page_token"})
        return int(payload["o"])

    def _maybe_malform(self, path: str, data: list[Any]) -> list[Any]:
        fault = self.faults.take("malformed", path)
        if fault is None:
            return data
        index = int(fault.get("index", len(data) // 2)) % len(data)
        data[index] = _MALFORMATIONS[str(fault.get("variant", "bad_datetime"))](data[index])
        return data


def create_app(**options: Any) -> ZohoCrmSandbox:
    """Build the Zoho CRM fake.

    Options: ``access_token_ttl`` (seconds, default 3600); ``api_domain`` (what token answers name as the
    API host; default this server as the client reached it); ``credit_limit`` (24-hour credits per org;
    default by edition); ``concurrency_limit`` (simultaneous calls per org; default by edition);
    ``tokens_per_window`` (access tokens per refresh token per ten minutes, default 10); ``clock`` (a
    ``time.time``-like callable); ``removed_fields`` (API names, e.g. ``["Lead_Source", "UTM_Source"]``,
    that this org's layouts lack: not listed by ``/settings/fields`` and refused in ``fields``).
    """
    return ZohoCrmSandbox(**options)


# The org `make demo` connects (its refresh token is accepted by the sandbox).
DEMO_CONNECTIONS: Final = (
    {
        "account_id": DEMO_ORG,
        "credentials": {"refresh_token": DEMO_REFRESH_TOKEN},
        "options": {"accounts_server": "https://accounts.zoho.in"},
    },
)
