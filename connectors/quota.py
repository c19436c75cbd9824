"""A platform's API budget per credential, and what this installation spent of it.

Each connector declares its documented budget (``BaseConnector.quota_budget``): how much one
credential may spend per day, in what (Google Ads operations, calls, Zoho CRM credits, Demandbase
export jobs), whose it is (the Google Cloud project, the LinkedIn app, the Zoho CRM organization,
the Demandbase tenant) and whether the day is the UTC day or any 24 hours. The amount is a setting
of the platform (``<PLATFORM>_DAILY_QUOTA``), since it depends on the deployment's access level or
edition. Mailchimp has no daily budget, only 10 simultaneous connections (its concurrency limit).

``QuotaMeter`` is what the shared client (``ApiClient.run``) calls before every request it sends,
retries included (the platform counts those too): one upsert that adds the request's cost to the
credential's row of the current UTC hour, so every worker adds to the same count. ``quota_spent``
sums the rows of the budget's day.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection as db
from django.utils import timezone

from connectors.errors import RateLimited


@dataclass(frozen=True)
class QuotaTerms:
    """A platform's documented daily budget, as its connector declares it (``daily_quota``); the
    amount comes from the platform's ``DAILY_QUOTA`` setting, whose default is the documented one."""

    unit: str  # what is counted, plural: "operations", "calls", "credits", "export jobs"
    holder: str  # whose budget it is: "Google Cloud project", "LinkedIn app", ...
    rolling: bool  # any 24 hours, else the UTC day (reset at 00:00 UTC)
    source: str


@dataclass(frozen=True)
class QuotaBudget:
    """What one credential may spend per day. ``amount`` None: the platform publishes no number
    (the deployment sets its own). ``rolling``: any 24 hours, else the UTC day (reset at 00:00 UTC)."""

    amount: int | None
    unit: str  # what is counted, plural: "operations", "calls", "credits", "export jobs"
    holder: str  # whose budget it is: "Google Cloud project", "LinkedIn app", ...
    rolling: bool
    source: str
    setting: str  # the setting that overrides the amount

    def day_start(self, now: datetime) -> datetime:
        """The start of the budget's current day."""
        if self.rolling:
            return hour_of(now) - timedelta(hours=23)
        return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)

    def resets_at(self, now: datetime) -> datetime:
        """When what is spent now stops counting: the next 00:00 UTC, or 24 hours on."""
        if self.rolling:
            return hour_of(now) + timedelta(hours=24)
        return self.day_start(now) + timedelta(days=1)

    def days_for(self, cost: int, spent_today: int) -> int | None:
        """How many days (today counting as the first) a cost of ``cost`` takes within the budget,
        given what is spent today; None when the budget is not known."""
        if self.amount is None or self.amount <= 0:
            return None
        left_today = max(0, self.amount - spent_today)
        if cost <= left_today:
            return 1
        return 1 + math.ceil((cost - left_today) / self.amount)


@dataclass(frozen=True)
class Credential:
    """The credential a connection spends from: its platform, a label (never a secret) and budget."""

    platform: str
    label: str
    budget: QuotaBudget


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def quota_spend(*, platform: str, credential: str, amount: int = 1, now: datetime | None = None) -> None:
    """Add ``amount`` to the credential's count of the current hour: one statement, safe across workers."""
    from connectors.models import ApiQuotaSpend  # connectors.base imports this module before apps load

    if amount <= 0:
        return
    table = ApiQuotaSpend._meta.db_table
    hour = db.ops.adapt_datetimefield_value(hour_of(now or timezone.now()))
    with db.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (platform, credential, hour, spent) VALUES (%s, %s, %s, %s) "
            f"ON CONFLICT (platform, credential, hour) DO UPDATE SET spent = {table}.spent + excluded.spent",
            [platform, credential[:200], hour, amount],
        )


def quota_spent(*, credential: Credential, now: datetime | None = None) -> int:
    """What the credential spent in its budget's current day."""
    from connectors.models import ApiQuotaSpend

    since = credential.budget.day_start(now or timezone.now())
    rows = ApiQuotaSpend.objects.filter(
        platform=credential.platform, credential=credential.label[:200], hour__gte=since
    )
    return sum(rows.values_list("spent", flat=True))


class QuotaExhausted(RateLimited):
    """This installation's own count says the credential's budget for the day is spent."""


def quota_check(*, credential: Credential, cost: int, now: datetime | None = None) -> None:
    """Raise QuotaExhausted, waiting until the reset, when ``cost`` more would exceed the budget."""
    budget = credential.budget
    if budget.amount is None or budget.amount <= 0:
        return
    now = now or timezone.now()
    spent = quota_spent(credential=credential, now=now)
    if spent + cost > budget.amount:
        resets = budget.resets_at(now)
        raise QuotaExhausted(
            f"The daily {credential.platform.replace('_', ' ')} API budget of this {budget.holder} is spent "
            f"({spent:,} of {budget.amount:,} {budget.unit}); it resets at {resets:%H:%M} UTC",
            retry_after=max(0.0, (resets - now).total_seconds()),
            code="quota_exhausted",
        )


@dataclass
class QuotaMeter:
    """Counts what each request a connector sends costs, against its credential (``ApiClient.spend``)."""

    credential: Credential
    cost: Callable[[str], int]  # what one request costs, from "METHOD /path" or the call's name

    def __call__(self, what: str) -> None:
        quota_spend(
            platform=self.credential.platform, credential=self.credential.label, amount=self.cost(what)
        )
