"""The Content-Security-Policy header, on every response.

The policy is one fixed string (``CONTENT_SECURITY_POLICY``): the pages run no inline script, no
inline style and no event-handler attribute, and load everything from the site itself, so no
per-request nonce is needed. Django 5.2 has no CSP support of its own (6.0 adds ``SECURE_CSP``);
this is the few lines that a package such as django-csp would otherwise be for.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

HEADER = "Content-Security-Policy"


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.policy = str(settings.CONTENT_SECURITY_POLICY)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if self.policy and HEADER not in response:
            response[HEADER] = self.policy
        return response
