"""The marketer-facing pages. Views only translate HTTP: reads go through selectors, writes
through services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from dashboard.selectors import (
    ALLOWED_DAYS,
    DEFAULT_DAYS,
    connection_get_for_organization,
    organization_for_user,
    overview_days_from_param,
    overview_get,
)
from dashboard.services import sync_start


@login_required
@require_safe
def overview(request: HttpRequest) -> HttpResponse:
    organization = organization_for_user(request.user)
    if organization is None:
        return render(request, "dashboard/no_organization.html", status=200)
    days = overview_days_from_param(request.GET.get("days"))
    context = {
        "organization": organization,
        "overview": overview_get(organization=organization, days=days),
        "days": days,
        "day_choices": ALLOWED_DAYS,
    }
    return render(request, "dashboard/overview.html", context)


@login_required
@require_POST
def connection_sync_now(request: HttpRequest, connection_id: int) -> HttpResponse:
    organization = organization_for_user(request.user)
    connection = connection_get_for_organization(organization=organization, connection_id=connection_id)
    if connection is None:
        raise Http404("No such connection.")
    label = connection.name or connection.account_id
    run = sync_start(connection_id=connection.pk, trigger="manual")
    if run is not None:
        messages.success(request, f"Sync started for {label}.")
    elif connection.status in (connection.Status.PAUSED, connection.Status.NEEDS_REAUTH):
        messages.warning(
            request, f"{label} is {connection.get_status_display().lower()}, so it cannot sync right now."
        )
    else:
        messages.info(request, f"A sync is already running for {label}.")
    days = overview_days_from_param(request.POST.get("days"))
    target = reverse("dashboard:overview")
    return redirect(target if days == DEFAULT_DAYS else f"{target}?days={days}")
