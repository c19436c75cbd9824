"""Who the visitor is, which connections their organization has, and how settled its numbers are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import CharField, QuerySet
from django.db.models.functions import Cast, Substr

from connectors.models import Connection
from connectors.registry import UnknownPlatform, connector_classes, get_connector_class
from dashboard.ids import id_in_range
from dashboard.periods import DateRange
from tenancy.models import Membership, Organization


def utc_day(field_name: str) -> Substr:
    """The UTC calendar day of a datetime column as "YYYY-MM-DD" text, computed in SQL.

    Taken from the column's text form rather than with TruncDate: PostgreSQL prints a timestamptz
    in the session's time zone (UTC here), and the warehouse's SQLite rows hold ISO strings
    ("2025-03-31T12:00:00+00:00") that SQLite's date functions do not read.
    """
    return Substr(Cast(field_name, output_field=CharField()), 1, 10)


def parse_day(value: str | date | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def platform_name(platform: str) -> str:
    known = connector_classes().get(platform)
    return known.display_name if known else platform.replace("_", " ").title()


def connection_label(connection: Connection) -> str:
    """A connection in words that tell it apart from another of the same name: its name, platform
    and account ("Northwind Traders (LinkedIn Ads, account 508000001)"), or, without a name, its
    platform and account ("LinkedIn Ads account 508000001")."""
    platform = platform_name(connection.platform)
    if connection.name:
        return f"{connection.name} ({platform}, account {connection.account_id})"
    return f"{platform} account {connection.account_id}"


def membership_for_user(user: AbstractBaseUser | AnonymousUser) -> Membership | None:
    """The user's membership (the first organization by name if several), else None.

    Superusers get no special treatment: without a membership they have no organization here.
    """
    if not user.is_authenticated:
        return None
    return (
        Membership.objects.filter(user_id=user.pk)
        .select_related("organization")
        .order_by("organization__name", "organization_id")
        .first()
    )


def organization_for_user(user: AbstractBaseUser | AnonymousUser) -> Organization | None:
    membership = membership_for_user(user)
    return membership.organization if membership else None


def connection_list_for_organization(*, organization: Organization) -> QuerySet[Connection]:
    return Connection.objects.filter(organization_id=organization.pk).order_by("platform", "account_id")


def connection_get_for_organization(
    *, organization: Organization | None, connection_id: int
) -> Connection | None:
    """The connection if it belongs to the organization; None otherwise (or without organization)."""
    if organization is None or not id_in_range(connection_id):
        return None
    return connection_list_for_organization(organization=organization).filter(pk=connection_id).first()


def connection_list_needing_reauth(*, organization: Organization) -> list[Connection]:
    return list(
        connection_list_for_organization(organization=organization).filter(
            status=Connection.Status.NEEDS_REAUTH
        )
    )


def organization_platforms(*, organization: Organization) -> set[str]:
    return set(
        Connection.objects.filter(organization_id=organization.pk)
        .values_list("platform", flat=True)
        .distinct()
    )


# --------------------------------------------------------------------------------------------
# Restatement: how far back a platform still changes its numbers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Restatement:
    """Days from ``since`` to today are re-read on every sync: their numbers may still change."""

    platform: str
    platform_name: str
    days: int
    since: date

    def covers(self, day: date) -> bool:
        return day >= self.since

    def overlaps(self, date_range: DateRange) -> bool:
        return date_range.end >= self.since


def platform_restatement_days(platform: str) -> int:
    try:
        return get_connector_class(platform).restatement_days()
    except UnknownPlatform:
        return int(getattr(settings, f"{platform.upper()}_RESTATEMENT_DAYS", 0) or 0)


def restatement_windows(*, organization: Organization, today: date) -> dict[str, Restatement]:
    """Per platform the organization connects, the widest restatement window of its connections."""
    widest: dict[str, int] = {}
    rows = Connection.objects.filter(organization_id=organization.pk).values_list(
        "platform", "restatement_days"
    )
    for platform, override in rows:
        days = override or platform_restatement_days(platform)
        widest[platform] = max(widest.get(platform, 0), days)
    return {
        platform: Restatement(
            platform=platform,
            platform_name=platform_name(platform),
            days=days,
            since=today - timedelta(days=days - 1),
        )
        for platform, days in sorted(widest.items())
        if days > 0
    }


def restatements_overlapping(
    windows: dict[str, Restatement], platforms: set[str] | list[str], date_range: DateRange
) -> list[Restatement]:
    return [windows[p] for p in sorted(set(platforms)) if p in windows and windows[p].overlaps(date_range)]


def earliest_since(restatements: list[Restatement]) -> date | None:
    return min((r.since for r in restatements), default=None)


def percent_change(now: Decimal | int | None, then: Decimal | int | None) -> Decimal | None:
    """The change from ``then`` to ``now`` in percent of ``then``'s size; None when either is missing
    or ``then`` is 0 (no change can be said)."""
    if now is None or then is None or not then:
        return None
    return (Decimal(now) - Decimal(then)) * 100 / abs(Decimal(then))
