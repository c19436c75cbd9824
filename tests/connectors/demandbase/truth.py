"""What the warehouse should hold for a Demandbase sandbox tenant, computed independently of the
connector from the sandbox's own helpers (``expected_accounts``, ``expected_intent_rows``)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sandbox.demandbase import (
    DEMO_TENANT,
    expected_accounts,
    expected_activities,
    expected_intent_rows,
)

CHANNELS = {"Web Visit": "web", "Email Open": "email", "Email Click": "email", "Ad Click": "ad"}

RANK = {"LOW": 1, "MED": 2, "HIGH": 3}
STRENGTH = {rank: name for name, rank in RANK.items()}


def account_truth(as_of: date, tenant: str = DEMO_TENANT) -> dict[str, tuple[Any, ...]]:
    """account id → (domain, name, journey stage, minutes 7d, points 30d, intent score, keyword count)."""
    return {
        str(r["{Account}.id"]): (
            r["{Account}.domain"],
            r["{Account}.name"],
            r["{Account}.journeyStage"],
            Decimal(r["{Account}.engagementMinutesLast7Day"]),
            Decimal(r["{Account}.engagementPointsLast30Day"]),
            Decimal(str(r["{Account}.intentScore"])),
            r["{Account}.intentKeywordCount"],
        )
        for r in expected_accounts(as_of, tenant=tenant)
    }


def aggregate_intent(
    rows: list[dict[str, Any]], start: date, end: date
) -> dict[tuple[str, date], tuple[Any, ...]]:
    """(account id, period end) → (domain, people researching, strongest intent, keywords)."""
    periods: dict[tuple[str, date], dict[str, Any]] = {}
    for row in rows:
        day = date.fromisoformat(row["endDate"])
        if not start <= day <= end:
            continue
        period = periods.setdefault(
            (row["companyId"], day), {"domain": row["domain"], "people": {}, "rank": 0}
        )
        people = period["people"]
        people[row["keyword"]] = max(people.get(row["keyword"], 0), row["numPeopleResearching"])
        period["rank"] = max(period["rank"], RANK[row["intentStrength"]])
    return {
        key: (p["domain"], sum(p["people"].values()), STRENGTH[p["rank"]], ", ".join(sorted(p["people"])))
        for key, p in periods.items()
    }


def intent_truth(
    start: date,
    end: date,
    *,
    today: date,
    tenant: str = DEMO_TENANT,
    keyword_set_ids: list[int] | None = None,
) -> dict[tuple[str, date], tuple[Any, ...]]:
    """The aggregated intent a sync of [start, end] should load (periods ending inside the window)."""
    rows = expected_intent_rows(
        start - timedelta(days=6), end, today=today, tenant=tenant, keyword_set_ids=keyword_set_ids
    )
    return aggregate_intent(rows, start, end)


def engagement_truth(
    start: date, end: date, *, as_of: date, tenant: str = DEMO_TENANT
) -> dict[tuple[str, date], tuple[Any, ...]]:
    """(account id, day) → (minutes, points, web, email, ad minutes, page views) the activity export
    of [start, end] serves, summed independently of the connector."""
    days: dict[tuple[str, date], list[int]] = {}
    for r in expected_activities(start, end, as_of, tenant=tenant):
        sums = days.setdefault(
            (str(r["{Account}.id"]), date.fromisoformat(r["{Activity}.activityDate"])), [0] * 6
        )
        minutes = r["{Activity}.engagementMinutes"]
        sums[0] += minutes
        sums[1] += r["{Activity}.engagementPoints"]
        sums[2 + ("web", "email", "ad").index(CHANNELS[r["{Activity}.type"]])] += minutes
        sums[5] += r["{Activity}.pageViews"]
    return {key: (*(Decimal(n) for n in sums[:5]), sums[5]) for key, sums in days.items()}
