"""Intent rows → one record per account per intent period, for the daily engagement table.

Demandbase reports intent per company, per keyword, per measurement period (``startDate``–``endDate``,
weekly windows), not per day. Each period lands in ``abm_engagement_daily`` once, on its **end date**:

- ``numPeopleResearching``: the sum over the period's distinct keywords (a person researching two
  keywords counts twice; Demandbase gives no de-duplicated figure). A keyword reported twice (it sits
  in two queried keyword sets) counts once, with its larger figure.
- ``intentStrength``: the strongest of the period's keywords (HIGH > MED > LOW).
- ``keywords``: the period's distinct keywords, sorted, joined with ", ".
- ``isTrending`` / ``trendingScore``: any keyword trending / the highest score.

Only periods ending inside the sync window are kept, so every day of the window is either covered
or truly empty. Rows that cannot be aggregated (not an object, no company id, no valid end date, an
unreadable count) are passed on unchanged, before the aggregates, for the normalizer to quarantine.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

STRENGTHS = {"LOW": 1, "MED": 2, "HIGH": 3}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _company(row: dict[str, Any]) -> str | None:
    value = row.get("companyId")
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _day(value: Any) -> date | None:
    if not isinstance(value, str) or not _DATE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _count(value: Any) -> int | None:
    """People researching: a whole number, or None when absent. Raises ValueError when unreadable."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(value)


@dataclass
class _Period:
    company_id: str
    end: date
    start: str | None = None
    domain: str | None = None
    people: dict[str, int | None] = field(default_factory=dict)  # keyword -> people researching
    strength: str | None = None
    trending: bool = False
    trending_score: int | None = None

    def add(self, row: dict[str, Any], people: int | None) -> None:
        keyword = row.get("keyword")
        key = keyword.strip() if isinstance(keyword, str) and keyword.strip() else ""
        previous = self.people.get(key)
        if key not in self.people or (people is not None and (previous is None or people > previous)):
            self.people[key] = people
        strength = row.get("intentStrength")
        if isinstance(strength, str) and STRENGTHS.get(strength, 0) > STRENGTHS.get(self.strength or "", 0):
            self.strength = strength
        if isinstance(row.get("domain"), str) and row["domain"]:
            self.domain = self.domain or row["domain"]
        if isinstance(row.get("startDate"), str):
            self.start = min(self.start or row["startDate"], row["startDate"])
        self.trending = self.trending or row.get("isTrending") is True
        score = row.get("trendingScore")
        if isinstance(score, int) and not isinstance(score, bool):
            self.trending_score = max(score, self.trending_score or 0)

    def record(self) -> dict[str, Any]:
        counts = [p for p in self.people.values() if p is not None]
        keywords = sorted(k for k in self.people if k)
        return {
            "companyId": self.company_id,
            "domain": self.domain,
            "startDate": self.start,
            "endDate": self.end.isoformat(),
            "numPeopleResearching": sum(counts) if counts else None,
            "intentStrength": self.strength,
            "keywords": ", ".join(keywords) or None,
            "keywordCount": len(keywords),
            "isTrending": self.trending,
            "trendingScore": self.trending_score,
        }


def daily_intent(rows: Iterable[Any], start: date, end: date) -> list[Any]:
    """Unreadable rows first (for quarantine), then one aggregate per company and period end date."""
    unreadable, periods = intent_periods(rows, start, end)
    return unreadable + periods


def intent_periods(rows: Iterable[Any], start: date, end: date) -> tuple[list[Any], list[dict[str, Any]]]:
    """The unreadable rows, and one aggregate per company and period end date (by date, then company)."""
    periods: dict[tuple[str, date], _Period] = {}
    unreadable: list[Any] = []
    for row in rows:
        if not isinstance(row, dict):
            unreadable.append(row)
            continue
        company, day = _company(row), _day(row.get("endDate"))
        try:
            people = _count(row.get("numPeopleResearching"))
        except ValueError:
            unreadable.append(row)
            continue
        if company is None or day is None:
            unreadable.append(row)
            continue
        if not start <= day <= end:
            continue
        periods.setdefault((company, day), _Period(company, day)).add(row, people)
    return unreadable, [periods[key].record() for key in sorted(periods, key=lambda k: (k[1], k[0]))]
