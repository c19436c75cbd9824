"""Answering a GAQL query from the catalogue, the way the Google Ads API would.

Fields are checked against the real ``GoogleAdsRow`` message of the pinned API version: a name that
is not a field there is ``UNRECOGNIZED_FIELD``; a field of a resource the FROM clause does not
reach is ``PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE``; metrics are refused on ``customer_client``
and, for a manager account, with ``REQUESTED_METRICS_FOR_MANAGER``; selecting ``segments.date``
needs a finite date range (``EXPECTED_FILTERS_ON_DATE_RANGE``). Real fields the sandbox does not
model are refused as not implemented rather than answered wrongly.

Rows are built as flat ``{"campaign.id": ...}`` dicts, filtered, ordered and projected into
``GoogleAdsRow`` protobufs holding only the selected fields plus each selected resource's
``resource_name``. Rows whose selected metrics are all zero are left out, as the API does.

Metrics have explicit presence (proto3 ``optional``): a zero is sent as a set 0, and a metric left
unset is one the API does not report for that row. Two options reproduce tenants unlike the demo
(both off by default): ``unreported`` campaign types, whose campaign rows come without the named
metrics (absent, not 0), and ``refused`` metrics, whose selection the account refuses as the API
refuses a metric that does not fit a query (``PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE``, with
the metric quoted in the message).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import import_module
from typing import Any, Final

import grpc

from connectors.google_ads import API_VERSION
from sandbox.google_ads import catalogue, gaql
from sandbox.google_ads.catalogue import SandboxCampaign, SandboxCustomer

ROW: Final[Any] = import_module(
    f"google.ads.googleads.{API_VERSION}.services.types.google_ads_service"
).GoogleAdsRow.pb()

# The resources a FROM clause reaches (itself and the resources attributed to it).
REACHES: Final = {
    "campaign": frozenset({"campaign", "customer"}),
    "customer": frozenset({"customer"}),
    "customer_client": frozenset({"customer_client", "customer"}),
}
WITH_METRICS: Final = frozenset({"campaign", "customer"})
MODELED: Final = {
    "campaign": frozenset({"resource_name", "id", "name", "status", "advertising_channel_type"}),
    "customer": frozenset(
        {
            "resource_name",
            "id",
            "descriptive_name",
            "currency_code",
            "time_zone",
            "manager",
            "status",
            "test_account",
        }
    ),
    "customer_client": frozenset(
        {
            "resource_name",
            "client_customer",
            "id",
            "level",
            "status",
            "manager",
            "descriptive_name",
            "currency_code",
            "time_zone",
            "hidden",
            "test_account",
        }
    ),
    "metrics": frozenset(catalogue.METRIC_NAMES),
    "segments": frozenset({"date"}),
}
DATE_FIELD: Final = "segments.date"
DATE_RE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ReportError(Exception):
    """A request the API refuses: gRPC status, the ErrorCode family and name, a message."""

    def __init__(
        self, name: str, message: str, *, family: str = "query_error", status: grpc.StatusCode | None = None
    ) -> None:
        super().__init__(message)
        self.family = family
        self.name = name
        self.message = message
        self.status = status or grpc.StatusCode.INVALID_ARGUMENT


class NotImitated(Exception):
    """Valid for the API, but outside what the sandbox imitates (answered UNIMPLEMENTED)."""


@dataclass(frozen=True)
class Report:
    resource: str
    rows: list[Any]  # GoogleAdsRow protobuf messages
    field_paths: tuple[str, ...]


# =========================================================================== field checks


def field_descriptor(path: str) -> Any:
    """The protobuf field a GAQL name designates in GoogleAdsRow, or None."""
    message, found = ROW.DESCRIPTOR, None
    for part in path.split("."):
        if message is None:
            return None
        found = message.fields_by_name.get(part)
        if found is None:
            return None
        message = found.message_type
    return found if found is not None and found.message_type is None and "." in path else None


def _check_resource(resource: str) -> None:
    top = ROW.DESCRIPTOR.fields_by_name.get(resource)
    if top is None or resource in ("metrics", "segments"):
        raise ReportError("BAD_RESOURCE_TYPE_IN_FROM_CLAUSE", f"Unrecognized resource {resource!r} in FROM.")
    if resource not in REACHES:
        raise NotImitated(f"The sandbox answers FROM campaign, customer and customer_client, not {resource}.")


def _check_field(path: str, resource: str) -> None:
    if field_descriptor(path) is None:
        raise ReportError("UNRECOGNIZED_FIELD", f"Unrecognized field in the query: '{path}'.")
    prefix, _, leaf = path.partition(".")
    if prefix == "metrics" and resource not in WITH_METRICS:
        raise incompatible_metrics([leaf], resource)
    if prefix == "segments" and resource not in WITH_METRICS:
        raise ReportError(
            "PROHIBITED_SEGMENT_IN_SELECT_OR_WHERE_CLAUSE",
            f"Segment {path} cannot be used with FROM {resource}.",
        )
    if prefix not in ("metrics", "segments") and prefix not in REACHES[resource]:
        raise ReportError(
            "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE",
            f"The resource '{prefix}' cannot be selected with FROM {resource}.",
        )
    if leaf not in MODELED.get(prefix, frozenset()):
        raise NotImitated(f"The sandbox does not model the field {path}.")


def incompatible_metrics(names: Iterable[str], resource: str) -> ReportError:
    """The API's refusal of metrics that do not fit the query, each quoted by name."""
    listed = ", ".join(
        f"'{name}' (could not support requested resources: '{resource.upper()}')" for name in names
    )
    return ReportError(
        "PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE",
        f"Cannot select or filter on the following metrics: {listed}, since metric is incompatible with "
        "the resource in the FROM clause or other selected segmenting resources.",
    )


# =========================================================================== date ranges


def _date(value: gaql.Literal) -> date:
    if not isinstance(value, str) or not DATE_RE.match(value):
        raise ReportError("INVALID_DATE_FORMAT", f"{value!r} is not a date in YYYY-MM-DD format.")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ReportError("INVALID_DATE_FORMAT", f"{value!r} is not a valid date.") from None


def during(name: str, today: date) -> tuple[date, date]:
    """The dates of a DURING range for an account whose local date is ``today``."""
    first_of_month = today.replace(day=1)
    monday = today - timedelta(days=today.weekday())
    ranges: dict[str, tuple[date, date]] = {
        "TODAY": (today, today),
        "YESTERDAY": (today - timedelta(days=1), today - timedelta(days=1)),
        "LAST_7_DAYS": (today - timedelta(days=7), today - timedelta(days=1)),
        "LAST_14_DAYS": (today - timedelta(days=14), today - timedelta(days=1)),
        "LAST_30_DAYS": (today - timedelta(days=30), today - timedelta(days=1)),
        "THIS_MONTH": (first_of_month, today),
        "LAST_MONTH": (
            (first_of_month - timedelta(days=1)).replace(day=1),
            first_of_month - timedelta(days=1),
        ),
        "THIS_WEEK_MON_TODAY": (monday, today),
        "LAST_WEEK_MON_SUN": (monday - timedelta(days=7), monday - timedelta(days=1)),
    }
    if name not in ranges:
        raise ReportError(
            "INVALID_VALUE_WITH_DURING_OPERATOR", f"{name} is not a date range this API accepts."
        )
    return ranges[name]


@dataclass
class DateRange:
    start: date | None = None
    end: date | None = None

    @property
    def finite(self) -> bool:
        return self.start is not None and self.end is not None

    def narrow(self, start: date | None, end: date | None) -> None:
        if start is not None:
            self.start = start if self.start is None else max(self.start, start)
        if end is not None:
            self.end = end if self.end is None else min(self.end, end)


def date_range(query: gaql.Query, today: date) -> DateRange:
    bounds = DateRange()
    for condition in query.conditions_on(DATE_FIELD):
        op, values = condition.operator, condition.values
        if op == "BETWEEN":
            bounds.narrow(_date(values[0]), _date(values[1]))
        elif op == "=":
            bounds.narrow(_date(values[0]), _date(values[0]))
        elif op in (">=", ">"):
            bounds.narrow(_date(values[0]) + timedelta(days=1 if op == ">" else 0), None)
        elif op in ("<=", "<"):
            bounds.narrow(None, _date(values[0]) - timedelta(days=1 if op == "<" else 0))
        elif op == "IN":
            listed = [_date(v) for v in values]
            bounds.narrow(min(listed), max(listed))
        elif op == "DURING":
            bounds.narrow(*during(str(values[0]), today))
    if bounds.finite and bounds.start and bounds.end and bounds.start > bounds.end:
        raise ReportError("DATE_RANGE_TOO_NARROW", "The date range starts after it ends.")
    return bounds


# =========================================================================== flat values


def customer_values(customer: SandboxCustomer) -> dict[str, Any]:
    return {
        "customer.resource_name": f"customers/{customer.id}",
        "customer.id": int(customer.id),
        "customer.descriptive_name": customer.name,
        "customer.currency_code": customer.currency,
        "customer.time_zone": customer.time_zone,
        "customer.manager": customer.manager,
        "customer.status": customer.status,
        "customer.test_account": False,
    }


def campaign_values(campaign: SandboxCampaign, customer: SandboxCustomer) -> dict[str, Any]:
    return {
        **customer_values(customer),
        "campaign.resource_name": f"customers/{customer.id}/campaigns/{campaign.id}",
        "campaign.id": campaign.id,
        "campaign.name": campaign.name,
        "campaign.status": campaign.status,
        "campaign.advertising_channel_type": campaign.channel.name,
    }


def client_values(client: SandboxCustomer, level: int, manager: SandboxCustomer) -> dict[str, Any]:
    return {
        **customer_values(manager),
        "customer_client.resource_name": f"customers/{manager.id}/customerClients/{client.id}",
        "customer_client.client_customer": f"customers/{client.id}",
        "customer_client.id": int(client.id),
        "customer_client.level": level,
        "customer_client.status": client.status,
        "customer_client.manager": client.manager,
        "customer_client.descriptive_name": client.name,
        "customer_client.currency_code": client.currency,
        "customer_client.time_zone": client.time_zone,
        "customer_client.hidden": False,
        "customer_client.test_account": False,
    }


def metric_values(metrics: catalogue.DayMetrics) -> dict[str, Any]:
    return {f"metrics.{name}": metrics.metric(name) for name in catalogue.METRIC_NAMES}


# =========================================================================== evaluation


def _entities(
    query: gaql.Query, customer: SandboxCustomer
) -> list[tuple[dict[str, Any], tuple[SandboxCampaign, ...]]]:
    campaigns = catalogue.campaigns_for(customer.id)
    if query.resource == "campaign":
        return [(campaign_values(c, customer), (c,)) for c in campaigns]
    if query.resource == "customer":
        return [(customer_values(customer), campaigns)]
    tree = catalogue.hierarchy(customer.id) if customer.manager else [(customer, 0)]
    return [(client_values(client, level, customer), ()) for client, level in tree]


Restated = Callable[[date, str, catalogue.DayMetrics], catalogue.DayMetrics]


def _with_metrics(
    entities: list[tuple[dict[str, Any], tuple[SandboxCampaign, ...]]],
    span: DateRange,
    today: date,
    by_date: bool,
    restated: Restated | None = None,
) -> list[dict[str, Any]]:
    """Each entity's metrics, per day or in all; ``restated`` changes a campaign-day's metrics as
    the fake was asked to restate them (before any sum, so every level agrees)."""
    rows = []
    for values, campaigns in entities:
        start = span.start or min((c.start for c in campaigns), default=today)
        end = min(span.end or today, today)
        total: catalogue.DayMetrics | None = None
        for day in catalogue.days(start, end) if start <= end else ():
            found = [
                m if restated is None else restated(day, str(c.id), m)
                for c in campaigns
                if (m := catalogue.day_metrics(c, day, today)) is not None
            ]
            if not found:
                continue
            day_total = sum(found[1:], found[0])
            if by_date:
                rows.append({**values, DATE_FIELD: day.isoformat(), **metric_values(day_total)})
            else:
                total = day_total if total is None else total + day_total
        if not by_date and total is not None:
            rows.append({**values, **metric_values(total)})
    return rows


def _comparable(descriptor: Any, literal: gaql.Literal, path: str) -> gaql.Literal:
    """Check a literal against the field's type (enums by name, dates, numbers, booleans)."""
    if descriptor.enum_type is not None:
        if not isinstance(literal, str) or literal not in descriptor.enum_type.values_by_name:
            raise ReportError("BAD_ENUM_CONSTANT", f"{literal!r} is not a value of {path}.")
        return literal
    if path == DATE_FIELD:
        return _date(literal).isoformat()
    kind = descriptor.cpp_type
    if kind == descriptor.CPPTYPE_BOOL:
        if not isinstance(literal, bool):
            raise ReportError("BAD_VALUE", f"{path} takes TRUE or FALSE, not {literal!r}.")
    elif kind == descriptor.CPPTYPE_STRING:
        if not isinstance(literal, str):
            raise ReportError("BAD_VALUE", f"{path} takes a quoted string, not {literal!r}.")
    elif isinstance(literal, bool) or not isinstance(literal, int | float):
        raise ReportError("BAD_NUMBER", f"{path} takes a number, not {literal!r}.")
    return literal


def _predicate(condition: gaql.Condition) -> Callable[[Any], bool]:
    descriptor = field_descriptor(condition.field)
    values = [_comparable(descriptor, v, condition.field) for v in condition.values]
    op = condition.operator
    if op == "IS NULL":
        return lambda value: value is None
    if op == "IS NOT NULL":
        return lambda value: value is not None
    if op in ("LIKE", "NOT LIKE"):
        pattern = re.compile(
            "^" + ".*".join(re.escape(part) for part in str(values[0]).split("%")) + "$", re.S
        )
        return lambda value: (value is not None and bool(pattern.match(str(value)))) == (op == "LIKE")
    comparisons: dict[str, Callable[[Any], bool]] = {
        "=": lambda value: value == values[0],
        "!=": lambda value: value != values[0],
        "<": lambda value: value is not None and value < values[0],
        "<=": lambda value: value is not None and value <= values[0],
        ">": lambda value: value is not None and value > values[0],
        ">=": lambda value: value is not None and value >= values[0],
        "IN": lambda value: value in values,
        "NOT IN": lambda value: value not in values,
        "BETWEEN": lambda value: value is not None and values[0] <= value <= values[1],
    }
    if op == "DURING":
        return lambda value: True  # already applied as the date range
    return comparisons[op]


def _filtered(rows: list[dict[str, Any]], query: gaql.Query, by_date: bool) -> list[dict[str, Any]]:
    for condition in query.conditions:
        if condition.field == DATE_FIELD and not by_date:
            continue  # it bounded the range the metrics were summed over
        keep = _predicate(condition)
        rows = [row for row in rows if keep(row.get(condition.field))]
    return rows


def _ordered(rows: list[dict[str, Any]], query: gaql.Query) -> list[dict[str, Any]]:
    if not query.order_by:
        default = {
            "campaign": (DATE_FIELD, "campaign.id"),
            "customer": (DATE_FIELD,),
            "customer_client": ("customer_client.level", "customer_client.id"),
        }[query.resource]
        return sorted(rows, key=lambda row: tuple(_sort_key(row, f) for f in default))
    for name, descending in reversed(query.order_by):
        rows = sorted(rows, key=functools.partial(_sort_key, name=name), reverse=descending)
    return rows


def _sort_key(row: dict[str, Any], name: str) -> tuple[bool, Any]:
    return row.get(name) is None, row.get(name)


def set_field(message: Any, path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        message = getattr(message, part)
    descriptor = message.DESCRIPTOR.fields_by_name[leaf]
    if descriptor.enum_type is not None and isinstance(value, str):
        value = descriptor.enum_type.values_by_name[value].number
    setattr(message, leaf, value)


@dataclass(frozen=True)
class _Setter:
    path: str
    parents: tuple[str, ...]
    leaf: str
    enum: Mapping[str, int] | None


def _setters(fields: Iterable[str]) -> list[_Setter]:
    """How to write each selected field, and each selected resource's resource_name, into a row."""
    paths = list(dict.fromkeys(fields))
    for resource in dict.fromkeys(path.split(".", 1)[0] for path in paths):
        if resource in REACHES:
            paths.append(f"{resource}.resource_name")
    setters = []
    for path in dict.fromkeys(paths):
        *parents, leaf = path.split(".")
        enum_type = field_descriptor(path).enum_type
        numbers = {v.name: v.number for v in enum_type.values} if enum_type is not None else None
        setters.append(_Setter(path, tuple(parents), leaf, numbers))
    return setters


def project(values: dict[str, Any], setters: list[_Setter]) -> Any:
    row = ROW()
    for setter in setters:
        value = values.get(setter.path)
        if value is None:
            continue
        target = row
        for part in setter.parents:
            target = getattr(target, part)
        setattr(target, setter.leaf, setter.enum[value] if setter.enum is not None else value)
    return row


def _leave_out_unreported(rows: list[dict[str, Any]], unreported: Mapping[str, frozenset[str]]) -> None:
    """Unset the metrics a campaign's type does not report (absent from its rows, not 0)."""
    for row in rows:
        for name in unreported.get(row.get("campaign.advertising_channel_type") or "", ()):
            row[f"metrics.{name}"] = None


def run(
    text: str,
    customer: SandboxCustomer,
    today: date,
    *,
    unreported: Mapping[str, frozenset[str]] | None = None,
    refused: frozenset[str] = frozenset(),
    restated: Restated | None = None,
) -> Report:
    """Evaluate a query against one account (``customer``) whose local date is ``today``.

    ``unreported``: campaign type → metrics its campaign rows come without; ``refused``: metrics
    this account refuses in a query (both empty for the demo's tenants).
    """
    try:
        query = gaql.parse(text)
    except gaql.GaqlError as exc:
        raise ReportError(exc.name, exc.message) from None
    except gaql.GaqlUnsupported as exc:
        raise NotImitated(str(exc)) from None
    _check_resource(query.resource)
    for path in query.referenced:
        _check_field(path, query.resource)
    refusing = [p.partition(".")[2] for p in query.referenced if p.startswith("metrics.")]
    if any(name in refused for name in refusing):
        raise incompatible_metrics([name for name in refusing if name in refused], query.resource)
    metrics_used = any(path.startswith("metrics.") for path in query.referenced)
    by_date = DATE_FIELD in query.fields
    if metrics_used and customer.manager:
        raise ReportError(
            "REQUESTED_METRICS_FOR_MANAGER",
            "Metrics cannot be requested for a manager account. To retrieve metrics, issue separate requests "
            "against each client account under the manager account.",
        )
    span = date_range(query, today)
    if by_date and not span.finite:
        raise ReportError(
            "EXPECTED_FILTERS_ON_DATE_RANGE",
            "A query selecting segments.date must filter it to a finite range (BETWEEN or DURING).",
        )
    entities = _entities(query, customer)
    if metrics_used or by_date or any(c.field == DATE_FIELD for c in query.conditions):
        rows = _with_metrics(entities, span, today, by_date, restated)
        if query.resource == "campaign" and unreported:
            _leave_out_unreported(rows, unreported)
        selected = [f for f in query.fields if f.startswith("metrics.")]
        if selected:
            rows = [row for row in rows if any(row[f] for f in selected)]
    else:
        rows = [values for values, _ in entities]
    rows = _ordered(_filtered(rows, query, by_date), query)
    if query.limit is not None:
        rows = rows[: query.limit]
    setters = _setters(query.fields)
    return Report(query.resource, [project(row, setters) for row in rows], query.fields)
