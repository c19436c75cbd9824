"""The form that connects an account: its id, the platform's extra settings and, for platforms
connected with API credentials instead of a sign-in page, those credentials.

Fields come from the connector (``option_keys``, ``credential_keys``), so a new platform gets a
working form without changes here; the hints below only make known fields friendlier.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from connectors.registry import get_connector_class
from dashboard.login_throttle import (
    client_address,
    lockout_message,
    login_failure_record,
    login_is_locked,
    login_success_record,
)

ACCOUNT_ID_HELP = {
    "google_ads": "The Google Ads customer id (123-456-7890 or digits only).",
    "linkedin_ads": "The ad account id, as shown in Campaign Manager (digits).",
    "mailchimp": "The Mailchimp user id of the account; it is checked against the account you sign in to.",
    "zoho_crm": "The Zoho CRM organization id (Setup > Company Details).",
    "demandbase": "A name for this Demandbase tenant (for your own reference).",
}

OPTION_LABELS = {
    ("google_ads", "login_customer_id"): "Manager account id (optional)",
    ("zoho_crm", "accounts_server"): "Data centre",
}

# Zoho's accounts server per data centre (docs/platform-apis.md, section 4.1).
ZOHO_DATA_CENTRES = (
    ("", "United States (accounts.zoho.com)"),
    ("https://accounts.zoho.eu", "Europe (accounts.zoho.eu)"),
    ("https://accounts.zoho.uk", "United Kingdom (accounts.zoho.uk)"),
    ("https://accounts.zoho.in", "India (accounts.zoho.in)"),
    ("https://accounts.zoho.com.au", "Australia (accounts.zoho.com.au)"),
    ("https://accounts.zoho.jp", "Japan (accounts.zoho.jp)"),
    ("https://accounts.zohocloud.ca", "Canada (accounts.zohocloud.ca)"),
    ("https://accounts.zoho.sa", "Saudi Arabia (accounts.zoho.sa)"),
    ("https://accounts.zoho.com.cn", "China (accounts.zoho.com.cn)"),
)
OPTION_CHOICES: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("zoho_crm", "accounts_server"): ZOHO_DATA_CENTRES,
}
# Options shown up front; the others sit under "Advanced settings".
PRIMARY_OPTIONS = {("google_ads", "login_customer_id"), ("zoho_crm", "accounts_server")}
SECRET_HINTS = ("secret", "token", "password", "key")


class ConnectForm(forms.Form):
    account_id = forms.CharField(label="Account id", max_length=64)

    def __init__(self, *args: Any, platform: str, with_credentials: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.platform = platform
        cls = get_connector_class(platform)
        self.fields["account_id"].help_text = ACCOUNT_ID_HELP.get(platform, "")
        self.option_names: list[str] = []
        self.credential_names: list[str] = []
        for key, description in cls.option_keys.items():
            name = f"option_{key}"
            label = OPTION_LABELS.get((platform, key), key.replace("_", " ").capitalize())
            choices = OPTION_CHOICES.get((platform, key))
            if choices:
                self.fields[name] = forms.ChoiceField(
                    label=label, choices=choices, required=False, help_text=description
                )
            else:
                self.fields[name] = forms.CharField(
                    label=label, required=False, max_length=500, help_text=description
                )
            self.fields[name].widget.attrs["data-advanced"] = (
                "0" if (platform, key) in PRIMARY_OPTIONS else "1"
            )
            self.option_names.append(name)
        if with_credentials:
            for key, description in cls.credential_keys.items():
                name = f"credential_{key}"
                secret = any(hint in key for hint in SECRET_HINTS)
                self.fields[name] = forms.CharField(
                    label=key.replace("_", " ").capitalize(),
                    max_length=2000,
                    help_text=description,
                    widget=forms.PasswordInput(render_value=False) if secret else forms.TextInput(),
                )
                self.credential_names.append(name)

    def clean_account_id(self) -> str:
        value = str(self.cleaned_data["account_id"]).strip()
        if not value:
            raise forms.ValidationError("Enter the account id.")
        return value

    @property
    def primary_option_fields(self) -> list[forms.BoundField]:
        return [self[n] for n in self.option_names if self.fields[n].widget.attrs.get("data-advanced") == "0"]

    @property
    def advanced_option_fields(self) -> list[forms.BoundField]:
        return [self[n] for n in self.option_names if self.fields[n].widget.attrs.get("data-advanced") == "1"]

    @property
    def credential_fields(self) -> list[forms.BoundField]:
        return [self[n] for n in self.credential_names]

    def options(self) -> dict[str, str]:
        return {
            name.removeprefix("option_"): str(self.cleaned_data.get(name) or "").strip()
            for name in self.option_names
            if str(self.cleaned_data.get(name) or "").strip()
        }

    def credentials(self) -> dict[str, str]:
        return {
            name.removeprefix("credential_"): str(self.cleaned_data.get(name) or "").strip()
            for name in self.credential_names
        }


class ThrottledLoginMixin:
    """Refuses a username and address with too many recent failures before the password is checked."""

    request: Any
    cleaned_data: dict[str, Any]

    def clean(self) -> dict[str, Any]:
        username = str(self.cleaned_data.get("username") or "")
        address = client_address(self.request)
        if username and login_is_locked(username=username, address=address):
            raise forms.ValidationError(lockout_message(), code="locked")
        try:
            cleaned: dict[str, Any] = super().clean()  # type: ignore[misc]
        except forms.ValidationError:
            if username:
                login_failure_record(username=username, address=address)
            raise
        login_success_record(username=username, address=address)
        return cleaned


class ThrottledAuthenticationForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass
