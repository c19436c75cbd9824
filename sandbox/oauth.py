"""The tokens and the OAuth 2 authorization server the platforms' fakes share.

:class:`TokenApi` keeps a fake's access tokens, refresh tokens and authorization codes under one lock:
it mints access tokens, checks the one a request presents (honouring the ``expire_token`` fault) and
forgets them all on reset. :class:`OAuthApi` adds the authorization-code flow on top: the authorize
endpoint approves at once (as if the user had clicked "Allow") and sends the browser back with a code;
the token endpoint checks the client, redeems codes and refresh tokens (honouring the
``revoke_refresh`` fault, which revokes every refresh token) and answers through the platform's
:meth:`OAuthApi.grant`.

What differs between platforms is declared, not copied: an :class:`OAuthSpec` names the endpoints'
paths, the client, the form of the tokens and the platform's wording of each refusal
(:class:`Refusal`); the hooks :meth:`OAuthApi.grant` (the token answer, and any refusal of its own),
:meth:`OAuthApi.authorization_refusal` and :meth:`OAuthApi.authorization_answer` carry the rest.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Final, Literal
from urllib.parse import urlencode

from sandbox.core import FakeApi, SandboxRequest, SandboxResponse, json_response

FORM: Final = "application/x-www-form-urlencoded"


def oauth_error(status: int, error: str, description: str | None = None) -> SandboxResponse:
    """An OAuth error body: ``{"error", "error_description"}`` (the description only when there is one)."""
    body = {"error": error}
    if description is not None:
        body["error_description"] = description
    return json_response(status, body)


def bearer_token(request: SandboxRequest, scheme: str = "bearer") -> str:
    """The token of an ``Authorization: <scheme> <token>`` header (the scheme in any case), or ``""``."""
    given, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if given.lower() == scheme.lower() else ""


def redirect(uri: str, answer: Mapping[str, str]) -> SandboxResponse:
    """Send the browser back to ``uri`` with ``answer`` added to its query."""
    separator = "&" if "?" in uri else "?"
    return SandboxResponse(302, b"", {"Location": uri + separator + urlencode(answer)})


# --------------------------------------------------------------------------- tokens


@dataclass
class AccessToken:
    expires_at: float
    scope: str = ""
    owner: str = ""  # what the token opens, where the fake serves several: an org, an account, a key set
    expired: bool = False


@dataclass
class RefreshToken:
    scope: str = ""
    owner: str = ""
    issued_at: float = 0.0
    revoked: bool = False


@dataclass
class AuthorizationCode:
    redirect_uri: str
    scope: str
    expires_at: float
    owner: str = ""


class TokenRefused(Exception):
    """The access token a request presents is unknown, or no longer valid."""

    def __init__(self, reason: Literal["unknown", "expired"]) -> None:
        super().__init__(reason)
        self.expired = reason == "expired"


class TokenApi(FakeApi):
    """A fake that issues access tokens: its tokens and codes, and ``_lock`` that guards them.

    ``_lock`` is re-entrant, and the platform's fake may guard its own state with it too. Subclasses
    set ``access_token_ttl``, say what their tokens look like in :meth:`new_access_token`, and name
    their demo's tokens in :meth:`seed_tokens`.
    """

    access_token_ttl: float = 3600

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.RLock()
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}
        self.codes: dict[str, AuthorizationCode] = {}

    def new_access_token(self) -> str:
        """A fresh access token, in the platform's form."""
        raise NotImplementedError

    def seed_tokens(self) -> None:
        """Add the tokens the fake knows from the start (the demo's); called under the lock on reset."""

    def reset_state(self) -> None:
        with self._lock:
            self.access.clear()
            self.refresh.clear()
            self.codes.clear()
            self.seed_tokens()

    def token_counts(self) -> dict[str, int]:
        """How many access and refresh tokens the fake knows, and how many of the latter are revoked."""
        with self._lock:
            return {
                "access": len(self.access),
                "refresh": len(self.refresh),
                "refresh_revoked": sum(token.revoked for token in self.refresh.values()),
            }

    def mint_access_token(self, *, scope: str = "", owner: str = "") -> str:
        """A new access token, valid ``access_token_ttl`` seconds; counted in ``tokens_issued``."""
        token = self.new_access_token()
        with self._lock:
            self.access[token] = AccessToken(self.now() + self.access_token_ttl, scope, owner)
        self.count("tokens_issued")
        return token

    def expire_access_token(self, token: str) -> None:
        with self._lock:
            record = self.access.get(token)
            if record is not None:
                record.expired = True

    def access_token_check(self, token: str, *, fault_path: str | None = None) -> AccessToken:
        """The access token ``token`` names, while it is valid; :class:`TokenRefused` otherwise.

        With ``fault_path``, a planned ``expire_token`` fault on that path expires the token first.
        """
        expire_now = fault_path is not None and self.faults.take("expire_token", fault_path) is not None
        with self._lock:
            record = self.access.get(token)
            if record is None:
                raise TokenRefused("unknown")
            if expire_now:
                record.expired = True
            if record.expired or self.now() >= record.expires_at:
                record.expired = True
                raise TokenRefused("expired")
            return record


# --------------------------------------------------------------------------- the authorization server


@dataclass(frozen=True)
class Refusal:
    """How a platform words one refusal: its HTTP status, OAuth error and description. The description
    may name the ``{name}`` of a missing parameter or the ``{grant_type}`` asked for."""

    status: int
    error: str
    description: str | None = None

    def response(self, **values: str) -> SandboxResponse:
        description = self.description.format(**values) if self.description is not None else None
        return oauth_error(self.status, self.error, description)


# The situations a refusal answers (the keys of ``OAuthSpec.refusals``).
REFUSALS: Final = (
    "missing_parameter",  # authorize: a required parameter is missing ({name})
    "unknown_client",  # authorize: not this platform's client
    "response_type",  # authorize: not response_type=code
    "not_form",  # token: the body is not form-encoded
    "no_grant_type",  # token: no grant_type
    "grant_type",  # token: a grant type the platform does not take ({grant_type})
    "client_authentication",  # token: the client id or secret is wrong
    "refresh_token",  # token: an unknown or revoked refresh token
    "code",  # token: an unknown, used or expired code, or another redirect URI
)


@dataclass(frozen=True)
class OAuthSpec:
    """One platform's authorization server."""

    client_id: str
    client_secret: str
    authorize_path: str  # a route pattern
    token_path: str
    new_code: Callable[[], str]
    code_ttl: float
    refusals: Mapping[str, Refusal]
    new_refresh_token: Callable[[], str] | None = None  # None: the platform has no refresh tokens
    token_route: str = "token"  # what the token endpoint's requests are counted as
    default_scope: str = ""
    scope_delimiter: str = " "  # what separates the scopes it grants (the spaces asked for become this)
    owner: str = ""  # what an approval opens (the demo's org or account), where the fake serves several
    authorize_requires: tuple[str, ...] = ("response_type", "client_id", "redirect_uri")
    grant_types: tuple[str, ...] = ("refresh_token", "authorization_code")
    grant_type_checked_first: bool = False  # the grant type is judged before the client
    params_in_query: bool = False  # the token endpoint reads the query as well, and needs no form body
    client_in_basic_auth: bool = False  # the client may come as HTTP Basic authentication

    def __post_init__(self) -> None:
        unknown = set(self.refusals) - set(REFUSALS)
        if unknown:
            raise ValueError(f"unknown refusal(s) {', '.join(sorted(unknown))}; known: {', '.join(REFUSALS)}")


class OAuthApi(TokenApi):
    """A fake with the OAuth 2 authorization-code flow at the paths of its ``oauth`` spec."""

    oauth: ClassVar[OAuthSpec]

    def more_routes(self) -> Iterable[tuple[str, str, str, str]]:
        return (
            ("authorize", "GET", self.oauth.authorize_path, "authorize"),
            (self.oauth.token_route, "POST", self.oauth.token_path, "token"),
        )

    def refuse(self, situation: str, **values: str) -> SandboxResponse:
        """The platform's answer to one of the situations in :data:`REFUSALS`."""
        return self.oauth.refusals[situation].response(**values)

    # -- hooks

    def grant(
        self, request: SandboxRequest, record: RefreshToken, refresh_token: str, *, new: bool
    ) -> SandboxResponse:
        """Answer a token request that was granted (or refuse it after all); called under the lock.

        ``record`` holds the scope and owner granted; ``refresh_token`` is the one presented, or the one
        just minted for a redeemed code (``new``; empty where the platform has none).
        """
        raise NotImplementedError

    def authorization_refusal(self, request: SandboxRequest) -> SandboxResponse | None:
        """Why an authorization request is refused, if it is: a required parameter missing, another
        client, another response type."""
        missing = [name for name in self.oauth.authorize_requires if not request.arg(name)]
        if missing:
            return self.refuse("missing_parameter", name=missing[0])
        if request.arg("client_id") != self.oauth.client_id:
            return self.refuse("unknown_client")
        if request.arg("response_type") != "code":
            return self.refuse("response_type")
        return None

    def authorization_answer(self, request: SandboxRequest, code: str, scope: str) -> dict[str, str]:
        """The parameters the browser is sent back with: the code, and the state it came with."""
        return {"code": code, **state_of(request)}

    # -- the endpoints

    def authorize(self, request: SandboxRequest) -> SandboxResponse:
        """Approve at once and send the browser back with a code."""
        refusal = self.authorization_refusal(request)
        if refusal is not None:
            return refusal
        redirect_uri = request.arg("redirect_uri") or ""
        scope = (request.arg("scope") or self.oauth.default_scope).replace(" ", self.oauth.scope_delimiter)
        code = self.oauth.new_code()
        with self._lock:
            self.codes[code] = AuthorizationCode(
                redirect_uri, scope, self.now() + self.oauth.code_ttl, self.oauth.owner
            )
        return redirect(redirect_uri, self.authorization_answer(request, code, scope))

    def token(self, request: SandboxRequest) -> SandboxResponse:
        spec = self.oauth
        form = request.headers.get("Content-Type", "").startswith(FORM)
        if spec.params_in_query:
            params = {name: values[0] for name, values in request.query.items()}
            params.update(request.form() if form else {})
        elif not form:
            return self.refuse("not_form")
        else:
            params = request.form()
        if self._client_refused_by_fault(request.path):
            return self.refuse("client_authentication")
        grant_type = params.get("grant_type", "")
        checks = (self._grant_type_refusal, self._client_refusal)
        for check in checks if spec.grant_type_checked_first else reversed(checks):
            refusal = check(request, params)
            if refusal is not None:
                return refusal
        if grant_type == "refresh_token":
            return self._refresh_grant(request, params.get("refresh_token", ""))
        return self._code_grant(request, params.get("code", ""), params.get("redirect_uri", ""))

    def _client_refused_by_fault(self, path: str) -> bool:
        """A planned ``invalid_client`` fault, where the platform has that fault kind."""
        return "invalid_client" in self.fault_kinds and self.faults.take("invalid_client", path) is not None

    def _grant_type_refusal(
        self, request: SandboxRequest, params: Mapping[str, str]
    ) -> SandboxResponse | None:
        grant_type = params.get("grant_type", "")
        if not grant_type:
            return self.refuse("no_grant_type")
        if grant_type not in self.oauth.grant_types:
            return self.refuse("grant_type", grant_type=grant_type)
        return None

    def _client_refusal(self, request: SandboxRequest, params: Mapping[str, str]) -> SandboxResponse | None:
        if self.oauth.client_in_basic_auth:
            client_id, secret = _client_credentials(request, params)
        else:
            client_id, secret = params.get("client_id", ""), params.get("client_secret", "")
        if client_id != self.oauth.client_id or secret != self.oauth.client_secret:
            return self.refuse("client_authentication")
        return None

    def _refresh_grant(self, request: SandboxRequest, refresh_token: str) -> SandboxResponse:
        revoke = self.faults.take("revoke_refresh", request.path) is not None
        with self._lock:
            if revoke:
                for existing in self.refresh.values():
                    existing.revoked = True
            record = self.refresh.get(refresh_token)
            if record is None or record.revoked:
                return self.refuse("refresh_token")
            return self.grant(request, record, refresh_token, new=False)

    def _code_grant(self, request: SandboxRequest, code: str, redirect_uri: str) -> SandboxResponse:
        with self._lock:
            granted = self.codes.pop(code, None)
            if granted is None or granted.redirect_uri != redirect_uri or self.now() >= granted.expires_at:
                return self.refuse("code")
            record = RefreshToken(granted.scope, granted.owner, issued_at=self.now())
            refresh_token = ""
            if self.oauth.new_refresh_token is not None:
                refresh_token = self.oauth.new_refresh_token()
                self.refresh[refresh_token] = record
            return self.grant(request, record, refresh_token, new=True)


def state_of(request: SandboxRequest) -> dict[str, str]:
    """``{"state": ...}`` when the authorization request carried a state, else nothing."""
    state = request.arg("state")
    return {} if state is None else {"state": state}


def _client_credentials(request: SandboxRequest, form: Mapping[str, str]) -> tuple[str, str]:
    """The client in the form, or as HTTP Basic authentication."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:]).decode()
        except ValueError:
            return "", ""
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return form.get("client_id", ""), form.get("client_secret", "")
