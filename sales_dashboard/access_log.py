"""gunicorn's logger, without OAuth authorization codes: ``--logger-class
sales_dashboard.access_log.AccessLogger`` (the Dockerfile, deploy/systemd and deploy/supervisor
start gunicorn with it).

The platform sends the browser back to ``/connections/oauth/callback/?code=...&state=...``; a plain
``--access-logfile -`` writes that request line, and the Referer of whatever the callback page
loads next, verbatim. Here every value the access-log format can use (``%(r)s``, ``%(q)s``,
``%(f)s``, ``%({header}i)s``, ``%({variable}e)s``...) has the callback's query string dropped and is
redacted as any log record is, and the error log gets the same filter (gunicorn names the request's
URL when a request fails). Only imported by gunicorn (the ``ops`` extra).
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from sales_dashboard.logging import AccessLogFilter, scrub_access_line

SCRUBBED = "[scrubbed]"


class AccessLogger(Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        if not any(isinstance(f, AccessLogFilter) for f in self.error_log.filters):
            self.error_log.addFilter(AccessLogFilter())

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        query = environ.get("QUERY_STRING") or ""
        callback = "/oauth/callback" in str(environ.get("PATH_INFO") or "")
        scrubbed: dict[str, Any] = {}
        for key, value in atoms.items():
            if isinstance(value, str):
                value = SCRUBBED if callback and query and value == query else scrub_access_line(value)
            scrubbed[key] = value
        return scrubbed
