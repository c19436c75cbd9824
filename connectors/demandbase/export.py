"""The Data Export API's asynchronous job protocol, run so that one sync makes one job.

``POST /data/export/v1/job`` answers 202 with a ``jobId``; ``GET /data/export/v1/job/{jobId}`` moves
through ``accepted`` → ``processing`` → ``finished`` (with a signed ``resultsUrl``, valid 24 hours) or
``failed`` (with a ``message``). A tenant may run one export job at a time (``429-102``) and create 60
a day (``429-101``); ``GET /job/{id}`` is limited to 300 calls a day, so polling backs off.

Demandbase has no idempotency key: a job-creation POST that timed out may still have created the job,
and sending it again would make a second one. So:

- the job id is saved in the sync's state (``save_state``) as soon as it is known, and a later attempt
  of the same sync polls that job instead of creating one;
- the job's name (unique per sync) is saved *before* the POST; when an earlier POST's outcome is
  unknown (timeout, 5xx, unreadable answer, a worker lost mid-request), the job is first looked for by
  that name in ``GET /data/export/v1/jobs`` and adopted if found;
- the POST itself is sent once (``ApiClient.post_json_once``), never replayed blindly by the shared
  client's inline retry.

Waiting (for the job, or for another job of the tenant to finish) is bounded: past the deadline the
error goes up, the job id stays saved, and the retried step picks up where this one stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any, NoReturn

from connectors import progress
from connectors.demandbase.paging import PageTotalPaginator
from connectors.demandbase.policy import CONCURRENT_EXPORT_JOB, CONCURRENT_QUERY
from connectors.demandbase.results import parse_results
from connectors.errors import (
    AuthError,
    ConnectorError,
    MalformedResponse,
    PermanentError,
    RateLimited,
    TransientError,
)
from connectors.http import ApiClient, path_segment

EXPORT_PATH = "/data/export/v1"
JOB_PATH = f"{EXPORT_PATH}/job"
JOBS_PATH = f"{EXPORT_PATH}/jobs"
JOB_NAME_MAX = 50
RUNNING = ("accepted", "processing")
# A job that fails once is created again on the next attempt; failing twice is reported as permanent.
MAX_FAILED_JOBS = 2
# The name search looks at the tenant's most recent jobs only (the lost job was created moments ago).
NAME_SEARCH_PER_PAGE = 50
NAME_SEARCH_PAGES = 4
RUNNING_CHECK_PER_PAGE = 20

STATE_JOB_ID = "export_job_id"
STATE_PENDING_NAME = "export_job_pending"
STATE_FAILURES = "export_failures"


@dataclass(frozen=True)
class ExportTiming:
    first_poll_seconds: float = 2.0
    max_poll_seconds: float = 30.0
    deadline_seconds: float = 600.0

    def waits(self) -> Iterator[float]:
        wait = self.first_poll_seconds
        while True:
            yield wait
            wait = min(self.max_poll_seconds, wait * 1.5)


def job_name(base: str, failures: int) -> str:
    suffix = f" retry {failures}" if failures else ""
    return base[: JOB_NAME_MAX - len(suffix)] + suffix


class ExportJob:
    """One export (its request body without ``jobName``) for one sync: find or create, wait, download."""

    def __init__(
        self,
        *,
        client: ApiClient,
        downloads: ApiClient,
        request: dict[str, Any],
        base_name: str,
        state: MutableMapping[str, Any],
        save_state: Callable[..., None],
        timing: ExportTiming,
        sleep: Callable[[float], None] = progress.sleep,
    ) -> None:
        self.client = client
        self.downloads = downloads
        self.request = request
        self.base_name = base_name
        self.state = state
        self.save_state = save_state
        self.timing = timing
        self.sleep = sleep
        self._deadline = 0.0
        self._waits: Iterator[float] = iter(())

    @property
    def entity(self) -> str:
        return str(self.request.get("entityType", ""))

    def records(self) -> list[Any]:
        """The result file's records, once the job has finished."""
        self._deadline = time.monotonic() + self.timing.deadline_seconds
        self._waits = self.timing.waits()
        status = self._finished_job()
        return self._download(status)

    # -- the job ---------------------------------------------------------------------------------
    def _finished_job(self) -> dict[str, Any]:
        recreated = False
        while True:
            job_id = self.state.get(STATE_JOB_ID) or self._create()
            status = self._poll(str(job_id))
            if status is not None:
                return status
            if recreated:
                raise PermanentError(f"Demandbase does not know the {self.entity} export job it just created")
            recreated = True

    def _poll(self, job_id: str) -> dict[str, Any] | None:
        """Wait for the job; None when Demandbase no longer knows it (its id is then forgotten)."""
        while True:
            try:
                status = self.client.get_json(f"{JOB_PATH}/{path_segment(job_id)}")
            except PermanentError as exc:
                if exc.status != 404:
                    raise
                self.save_state(**{STATE_JOB_ID: None})
                return None
            state = status.get("jobStatus") if isinstance(status, dict) else None
            if state == "finished" and isinstance(status, dict):
                return status
            if state == "failed":
                self._failed(status)
            if state not in RUNNING:
                raise MalformedResponse(f"Demandbase reported an unknown export job status {state!r}")
            self._wait(
                TransientError(
                    f"Demandbase is still preparing the {self.entity} export (job {job_id} is {state}); "
                    "the next attempt keeps waiting for the same job"
                )
            )

    def _failed(self, status: Any) -> NoReturn:
        failures = int(self.state.get(STATE_FAILURES) or 0) + 1
        self.save_state(**{STATE_JOB_ID: None, STATE_PENDING_NAME: None, STATE_FAILURES: failures})
        message = str(status.get("message") or "no reason given")
        if failures >= MAX_FAILED_JOBS:
            raise PermanentError(
                f"Demandbase's {self.entity} export failed {failures} times ({message}). Check the tenant's "
                "Export collection and the exported fields with Demandbase support."
            )
        raise TransientError(
            f"Demandbase's {self.entity} export job failed ({message}); it will be created again"
        )

    def _create(self) -> str:
        name = job_name(self.base_name, int(self.state.get(STATE_FAILURES) or 0))
        while True:
            try:
                return self._create_once(name)
            except RateLimited as exc:
                if exc.code == CONCURRENT_EXPORT_JOB:
                    self._wait_for_free_slot(exc)
                elif exc.code == CONCURRENT_QUERY:  # the refused POST created no job: ask again shortly
                    self._wait(exc)
                else:
                    raise
            except TransientError as exc:
                self._wait(exc)

    def _wait_for_free_slot(self, error: RateLimited) -> None:
        """Another job of the tenant is running: watch the jobs listing (1,200 calls a day) rather than
        knocking with POSTs (60 a day) until it is done."""
        while True:
            self._wait(error)
            if not self._tenant_has_running_job():
                return

    def _tenant_has_running_job(self) -> bool:
        body = self.client.get_json(JOBS_PATH, params={"page": 1, "perPage": RUNNING_CHECK_PER_PAGE})
        jobs = body.get("data") if isinstance(body, dict) else None
        return any(isinstance(job, dict) and job.get("jobStatus") in RUNNING for job in jobs or [])

    def _create_once(self, name: str) -> str:
        if self.state.get(STATE_PENDING_NAME) == name:
            found = self._find(name)
            if found is not None:
                self.save_state(**{STATE_JOB_ID: found, STATE_PENDING_NAME: None})
                return found
        self.save_state(**{STATE_PENDING_NAME: name})
        try:
            body = self.client.post_json_once(JOB_PATH, json={**self.request, "jobName": name})
        except (RateLimited, PermanentError, AuthError):
            self.save_state(**{STATE_PENDING_NAME: None})  # refused: no job was created
            raise
        job_id = body.get("jobId") if isinstance(body, dict) else None
        if isinstance(job_id, bool) or not isinstance(job_id, str | int) or str(job_id) == "":
            raise MalformedResponse("Demandbase accepted the export job without saying its jobId")
        self.save_state(**{STATE_JOB_ID: str(job_id), STATE_PENDING_NAME: None})
        return str(job_id)

    def _find(self, name: str) -> str | None:
        """The id of a live job with this name among the tenant's latest jobs, if any."""
        paginator = PageTotalPaginator(per_page=NAME_SEARCH_PER_PAGE, max_pages=NAME_SEARCH_PAGES)
        params = {"entityType": self.entity, "sort": "descending"}
        for body in self.client.paginate(JOBS_PATH, paginator, params=params):
            jobs = body.get("data") if isinstance(body, dict) else None
            for job in jobs if isinstance(jobs, list) else []:
                if (
                    isinstance(job, dict)
                    and job.get("jobName") == name
                    and job.get("jobStatus") != "failed"
                    and job.get("jobId") not in (None, "")
                ):
                    return str(job["jobId"])
        return None

    def _wait(self, error: ConnectorError) -> None:
        """Sleep before the next poll or creation attempt; past the deadline, raise ``error``."""
        delay = next(self._waits)
        if time.monotonic() + delay > self._deadline:
            raise error
        progress.announce_wait(delay, error.message)
        self.sleep(delay)

    # -- the result file ---------------------------------------------------------------------------
    def _download(self, status: dict[str, Any]) -> list[Any]:
        try:
            return self.downloads.call("GET", self._results_url(status), parse_results)
        except PermanentError as exc:
            if exc.code != "download_refused":
                raise
        # The signed link may have expired (a retry a day later): the job's status gives a fresh one.
        job_id = status.get("jobId") or self.state.get(STATE_JOB_ID)
        fresh = self.client.get_json(f"{JOB_PATH}/{path_segment(job_id)}")
        return self.downloads.call("GET", self._results_url(fresh), parse_results)

    @staticmethod
    def _results_url(status: Any) -> str:
        url = status.get("resultsUrl") if isinstance(status, dict) else None
        if not isinstance(url, str) or not url:
            raise MalformedResponse("Demandbase reported a finished export job without a resultsUrl")
        return url
