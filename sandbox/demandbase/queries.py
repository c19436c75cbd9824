"""What the Demandbase sandbox reads from a request body: an intent query (filters, dates, sorting and its
cursor) and an export job (entity type, fields, filters, dates, account lists, limit), each refused with
the API's validation codes as :class:`ApiError`."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from sandbox.demandbase.catalogue import (
    ENTITY_BY_LOWER,
    ENTITY_FIELDS,
    NUMERIC_OPERATORS,
    OPERATORS,
    STRENGTH_RANK,
    ExportFilter,
    ExportRequest,
    IntentFilters,
    Tenant,
    tenant_has_field,
)

MAX_ACTIVITY_DAYS: Final = 90
MAX_JOB_NAME: Final = 50
INTENT_DEFAULT_PAGE_SIZE: Final = 25
INTENT_MAX_PAGE_SIZE: Final = 100


class ApiError(Exception):
    """A request the API refuses: its status, errorCode and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _parse_day(value: Any, code: str, message: str, status: int = 400) -> date:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ApiError(status, code, message)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(status, code, message) from None


def _twelve_months_after(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return date(day.year + 1, 3, 1)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _string_list(body: Mapping[str, Any], name: str, limit: int, code: str) -> list[str]:
    values = body.get(name) or []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ApiError(400, "400-103", f"{name} must be an array of strings.")
    if len(values) > limit:
        raise ApiError(400, code, f"{name} must contain no more than {limit} items.")
    return values


@dataclass(frozen=True)
class IntentQuery:
    start: date
    end: date
    filters: IntentFilters
    page_size: int
    offset: int
    sort_by: str
    sort_order: str


_SORT_FIELDS: Final = ("startDate", "endDate", "intentStrength", "numPeopleResearching", "trendingScore")


def _intent_filters(body: Mapping[str, Any]) -> IntentFilters:
    companies = _string_list(body, "companyIds", 10, "400-219")
    keywords = _string_list(body, "keywords", 50, "400-230")
    set_ids = body.get("keywordSetIds") or []
    if not isinstance(set_ids, list) or not all(_is_int(v) for v in set_ids):
        raise ApiError(400, "400-103", "keywordSetIds must be an array of integers.")
    if len(set_ids) > 10:
        raise ApiError(400, "400-229", "keywordSetIds must contain no more than 10 items.")
    if not (companies or keywords or set_ids):
        raise ApiError(
            400,
            "400-218",
            "At least one of companyIds, keywordSetIds, or keywords must be provided for intent search.",
        )
    strength = body.get("intentStrength")
    if strength is not None and strength not in STRENGTH_RANK:
        raise ApiError(400, "400-224", "intentStrength must be one of: LOW, MED, HIGH.")
    low, high = body.get("minNumPeopleResearching"), body.get("maxNumPeopleResearching")
    for bound in (low, high):
        if bound is not None and (not _is_int(bound) or bound < 0):
            raise ApiError(
                400, "400-103", "minNumPeopleResearching and maxNumPeopleResearching must be >= 0."
            )
    if low is not None and high is not None and low > high:
        raise ApiError(
            400, "400-225", "minNumPeopleResearching must be less than or equal to maxNumPeopleResearching."
        )
    return IntentFilters(
        frozenset(companies), frozenset(set_ids), frozenset(k.lower() for k in keywords), strength, low, high
    )


def _decode_page_token(token: Any) -> int:
    if not isinstance(token, str):
        raise ApiError(400, "400-228", "pageToken is invalid.")
    try:
        decoded = base64.b64decode(token.encode(), validate=True).decode()
    except ValueError:
        raise ApiError(400, "400-228", "pageToken is invalid.") from None
    match = re.fullmatch(r"O:(\d+):(\d+)", decoded)
    if match is None:
        raise ApiError(400, "400-228", "pageToken is invalid.")
    return int(match.group(1))


def page_token(offset: int, size: int) -> str:
    """The cursor format of the published example (``Tzo1MDoyNQ==`` is ``O:50:25``)."""
    return base64.b64encode(f"O:{offset}:{size}".encode()).decode()


def parse_intent_query(body: Any) -> IntentQuery:
    if not isinstance(body, dict):
        raise ApiError(400, "400-102", "The request body is not a valid JSON object.")
    filters = _intent_filters(body)
    start = _parse_day(
        body.get("startDate"), "400-220", "startDate must be a valid date in yyyy-MM-dd format."
    )
    end = _parse_day(body.get("endDate"), "400-221", "endDate must be a valid date in yyyy-MM-dd format.")
    if start > end:
        raise ApiError(400, "400-222", "startDate must be on or before endDate.")
    if end >= _twelve_months_after(start):
        raise ApiError(400, "400-223", "Date range must be 12 months or less.")
    size = body.get("pageSize", INTENT_DEFAULT_PAGE_SIZE)
    if not _is_int(size) or not 1 <= size <= INTENT_MAX_PAGE_SIZE:
        raise ApiError(400, "400-226", "pageSize must be between 1 and 100.")
    sort_by = body.get("sortBy", "endDate")
    if sort_by not in _SORT_FIELDS:
        raise ApiError(400, "400-227", f"sortBy must be one of: {', '.join(_SORT_FIELDS)}.")
    sort_order = body.get("sortOrder", "DESC")
    if sort_order not in ("ASC", "DESC"):
        raise ApiError(400, "400-103", "sortOrder must be one of: ASC, DESC.")
    offset = _decode_page_token(body["pageToken"]) if body.get("pageToken") is not None else 0
    return IntentQuery(start, end, filters, size, offset, sort_by, sort_order)


_JOB_PROPERTIES: Final = frozenset(
    {
        "entityType", "jobName", "fields", "filters", "fromDate", "toDate", "source", "adReportType",
        "accountListIds", "accountListId", "personListIds", "format", "limit", "accountIds", "companyIds",
    }
)  # fmt: skip


def _job_dates(body: Mapping[str, Any], entity: str) -> tuple[date | None, date | None]:
    raw_from, raw_to = body.get("fromDate"), body.get("toDate")
    if (raw_from is None) != (raw_to is None):
        raise ApiError(400, "400-112", "Both fromDate and toDate are required together.")
    if raw_from is None:
        if entity == "activity":
            raise ApiError(400, "400-104", "fromDate and toDate are required for activity exports.")
        return None, None
    message = "Dates must be in yyyy-mm-dd or yyyy-mm-ddThh:mm:ssZ format."
    first = _parse_day(str(raw_from)[:10], "400-111", message)
    last = _parse_day(str(raw_to)[:10], "400-111", message)
    if first > last:
        raise ApiError(400, "400-113", "fromDate must be on or before toDate.")
    if entity == "activity" and (last - first).days + 1 > MAX_ACTIVITY_DAYS:
        raise ApiError(400, "400-114", "The date range for activity exports must be 90 days or less.")
    return first, last


def _job_fields(body: Mapping[str, Any], entity: str) -> tuple[str, ...]:
    fields = body.get("fields")
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
        raise ApiError(400, "400-104", "fields is required: a non-empty array of field names.")
    known = ENTITY_FIELDS[entity]
    unknown = [f for f in fields if f not in known]
    if unknown:
        raise ApiError(400, "400-115", f"Invalid field names: {', '.join(unknown)}")
    return tuple(dict.fromkeys(fields))


def _check_entitled(tenant: Tenant, names: Iterable[str]) -> None:
    lacking = [name for name in dict.fromkeys(names) if not tenant_has_field(tenant, name)]
    if lacking:
        raise ApiError(400, "400-155", f"Fields not available for this tenant: {', '.join(lacking)}")


def _job_filters(body: Mapping[str, Any], entity: str) -> tuple[ExportFilter, ...]:
    raw = body.get("filters") or []
    if not isinstance(raw, list):
        raise ApiError(400, "400-103", "filters must be an array.")
    filters = []
    known = ENTITY_FIELDS[entity]
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("field"), str):
            raise ApiError(400, "400-103", "Each filter needs a field, an operator and values.")
        if item["field"] not in known:
            raise ApiError(400, "400-115", f"Invalid field names: {item['field']}")
        operator = str(item.get("operator", "")).lower()
        numeric = known[item["field"]].data_type in ("Long", "Double", "Date")
        if operator not in OPERATORS or (operator in NUMERIC_OPERATORS and not numeric):
            raise ApiError(
                400, "400-140", f"Operator {item.get('operator')!r} is invalid for {item['field']}."
            )
        values = item.get("values") or []
        if not isinstance(values, list):
            raise ApiError(400, "400-103", "filter values must be an array.")
        filters.append(ExportFilter(item["field"], operator, tuple(str(v) for v in values)))
    return tuple(filters)


def _job_lists(body: Mapping[str, Any], tenant: Tenant) -> tuple[int, ...]:
    if body.get("accountListId") is not None and body.get("accountListIds") is not None:
        raise ApiError(400, "400-144", "accountListId and accountListIds cannot be used together.")
    raw = body.get("accountListIds")
    if raw is None:
        raw = [] if body.get("accountListId") is None else [body["accountListId"]]
    if not isinstance(raw, list) or not all(_is_int(v) for v in raw):
        raise ApiError(400, "400-129", "Account list ids must be numeric.")
    missing = [str(v) for v in raw if v not in tenant.account_lists]
    if missing:
        raise ApiError(400, "400-142", f"Account list(s) not found: {', '.join(missing)}")
    return tuple(raw)


def _job_limit(body: Mapping[str, Any]) -> int | None:
    raw = body.get("limit")
    if raw is None:
        return None
    if isinstance(raw, bool) or not (_is_int(raw) or (isinstance(raw, str) and raw.isdigit())):
        raise ApiError(400, "400-118", "limit must be numeric.")
    if not 1 <= int(raw) <= 1000:
        raise ApiError(400, "400-119", "limit must be between 1 and 1,000.")
    return int(raw)


def parse_export_request(body: Any, tenant: Tenant) -> ExportRequest:
    if not isinstance(body, dict):
        raise ApiError(400, "400-102", "The request body is not a valid JSON object.")
    unknown = sorted(set(body) - _JOB_PROPERTIES)
    if unknown:
        raise ApiError(400, "400-147", f"Unrecognized property: {', '.join(unknown)}")
    entity = ENTITY_BY_LOWER.get(str(body.get("entityType", "")).lower())
    if not body.get("entityType"):
        raise ApiError(400, "400-104", "entityType is required.")
    if entity is None:
        raise ApiError(400, "400-127", f"Unsupported entityType: {body.get('entityType')}")
    name = body.get("jobName")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_JOB_NAME:
        raise ApiError(400, "400-126", "jobName is required and must be 50 characters or fewer.")
    fmt = str(body.get("format", "CSV")).upper()
    if fmt not in ("CSV", "JSON"):
        raise ApiError(400, "400-116", "format must be CSV or JSON.")
    if entity not in ENTITY_FIELDS:
        raise ApiError(403, "403-101", f"The tenant cannot access the {entity} entity type.")
    first, last = _job_dates(body, entity)
    fields = _job_fields(body, entity)
    filters = _job_filters(body, entity)
    _check_entitled(tenant, [*fields, *(f.field for f in filters)])
    return ExportRequest(
        entity_type=entity,
        name=name,
        fields=fields,
        format=fmt,
        filters=filters,
        account_list_ids=_job_lists(body, tenant),
        from_date=first,
        to_date=last,
        limit=_job_limit(body),
    )
