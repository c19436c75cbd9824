"""The Demandbase uapi fake: the key-set token exchange, the Intent API and the Data Export API with its
signed result files (see the package's docstring for what it imitates)."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any, ClassVar, Final
from urllib.parse import urlencode

from sandbox.core import BASE_FAULT_KINDS, SandboxRequest, SandboxResponse, json_response, route
from sandbox.demandbase.catalogue import (
    EMPTY_REFERENCES,
    ENTITY_BY_LOWER,
    ENTITY_FIELDS,
    KEY_SETS,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    TENANTS,
    ExportRequest,
    KeySet,
    export_records,
    intent_rows,
    tenant_fields,
)
from sandbox.demandbase.queries import ApiError, page_token, parse_export_request, parse_intent_query
from sandbox.oauth import TokenApi, TokenRefused, bearer_token
from sandbox.paging import Page, page_of

ACCESS_TOKEN_TTL: Final = 28_800  # 8 hours
RESULTS_LINK_TTL: Final = 86_400  # signed result links live 24 hours
DAILY_JOB_QUOTA: Final = 60

FAULT_KINDS: Final = BASE_FAULT_KINDS | {
    "throttle",
    "export_quota",
    "server_error",
    "expire_token",
    "revoke_keyset",
    "malformed",
    "job_failed",
    "slow_job_response",
}

INTENT_UNAUTHORIZED: Final = {"status": "Authentication Failed - Unauthorized."}


def _iso(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{int(epoch * 1000) % 1000:03d}Z"
    )


@dataclass
class _Job:
    id: str
    tenant: str
    request: ExportRequest
    created_at: float
    as_of: date
    fail: str | None = None  # the failure message, for a job planned to fail
    polls: int = 0
    done_at: float | None = None

    def status(self, now: float, polls_to_finish: int, seconds_to_finish: float) -> str:
        elapsed = now - self.created_at
        if self.done_at is not None or self.polls >= polls_to_finish or elapsed >= seconds_to_finish:
            if self.done_at is None:
                self.done_at = now
            return "failed" if self.fail else "finished"
        if self.polls >= 1 or elapsed >= seconds_to_finish / 3:
            return "processing"
        return "accepted"


def _xml_error(status: int, code: str, message: str) -> SandboxResponse:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return SandboxResponse(status, body.encode(), {"Content-Type": "application/xml"})


_MALFORMATIONS: Final[Mapping[str, Callable[[list[Any], int], None]]] = MappingProxyType(
    {
        # intent rows
        "non_numeric_people": lambda rows, i: rows[i].__setitem__("numPeopleResearching", "many"),
        "missing_company": lambda rows, i: rows[i].pop("companyId", None),
        "bad_end_date": lambda rows, i: rows[i].__setitem__("endDate", "18/07/2026"),
        # export records
        "missing_id": lambda rows, i: rows[i].pop("{Account}.id", None),
        "non_numeric_minutes": lambda rows, i: rows[i].__setitem__(
            "{Account}.engagementMinutesLast7Day", "12 min"
        ),
        # either
        "not_an_object": lambda rows, i: rows.__setitem__(i, "corrupt record"),
    }
)
_INTENT_MALFORMATIONS: Final = frozenset(
    {"non_numeric_people", "missing_company", "bad_end_date", "not_an_object"}
)
_EXPORT_MALFORMATIONS: Final = frozenset({"missing_id", "non_numeric_minutes", "not_an_object"})


class DemandbaseSandbox(TokenApi):
    """The Demandbase uapi fake. Options are described on :func:`create_app`."""

    platform: ClassVar[str] = "demandbase"
    fault_kinds: ClassVar[frozenset[str]] = FAULT_KINDS

    def __init__(
        self,
        *,
        access_token_ttl: int = ACCESS_TOKEN_TTL,
        job_polls: int = 2,
        job_seconds: float = 3.0,
        daily_job_quota: int = DAILY_JOB_QUOTA,
        bad_credentials_status: int = 400,
        results_layout: str = "json",
        link_ttl: int = RESULTS_LINK_TTL,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__()
        self.access_token_ttl = access_token_ttl
        self.job_polls = job_polls
        self.job_seconds = job_seconds
        self.daily_job_quota = daily_job_quota
        self.bad_credentials_status = bad_credentials_status
        self.results_layout = results_layout
        self.link_ttl = link_ttl
        self._clock = clock
        self._signing_key = secrets.token_bytes(16)
        self._revoked: set[str] = set()
        self._jobs: dict[str, _Job] = {}
        self._fail_next: list[str] = []
        self._intent_granted: set[str] = set()  # tenants given the Intent product since start or reset

    # -- FakeApi hooks

    def env(self, base_url: str) -> dict[str, str]:
        return {
            "DEMANDBASE_API_BASE_URL": base_url,
            "DEMANDBASE_TOKEN_URL": base_url + "/auth/v1/token",
            "DEMANDBASE_CLIENT_ID": SANDBOX_CLIENT_ID,
            "DEMANDBASE_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        }

    def new_access_token(self) -> str:
        return "sandbox-db-" + secrets.token_urlsafe(32)

    def reset_state(self) -> None:
        with self._lock:
            super().reset_state()
            self._revoked.clear()
            self._jobs.clear()
            self._fail_next.clear()
            self._intent_granted.clear()

    def grant_intent(self, tenant: str, granted: bool = True) -> None:
        """Give a tenant the Intent product (or take it away), as a purchase would."""
        with self._lock:
            if granted:
                self._intent_granted.add(tenant)
            else:
                self._intent_granted.discard(tenant)

    def has_intent(self, tenant: str) -> bool:
        with self._lock:
            return TENANTS[tenant].intent or tenant in self._intent_granted

    @route("POST", r"^/_sandbox/entitlements$")
    def control_entitlements(self, request: SandboxRequest) -> SandboxResponse:
        """``{"tenant": name, "intent": true|false}``: the tenant gains (or loses) the Intent product."""
        body = request.json_or_none()
        if (
            not isinstance(body, dict)
            or body.get("tenant") not in TENANTS
            or not isinstance(body.get("intent"), bool)
        ):
            known = ", ".join(sorted(TENANTS))
            return self.error_response(
                400, "BAD_ENTITLEMENT", f'The body must be {{"tenant": one of {known}, "intent": true|false}}'
            )
        self.grant_intent(body["tenant"], body["intent"])
        return json_response(200, {"tenant": body["tenant"], "intent": self.has_intent(body["tenant"])})

    def extra_state(self) -> dict[str, Any]:
        with self._lock:
            now = self.now()
            jobs = [
                {
                    "jobId": job.id,
                    "jobName": job.request.name,
                    "entityType": job.request.entity_type,
                    "jobStatus": job.status(now, self.job_polls, self.job_seconds),
                    "polls": job.polls,
                }
                for job in self._jobs.values()
            ]
            return {
                "jobs": jobs,
                "tokens": {"access": len(self.access), "revoked_key_sets": sorted(self._revoked)},
            }

    def error_response(self, status: int, code: str, message: str) -> SandboxResponse:
        seq = {404: "301", 405: "100", 500: "100"}.get(status, "103")
        return self._error(status, f"{status}-{seq}", message)

    def validate_fault(self, kind: str, params: Mapping[str, Any]) -> str | None:
        variant = params.get("variant")
        if kind == "malformed" and variant is not None and variant not in _MALFORMATIONS:
            return f"malformed variant must be one of {', '.join(_MALFORMATIONS)}"
        status = params.get("status", 500)
        if kind == "server_error" and not (isinstance(status, int) and 500 <= status <= 599):
            return "server_error status must be 5xx"
        if kind == "slow_job_response" and not isinstance(params.get("seconds", 1.0), int | float):
            return "slow_job_response needs a numeric 'seconds'"
        return super().validate_fault(kind, params)

    def preflight(self, request: SandboxRequest) -> SandboxResponse | None:
        self._maybe_revoke(request.path)
        if not request.path.startswith("/data/"):
            return None
        return self._check_token(request) or self._check_access(request) or self._injected_failure(request)

    # -- helpers

    @staticmethod
    def _error(status: int, code: str, message: str) -> SandboxResponse:
        body = {"errorCode": code, "errorMessage": message, "diagnosticCode": uuid.uuid4().hex}
        return json_response(status, body)

    def _api_error(self, error: ApiError) -> SandboxResponse:
        return self._error(error.status, error.code, error.message)

    @staticmethod
    def _is_intent(path: str) -> bool:
        return path.startswith("/data/intent/")

    def _maybe_revoke(self, path: str) -> None:
        fault = self.faults.take("revoke_keyset", path)
        if fault is None:
            return
        targets = {str(fault["client_id"])} if fault.get("client_id") else set(KEY_SETS)
        with self._lock:
            self._revoked |= targets
            for token in [t for t, record in self.access.items() if record.owner in targets]:
                del self.access[token]

    def _unauthorized(self, path: str) -> SandboxResponse:
        if self._is_intent(path):
            return json_response(401, INTENT_UNAUTHORIZED)
        return self._error(401, "401-100", "Authentication credentials are missing or invalid.")

    def _check_token(self, request: SandboxRequest) -> SandboxResponse | None:
        token = bearer_token(request)
        if token in {key.client_secret for key in KEY_SETS.values()}:
            self.count("secret_as_bearer")
        try:
            self.access_token_check(token, fault_path=request.path)
        except TokenRefused:
            return self._unauthorized(request.path)
        return None

    def key_set_of(self, request: SandboxRequest) -> KeySet:
        with self._lock:
            return KEY_SETS[self.access[bearer_token(request)].owner]

    def _check_access(self, request: SandboxRequest) -> SandboxResponse | None:
        key = self.key_set_of(request)
        if not self.has_intent(key.tenant) and (
            self._is_intent(request.path) or request.path.startswith("/data/export/v1/reference/keywordSet")
        ):
            return self._error(403, "403-100", "The tenant is not entitled to the Intent product.")
        if self._is_intent(request.path) and not key.intent:
            return self._error(
                403, "403-100", "API Key does not have privilege to access the requested resource"
            )
        if not self._is_intent(request.path) and not key.export:
            return self._error(
                403, "403-100", "The authenticated user does not have permission to access this resource."
            )
        return None

    def _injected_failure(self, request: SandboxRequest) -> SandboxResponse | None:
        if self.faults.take("throttle", request.path) is not None:
            return self._error(429, "429-100", "Rate limit exceeded.")
        if self.faults.take("export_quota", request.path) is not None:
            return self._error(429, "429-101", "The rolling 24-hour export quota was exceeded.")
        failure = self.faults.take("server_error", request.path)
        if failure is not None:
            status = int(failure.get("status", 500))
            return self._error(status, f"{status}-100", "Error while communicating with internal service.")
        return None

    def _malform(self, path: str, rows: list[Any], allowed: frozenset[str], default: str) -> None:
        if not rows:
            return
        fault = self.faults.take("malformed", path)
        if fault is None:
            return
        variant = str(fault.get("variant") or default)
        variant = variant if variant in allowed else default
        _MALFORMATIONS[variant](rows, int(fault.get("index", len(rows) // 2)) % len(rows))

    # -- auth

    @route("POST", r"^/auth/v1/token$")
    def token(self, request: SandboxRequest) -> SandboxResponse:
        body = request.json_or_none()
        if not isinstance(body, dict):
            return self._error(400, "400-102", "The request body is not a valid JSON object.")
        client_id, secret = body.get("clientId"), body.get("clientSecret")
        if (
            body.get("grantType") != "client_credentials"
            or not isinstance(client_id, str)
            or not isinstance(secret, str)
        ):
            return self._error(
                400, "400-104", "grantType (client_credentials), clientId and clientSecret are required."
            )
        key = KEY_SETS.get(client_id)
        with self._lock:
            refused = (
                key is None
                or not hmac.compare_digest(key.client_secret, secret)
                or client_id in self._revoked
            )
            if refused:
                status = self.bad_credentials_status
                code = "401-100" if status == 401 else "400-103"
                return self._error(status, code, "Invalid client credentials.")
            token = self.mint_access_token(owner=client_id)
        return json_response(
            200, {"accessToken": token, "tokenType": "bearer", "expiresIn": self.access_token_ttl}
        )

    # -- intent

    @route("POST", r"^/data/intent/v1/companies/intent/query$")
    def intent_query(self, request: SandboxRequest) -> SandboxResponse:
        body = request.json_or_none()
        try:
            query = parse_intent_query(body)
        except ApiError as error:
            return self._api_error(error)
        tenant = self.key_set_of(request).tenant
        rows = intent_rows(
            tenant,
            query.start,
            query.end,
            today=self.today(),
            filters=query.filters,
            sort_by=query.sort_by,
            sort_order=query.sort_order,
        )
        if query.offset > len(rows):
            return self._api_error(ApiError(400, "400-228", "pageToken is invalid."))
        page: Page[Any] = page_of(rows, query.offset, query.page_size)
        self._malform(request.path, page.items, _INTENT_MALFORMATIONS, "non_numeric_people")
        self.count("intent_rows_served", len(page.items))
        pagination = {
            "after": None if page.next_offset is None else page_token(page.next_offset, page.size),
            "before": None if page.previous_offset is None else page_token(page.previous_offset, page.size),
            "totalCount": page.total,
        }
        return json_response(200, {"data": page.items, "pagination": pagination})

    # -- export: catalogue

    @route("GET", r"^/data/export/v1/fields$")
    def fields(self, request: SandboxRequest) -> SandboxResponse:
        entity = ENTITY_BY_LOWER.get((request.arg("entityType") or "").lower())
        if entity is None:
            return self._error(400, "400-125", f"Unsupported entityType: {request.arg('entityType')}")
        if entity not in ENTITY_FIELDS:
            return self._error(403, "403-101", f"The tenant cannot access the {entity} entity type.")
        tenant = TENANTS[self.key_set_of(request).tenant]
        described = [
            {"name": f.name, "dataType": f.data_type, "label": f.label, "description": f.description}
            for f in tenant_fields(tenant, entity)
        ]
        return json_response(200, described)

    @route("GET", r"^/data/export/v1/references$")
    def references(self, request: SandboxRequest) -> SandboxResponse:
        names = {"keywordSet": "Intent keyword sets", "keywordSetMember": "Keywords of each keyword set"}
        available = [
            {"name": name, "description": text, "href": f"/data/export/v1/reference/{name}"}
            for name, text in names.items()
        ]
        return json_response(200, {"refObjectsAvailable": available})

    @route("GET", r"^/data/export/v1/reference/(?P<object>[^/]+)$")
    def reference(self, request: SandboxRequest) -> SandboxResponse:
        tenant = TENANTS[self.key_set_of(request).tenant]
        kind = request.path_params["object"]
        data: list[dict[str, Any]]
        if kind == "keywordSet":
            data = [
                {"id": k.id, "name": k.name, "keywordCount": len(k.keywords)} for k in tenant.keyword_sets
            ]
        elif kind == "keywordSetMember":
            data = [
                {"keywordSetId": k.id, "keyword": word} for k in tenant.keyword_sets for word in k.keywords
            ]
        elif kind in EMPTY_REFERENCES:
            data = []
        else:
            return self._error(400, "400-154", "Invalid reference entity type.")
        return json_response(200, {"objectType": kind, "data": data})

    # -- export: jobs

    def _running_job(self, tenant: str, now: float) -> _Job | None:
        for job in self._jobs.values():
            if job.tenant == tenant and job.status(now, self.job_polls, self.job_seconds) in (
                "accepted",
                "processing",
            ):
                return job
        return None

    def _jobs_today(self, tenant: str) -> int:
        today = self.today()
        return sum(1 for job in self._jobs.values() if job.tenant == tenant and job.as_of == today)

    @route("POST", r"^/data/export/v1/job$")
    def create_job(self, request: SandboxRequest) -> SandboxResponse:
        tenant = self.key_set_of(request).tenant
        body = request.json_or_none()
        try:
            export = parse_export_request(body, TENANTS[tenant])
        except ApiError as error:
            return self._api_error(error)
        failure = self.faults.take("job_failed", request.path)
        with self._lock:
            now = self.now()
            if self._running_job(tenant, now) is not None:
                return self._error(429, "429-102", "The concurrent export-job limit was exceeded.")
            if self._jobs_today(tenant) >= self.daily_job_quota:
                return self._error(429, "429-101", "The rolling 24-hour export quota was exceeded.")
            job = _Job(str(uuid.uuid4()), tenant, export, now, self.today())
            if failure is not None:
                job.fail = str(failure.get("message", "Internal error while generating the export file."))
            self._jobs[job.id] = job
        self.count("jobs_created")
        slow = self.faults.take("slow_job_response", request.path)
        if slow is not None:
            time.sleep(float(slow.get("seconds", 1.0)))  # created, but the answer comes too late
        return json_response(202, self._job_details(job, "accepted"))

    @staticmethod
    def _job_details(job: _Job, status: str) -> dict[str, Any]:
        return {
            "jobStatus": status,
            "createdAt": _iso(job.created_at),
            "jobId": job.id,
            "entityType": job.request.entity_type,
            "jobName": job.request.name,
        }

    def _own_job(self, request: SandboxRequest, job_id: str) -> _Job | None:
        job = self._jobs.get(job_id)
        return job if job is not None and job.tenant == self.key_set_of(request).tenant else None

    @route("GET", r"^/data/export/v1/job/(?P<job_id>[^/]+)$")
    def job_status(self, request: SandboxRequest) -> SandboxResponse:
        with self._lock:
            job = self._own_job(request, request.path_params["job_id"])
            if job is None:
                return self._error(404, "404-302", "Job id invalid")
            status = job.status(self.now(), self.job_polls, self.job_seconds)
            job.polls += 1
            details = self._job_details(job, status)
            updated = job.done_at if job.done_at is not None else job.created_at
        results_url = self._results_url(request, job) if status == "finished" else None
        message = job.fail if status == "failed" else None
        return json_response(
            200, {**details, "resultsUrl": results_url, "updatedAt": _iso(updated), "message": message}
        )

    @route("GET", r"^/data/export/v1/jobs$")
    def list_jobs(self, request: SandboxRequest) -> SandboxResponse:
        try:
            page, per_page, descending, status_filter, entity_filter = self._jobs_query(request)
        except ApiError as error:
            return self._api_error(error)
        tenant = self.key_set_of(request).tenant
        with self._lock:
            now = self.now()
            listed = []
            ordered = sorted(
                enumerate(self._jobs.values()), key=lambda p: (p[1].created_at, p[0]), reverse=descending
            )
            for _, job in ordered:
                status = job.status(now, self.job_polls, self.job_seconds)
                if job.tenant != tenant or status_filter not in ("all", status):
                    continue
                if entity_filter not in ("all", job.request.entity_type.lower()):
                    continue
                updated = job.done_at if job.done_at is not None else job.created_at
                listed.append({**self._job_details(job, status), "updatedAt": _iso(updated)})
        data = page_of(listed, (page - 1) * per_page, per_page).items
        return json_response(
            200, {"pageNo": page, "pageSize": per_page, "totalCount": len(listed), "data": data}
        )

    @staticmethod
    def _jobs_query(request: SandboxRequest) -> tuple[int, int, bool, str, str]:
        page, per_page = request.arg("page", "1") or "", request.arg("perPage", "10") or ""
        if not page.isdigit() or int(page) < 1:
            raise ApiError(400, "400-121", "page must be a positive number.")
        if not per_page.isdigit() or int(per_page) < 1:
            raise ApiError(400, "400-122", "perPage must be a positive number.")
        sort = (request.arg("sort") or "descending").lower()
        if sort not in ("ascending", "descending"):
            raise ApiError(400, "400-120", "sort must be ascending or descending.")
        status = (request.arg("jobStatus") or "All").lower()
        if status not in ("all", "accepted", "processing", "finished", "failed"):
            raise ApiError(400, "400-124", f"Unsupported jobStatus: {request.arg('jobStatus')}")
        entity = (request.arg("entityType") or "All").lower()
        if entity != "all" and entity not in ENTITY_BY_LOWER:
            raise ApiError(400, "400-123", f"Unsupported entityType: {request.arg('entityType')}")
        return int(page), min(int(per_page), 100), sort == "descending", status, entity

    # -- export: the signed result file

    def _signature(self, job_id: str, expires: int) -> str:
        return hmac.new(self._signing_key, f"{job_id}:{expires}".encode(), hashlib.sha256).hexdigest()

    def _results_url(self, request: SandboxRequest, job: _Job) -> str:
        expires = int(self.now()) + self.link_ttl
        ext = "csv" if job.request.format == "CSV" else "json"
        host = request.headers.get("Host", "127.0.0.1")
        query = urlencode({"X-Expires": expires, "X-Signature": self._signature(job.id, expires)})
        return f"http://{host}/downloads/export/{job.id}/results.{ext}?{query}"

    @route("GET", r"^/downloads/export/(?P<job_id>[^/]+)/results\.(?P<ext>json|csv)$")
    def download(self, request: SandboxRequest) -> SandboxResponse:
        if "Authorization" in request.headers:
            return _xml_error(400, "InvalidArgument", "Only one auth mechanism allowed")
        job_id, expires = request.path_params["job_id"], request.arg("X-Expires") or ""
        signature = request.arg("X-Signature") or ""
        if not expires.isdigit() or not hmac.compare_digest(signature, self._signature(job_id, int(expires))):
            return _xml_error(403, "SignatureDoesNotMatch", "The request signature does not match")
        if self.now() > int(expires):
            return _xml_error(403, "AccessDenied", "Request has expired")
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.done_at is None or job.fail:
            return _xml_error(404, "NoSuchKey", "The specified key does not exist.")
        records: list[Any] = list(export_records(job.tenant, job.request, job.as_of))
        self._malform(request.path, records, _EXPORT_MALFORMATIONS, "missing_id")
        self.count("export_records_served", len(records))
        return self._file(job, records)

    def _file(self, job: _Job, records: list[Any]) -> SandboxResponse:
        if job.request.format == "CSV":
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(job.request.fields)
            for record in records:
                row = record if isinstance(record, dict) else {}
                writer.writerow(["" if row.get(f) is None else row.get(f) for f in job.request.fields])
            return SandboxResponse(200, out.getvalue().encode(), {"Content-Type": "text/csv"})
        if self.results_layout == "ndjson":
            text = "".join(json.dumps(record) + "\n" for record in records)
            return SandboxResponse(200, text.encode(), {"Content-Type": "application/x-ndjson"})
        return json_response(200, records)
