"""The marketer-facing pages. Views only translate HTTP: reads go through selectors, writes
through services."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from connectors.redaction import redact
from connectors.registry import connector_classes
from connectors.services import RestatementWindowRefused, connection_set_restatement_days
from dashboard.cache_warm import dashboard_viewed
from dashboard.downloads import csv_download
from dashboard.exports import UnknownExport, export_table
from dashboard.forms import ConnectForm, ThrottledAuthenticationForm
from dashboard.ids import id_from_param
from dashboard.selectors import (
    ALLOWED_DAYS,
    DEFAULT_DAYS,
    CampaignFilters,
    accounts_report,
    campaign_detail,
    campaign_list,
    connection_get_for_organization,
    connection_label,
    connection_list_needing_reauth,
    email_report,
    funnel_report,
    membership_for_user,
    organization_for_user,
    overview_days_from_param,
    overview_get,
    page_number_from_params,
    period_from_params,
    pipeline_report,
    platform_name,
    sync_health_get,
)
from dashboard.selectors.restatements import restatement_report
from dashboard.selectors.sync import (
    live_run_for_connection,
    sync_run_get_for_organization,
    sync_run_taken_over_reason,
)
from dashboard.services import (
    ConnectError,
    ConnectIntent,
    connect_complete,
    connect_missing_settings,
    connect_start,
    connect_uses_oauth,
    connect_with_credentials,
)
from etl import services as etl_services
from etl.lease import clock
from etl.models import SyncRun
from etl.pipeline import sync_start
from tenancy.models import Membership

SESSION_INTENTS = "dashboard_connect_intents"

NAV = (
    ("overview", "Overview", "dashboard:overview"),
    ("campaigns", "Campaigns", "dashboard:campaigns"),
    ("email", "Email", "dashboard:email"),
    ("pipeline", "Pipeline", "dashboard:pipeline"),
    ("funnel", "Funnel", "dashboard:funnel"),
    ("accounts", "Accounts", "dashboard:accounts"),
    ("sync", "Sync health", "dashboard:sync_health"),
)

# The connect pages have their own highlighted tab: the "+ Connect an account" action.
CONNECT_SECTION = "connect"

PageView = Callable[..., HttpResponseBase]


def organization_page(view: PageView) -> PageView:
    """Login required; the visitor's membership is passed on, or a friendly page when there is none."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        membership = membership_for_user(request.user)
        if membership is None:
            return render(request, "dashboard/no_organization.html", status=200)
        dashboard_viewed(organization_id=membership.organization_id)
        return view(request, membership, *args, **kwargs)

    return wrapper


def _is_admin(membership: Membership) -> bool:
    return membership.role == Membership.Role.ADMIN


def _render(
    request: HttpRequest,
    membership: Membership,
    template: str,
    *,
    section: str,
    status: int = 200,
    **context: Any,
) -> HttpResponse:
    organization = membership.organization
    period = context.get("period")
    query = f"?{period.querystring}" if period is not None else ""
    context.update(
        organization=organization,
        section=section,
        nav=[(key, label, reverse(name) + (query if key != "sync" else "")) for key, label, name in NAV],
        can_manage=_is_admin(membership),
        reauth_connections=connection_list_needing_reauth(organization=organization),
        day_choices=ALLOWED_DAYS,
    )
    return render(request, template, context, status=status)


# --------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------


@require_safe
@organization_page
def overview(request: HttpRequest, membership: Membership) -> HttpResponse:
    period = period_from_params(request.GET)
    data = overview_get(organization=membership.organization, period=period)
    return _render(
        request,
        membership,
        "dashboard/overview.html",
        section="overview",
        period=period,
        overview=data,
        days=period.preset,
    )


@require_safe
@organization_page
def campaigns(request: HttpRequest, membership: Membership) -> HttpResponse:
    period = period_from_params(request.GET)
    filters = CampaignFilters.from_params(request.GET)
    page = campaign_list(organization=membership.organization, period=period, filters=filters)
    return _render(
        request, membership, "dashboard/campaigns.html", section="campaigns", period=period, page=page
    )


@require_safe
@organization_page
def campaign(
    request: HttpRequest, membership: Membership, connection_id: int, campaign_id: str
) -> HttpResponse:
    period = period_from_params(request.GET)
    detail = campaign_detail(
        organization=membership.organization,
        connection_id=connection_id,
        campaign_id=campaign_id,
        period=period,
    )
    if detail is None:
        raise Http404("No such campaign.")
    return _render(
        request, membership, "dashboard/campaign.html", section="campaigns", period=period, detail=detail
    )


@require_safe
@organization_page
def email(request: HttpRequest, membership: Membership) -> HttpResponse:
    period = period_from_params(request.GET)
    page = page_number_from_params(request.GET)
    report = email_report(organization=membership.organization, period=period, page=page)
    return _render(request, membership, "dashboard/email.html", section="email", period=period, report=report)


@require_safe
@organization_page
def pipeline(request: HttpRequest, membership: Membership) -> HttpResponse:
    period = period_from_params(request.GET)
    page = page_number_from_params(request.GET)
    report = pipeline_report(organization=membership.organization, period=period, page=page)
    return _render(
        request, membership, "dashboard/pipeline.html", section="pipeline", period=period, report=report
    )


@require_safe
@organization_page
def funnel(request: HttpRequest, membership: Membership) -> HttpResponse:
    period = period_from_params(request.GET)
    report = funnel_report(organization=membership.organization, period=period)
    return _render(
        request, membership, "dashboard/funnel.html", section="funnel", period=period, report=report
    )


@require_safe
@organization_page
def accounts(request: HttpRequest, membership: Membership) -> HttpResponse:
    period = period_from_params(request.GET)
    report = accounts_report(organization=membership.organization, period=period)
    return _render(
        request, membership, "dashboard/accounts.html", section="accounts", period=period, report=report
    )


@require_safe
@organization_page
def sync_health(request: HttpRequest, membership: Membership) -> HttpResponse:
    connection_id = id_from_param(request.GET.get("connection"))
    health = sync_health_get(organization=membership.organization, connection_id=connection_id)
    return _render(
        request,
        membership,
        "dashboard/sync_health.html",
        section="sync",
        health=health,
        restatements=restatement_report(organization=membership.organization, connection_id=connection_id),
        api_sunset_warning_days=settings.API_SUNSET_WARNING_DAYS,
        token_expiry_warning_days=settings.TOKEN_EXPIRY_WARNING_DAYS,
    )


@require_safe
@organization_page
def export_csv(request: HttpRequest, membership: Membership, table: str) -> HttpResponse:
    try:
        result = export_table(table, organization=membership.organization, params=request.GET)
    except UnknownExport as exc:
        raise Http404(str(exc)) from None
    return csv_download(result)


# --------------------------------------------------------------------------------------------
# Logging in
# --------------------------------------------------------------------------------------------


class ThrottledLoginView(LoginView):
    """Django's login, with repeated failures per username and address locked out for a while."""

    authentication_form = ThrottledAuthenticationForm

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if form.has_error("__all__", code="locked"):
            response.status_code = 429
        return response


# --------------------------------------------------------------------------------------------
# Sync now
# --------------------------------------------------------------------------------------------


def _safe_next(request: HttpRequest) -> str | None:
    target = request.POST.get("next", "")
    # A path on this site only: redirect() would take a bare word ("7") for a view's name.
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=False
    ):
        return target
    return None


@login_required
@require_POST
def connection_sync_now(request: HttpRequest, connection_id: int) -> HttpResponse:
    organization = organization_for_user(request.user)
    connection = connection_get_for_organization(organization=organization, connection_id=connection_id)
    if connection is None:
        raise Http404("No such connection.")
    label = connection_label(connection)
    what = f"{platform_name(connection.platform)} sync of {connection.name or connection.account_id}"
    holder = live_run_for_connection(connection_id=connection.pk)
    run = sync_start(connection_id=connection.pk, trigger="manual")
    if run is not None:
        stopped = sync_run_taken_over_reason(sync_run_id=holder.run.pk) if holder else None
        if stopped is not None:
            messages.warning(request, f"The previous {what} had stopped ({stopped}); a new sync started.")
        else:
            messages.success(request, f"Sync started for {label}.")
    elif connection.status in (connection.Status.PAUSED, connection.Status.NEEDS_REAUTH):
        messages.warning(
            request, f"{label} is {connection.get_status_display().lower()}, so it cannot sync right now."
        )
    else:
        live = live_run_for_connection(connection_id=connection.pk)
        if live is not None:
            messages.info(
                request,
                f"A {what} is already running ({live.summary}); it was not started twice.",
            )
        else:
            messages.info(request, f"A sync is already running for {label}.")
    target = _safe_next(request)
    if target:
        return redirect(target)
    days = overview_days_from_param(request.POST.get("days"))
    overview_url = reverse("dashboard:overview")
    return redirect(overview_url if days == DEFAULT_DAYS else f"{overview_url}?days={days}")


# --------------------------------------------------------------------------------------------
# Cancelling a run in flight
# --------------------------------------------------------------------------------------------


@require_POST
@organization_page
def sync_run_cancel(request: HttpRequest, membership: Membership, sync_run_id: int) -> HttpResponse:
    """An administrator ends a run in flight; its worker stops at its next heartbeat, loading nothing."""
    if not _is_admin(membership):
        return HttpResponseForbidden(
            "Only the organization's administrators can cancel a sync.", content_type="text/plain"
        )
    run = sync_run_get_for_organization(organization=membership.organization, sync_run_id=sync_run_id)
    if run is None:
        raise Http404("No such sync run.")
    what = (
        f"{platform_name(run.connection.platform)} sync of {run.connection.name or run.connection.account_id}"
    )
    step = SyncRun.Step(run.step).value
    reason = f"Cancelled by {request.user.get_username()} at {clock(timezone.now())} during {step}."
    try:
        etl_services.sync_run_cancel(sync_run_id=run.pk, reason=reason)
    except etl_services.SyncRunNotFound:
        raise Http404("No such sync run.") from None
    except etl_services.SyncRunNotInFlight:
        run.refresh_from_db()
        messages.info(
            request,
            f"Run {run.pk} ({what}) had already ended ({run.get_status_display().lower()}); "
            "there was nothing to cancel.",
        )
    else:
        messages.success(request, f"Run {run.pk} ({what}) was cancelled; nothing of it was loaded.")
    return redirect(_safe_next(request) or reverse("dashboard:sync_health"))


@require_POST
@organization_page
def connection_restatement_window(request: HttpRequest, membership: Membership, connection_id: int) -> HttpResponse:
    """An administrator sets how many days every sync of a connection re-reads (the window the
    restatement log suggests); never below the platform's documented minimum."""
    if not _is_admin(membership):
        return HttpResponseForbidden(
            "Only the organization's administrators can change a re-read window.", content_type="text/plain"
        )
    connection = connection_get_for_organization(organization=membership.organization, connection_id=connection_id)
    if connection is None:
        raise Http404("No such connection.")
    days = id_from_param(request.POST.get("days"))
    if days is None or days > 366:
        messages.error(request, "The re-read window is a number of days.")
    else:
        try:
            connection_set_restatement_days(connection=connection, days=days)
        except RestatementWindowRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request, f"{connection_label(connection)} now re-reads the last {days} day{'s' if days != 1 else ''}."
            )
    return redirect(reverse("dashboard:sync_health") + "#restatements-title")


# --------------------------------------------------------------------------------------------
# Connecting accounts
# --------------------------------------------------------------------------------------------


def _remember_intent(request: HttpRequest, intent: ConnectIntent) -> None:
    pending = {
        state: data
        for state, data in dict(request.session.get(SESSION_INTENTS) or {}).items()
        if not ConnectIntent.from_dict(data).expired
    }
    pending[intent.state] = intent.to_dict()
    request.session[SESSION_INTENTS] = pending


def _take_intent(request: HttpRequest, state: str) -> ConnectIntent | None:
    """The intent started in this session under ``state`` (used once), or None."""
    pending = dict(request.session.get(SESSION_INTENTS) or {})
    found = None
    for known in list(pending):
        if state and hmac.compare_digest(known.encode(), state.encode()):
            found = ConnectIntent.from_dict(pending.pop(known))
    request.session[SESSION_INTENTS] = pending
    if found is None or found.expired:
        return None
    return found


def _redirect_uri(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("dashboard:oauth_callback"))


def _forbid_non_admin(request: HttpRequest, membership: Membership) -> HttpResponse | None:
    if _is_admin(membership):
        return None
    return _render(
        request, membership, "dashboard/connect_forbidden.html", section=CONNECT_SECTION, status=403
    )


@require_safe
@organization_page
def connect_choose(request: HttpRequest, membership: Membership) -> HttpResponse:
    denied = _forbid_non_admin(request, membership)
    if denied:
        return denied
    platforms = [
        {
            "platform": slug,
            "name": cls.display_name,
            "oauth": connect_uses_oauth(slug),
            "missing": connect_missing_settings(slug),
        }
        for slug, cls in connector_classes().items()
    ]
    return _render(
        request, membership, "dashboard/connect_choose.html", section=CONNECT_SECTION, platforms=platforms
    )


@require_http_methods(["GET", "HEAD", "POST"])
@organization_page
def connect_platform(request: HttpRequest, membership: Membership, platform: str) -> HttpResponse:
    denied = _forbid_non_admin(request, membership)
    if denied:
        return denied
    if platform not in connector_classes():
        raise Http404("No such platform.")
    uses_oauth = connect_uses_oauth(platform)
    form = ConnectForm(
        request.POST or None,
        platform=platform,
        with_credentials=not uses_oauth,
        initial={"account_id": request.GET.get("account", "")},
    )
    missing = connect_missing_settings(platform)
    if request.method == "POST" and form.is_valid() and not missing:
        organization = membership.organization
        try:
            if uses_oauth:
                url, intent = connect_start(
                    organization=organization,
                    platform=platform,
                    account_id=form.cleaned_data["account_id"],
                    options=form.options(),
                    redirect_uri=_redirect_uri(request),
                )
                _remember_intent(request, intent)
                return redirect(url)
            connection = connect_with_credentials(
                organization=organization,
                platform=platform,
                account_id=form.cleaned_data["account_id"],
                credentials=form.credentials(),
                options=form.options(),
            )
        except ConnectError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request, f"{connection_label(connection)} is connected; its first sync has started."
            )
            return redirect(reverse("dashboard:sync_health"))
    return _render(
        request,
        membership,
        "dashboard/connect_form.html",
        section=CONNECT_SECTION,
        form=form,
        platform=platform,
        platform_label=platform_name(platform),
        uses_oauth=uses_oauth,
        missing=missing,
    )


@require_POST
@organization_page
def connection_reconnect(request: HttpRequest, membership: Membership, connection_id: int) -> HttpResponse:
    denied = _forbid_non_admin(request, membership)
    if denied:
        return denied
    connection = connection_get_for_organization(
        organization=membership.organization, connection_id=connection_id
    )
    if connection is None or connection.platform not in connector_classes():
        raise Http404("No such connection.")
    if not connect_uses_oauth(connection.platform):
        # Credential platforms are reconnected by entering the credentials again.
        target = reverse("dashboard:connect_platform", args=[connection.platform])
        return redirect(f"{target}?{urlencode({'account': connection.account_id})}")
    try:
        url, intent = connect_start(
            organization=membership.organization,
            platform=connection.platform,
            account_id=connection.account_id,
            options={str(k): str(v) for k, v in (connection.options or {}).items()},
            redirect_uri=_redirect_uri(request),
            connection_id=connection.pk,
        )
    except ConnectError as exc:
        messages.error(request, exc.message)
        return redirect(reverse("dashboard:sync_health"))
    _remember_intent(request, intent)
    return redirect(url)


@require_safe
@organization_page
def oauth_callback(request: HttpRequest, membership: Membership) -> HttpResponse:
    # The sign-in is used up first, then the role is checked again, as when it was started: an
    # admin demoted while the platform's page was open neither finishes it now nor after a promotion.
    intent = _take_intent(request, request.GET.get("state", ""))
    denied = _forbid_non_admin(request, membership)
    if denied:
        return denied
    if intent is None:
        return _render(
            request,
            membership,
            "dashboard/connect_failed.html",
            section=CONNECT_SECTION,
            status=400,
            reason="This sign-in was not started from this browser session, or it has expired. "
            "Nothing was connected; start again from “Connect an account”.",
        )
    label = platform_name(intent.platform)
    error = request.GET.get("error", "")
    code = request.GET.get("code", "")
    if error or not code:
        # The platform's words, redacted as they would be in a log.
        description = redact(
            request.GET.get("error_description", "") or error or "no authorization code was returned"
        )[:300]
        return _render(
            request,
            membership,
            "dashboard/connect_failed.html",
            section=CONNECT_SECTION,
            status=400,
            reason=f"{label} did not grant access ({description}). Nothing was connected.",
            platform=intent.platform,
        )
    try:
        connection = connect_complete(
            organization=membership.organization,
            intent=intent,
            code=code,
            redirect_uri=_redirect_uri(request),
        )
    except ConnectError as exc:
        return _render(
            request,
            membership,
            "dashboard/connect_failed.html",
            section=CONNECT_SECTION,
            status=400,
            reason=exc.message,
            platform=intent.platform,
        )
    verb = "reconnected" if intent.connection_id else "connected"
    messages.success(request, f"{connection_label(connection)} is {verb}; a sync has started.")
    return redirect(reverse("dashboard:sync_health"))
