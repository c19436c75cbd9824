"""Google Ads rows (the library's proto-plus messages) → the plain dicts the pipeline stages.

Only the fields the connector asked for are read. A field the API left out is ``None``; that holds
for report metrics too: they have explicit presence (proto3 ``optional``), so a zero arrives as 0
and an absent metric is one Google did not report for the row, which stays ``None``, never 0.
int64 IDs become strings (they do not fit a JavaScript number and are identifiers, not quantities); enums
become their names (``ENABLED``); micros stay integers and conversions stay the doubles they are.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from connectors.base import Record
from connectors.google_ads import mapping


def value(message: Any, name: str) -> Any:
    """A field of a proto-plus message, ``None`` when absent, enums by name."""
    if name not in message:
        return None
    found = getattr(message, name)
    return found.name if isinstance(found, enum.Enum) else found


def ident(message: Any, name: str) -> str | None:
    found = value(message, name)
    return None if found is None else str(found)


def _customer(message: Any) -> Record:
    return {
        "id": ident(message, "id"),
        "descriptive_name": value(message, "descriptive_name"),
        "currency_code": value(message, "currency_code"),
        "time_zone": value(message, "time_zone"),
    }


def campaign_record(row: Any) -> Record:
    """One campaign × day report row."""
    metrics = row.metrics
    return {
        "customer": _customer(row.customer),
        "campaign": {
            "id": ident(row.campaign, "id"),
            "name": value(row.campaign, "name"),
            "status": value(row.campaign, "status"),
            "advertising_channel_type": value(row.campaign, "advertising_channel_type"),
        },
        "segments": {"date": value(row.segments, "date")},
        "metrics": {name: value(metrics, name) for name in mapping.REPORT_METRICS},
    }


@dataclass(frozen=True)
class Account:
    """A Google Ads account (customer): the connection's own, or a client under a manager."""

    id: str
    name: str | None
    currency: str | None
    time_zone: str | None
    manager: bool
    status: str | None
    level: int = 0

    @property
    def label(self) -> str:
        return f"{format_customer_id(self.id)} ({self.name})" if self.name else format_customer_id(self.id)

    def as_dict(self) -> Record:
        return {
            "id": self.id,
            "descriptive_name": self.name,
            "currency_code": self.currency,
            "time_zone": self.time_zone,
            "manager": self.manager,
            "status": self.status,
            "level": self.level,
        }


def account_from_customer(row: Any) -> Account:
    customer = row.customer
    return Account(
        id=ident(customer, "id") or "",
        name=value(customer, "descriptive_name"),
        currency=value(customer, "currency_code"),
        time_zone=value(customer, "time_zone"),
        manager=bool(value(customer, "manager")),
        status=value(customer, "status"),
    )


def account_from_client(row: Any) -> Account:
    client = row.customer_client
    return Account(
        id=ident(client, "id") or "",
        name=value(client, "descriptive_name"),
        currency=value(client, "currency_code"),
        time_zone=value(client, "time_zone"),
        manager=bool(value(client, "manager")),
        status=value(client, "status"),
        level=int(value(client, "level") or 0),
    )


def format_customer_id(customer_id: str) -> str:
    """``1234567890`` → ``123-456-7890``, the way the Google Ads UI shows it."""
    if len(customer_id) == 10 and customer_id.isdigit():
        return f"{customer_id[:3]}-{customer_id[3:6]}-{customer_id[6:]}"
    return customer_id
