"""The Zoho CRM sandbox's data: two orgs, their records, the fields of each module's layout, and which
records a listing selects in which order.

Northwind Traders (IST, multi-currency, UTM custom fields) has 2,450 leads, so a client that ignores
``page_token`` loses rows, and 320 deals; Northwind GmbH (Berlin, euros only, no UTM fields) has no
leads and 40 deals. Records are hash-seeded and the same in every process; their modified times spread
over the 60 days before the current UTC midnight, so ``If-Modified-Since`` filters, and stay put for the
whole day. :func:`expected_records` says exactly what a listing serves.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from sandbox.core import seeded_rng as _rng
from sandbox.core import weighted_pick as _pick

DEMO_REFRESH_TOKEN: Final = "1000.5a4db1e7c0de4e57a11ce5a4db1e7c0d.9e0f3c2b1a0d9e8f7a6b5c4d3e2f1a0b"
GMBH_REFRESH_TOKEN: Final = "1000.0b1a2c3d4e5f60718293a4b5c6d7e8f9.1f2e3d4c5b6a79880716253443526170"
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


def stamp(org: SandboxOrg, epoch: int) -> str:
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
        "Created_Time": stamp(org, created),
        "Modified_Time": stamp(org, modified),
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
        "Created_Time": stamp(org, created),
        "Modified_Time": stamp(org, modified),
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
        "Created_Time": stamp(org, created),
        "Modified_Time": stamp(org, modified),
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
STANDARD_MODULES: Final = frozenset(
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
