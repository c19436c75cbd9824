"""The Google Ads Query Language statements the connector sends.

GAQL names fields in snake_case. A query that selects ``segments.date`` must bound it on both
sides in WHERE (``BETWEEN 'YYYY-MM-DD' AND 'YYYY-MM-DD'``, inclusive, in the account's time zone),
and metrics may not be asked of a manager account, only of its clients. A metric Google cannot give
for the query refuses the whole query, so the report can be sent again without it.
"""

from __future__ import annotations

from collections.abc import Iterable

from connectors.base import Window
from connectors.google_ads import mapping


def select(fields: Iterable[str], resource: str, where: str = "") -> str:
    query = f"SELECT {', '.join(fields)} FROM {resource}"
    return f"{query} WHERE {where}" if where else query


def campaign_report(window: Window, without: Iterable[str] = ()) -> str:
    """Campaign × day rows for the window (rows whose metrics are all zero are not returned).

    ``without`` names metrics (``view_through_conversions``) the account refused: left out of SELECT.
    """
    where = f"segments.date BETWEEN '{window.start.isoformat()}' AND '{window.end.isoformat()}'"
    dropped = {f"metrics.{name}" for name in without}
    return select([f for f in mapping.CAMPAIGN_REPORT_FIELDS if f not in dropped], "campaign", where)


def account_totals(window: Window, without: Iterable[str] = ()) -> str:
    """The account's own totals over the window (FROM customer, not segmented by date): every
    campaign of the account, whatever its status, as the campaign report reads them."""
    where = f"segments.date BETWEEN '{window.start.isoformat()}' AND '{window.end.isoformat()}'"
    dropped = {f"metrics.{name}" for name in without}
    return select([f for f in mapping.TOTALS_FIELDS if f not in dropped], "customer", where)


def account() -> str:
    return select(mapping.ACCOUNT_FIELDS, "customer")


def clients() -> str:
    return select(mapping.CLIENT_FIELDS, "customer_client")
