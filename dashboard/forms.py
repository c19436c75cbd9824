"""The form that connects an account: its id, the platform's extra settings and, for platforms
connected with API credentials instead of a sign-in page, those credentials.

Fields come from the connector (``account_id_help``, ``option_specs``, ``credential_specs``: help,
label, choices, which are secret, which are shown up front), so a new platform gets its form without
changes here.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from connectors.registry import get_connector_class
from connectors.services import connection_input_clean
from dashboard.login_throttle import (
    client_address,
    lockout_message,
    login_attempt_begin,
    login_success_record,
)


class ConnectForm(forms.Form):
    account_id = forms.CharField(label="Account id", max_length=64)

    def __init__(self, *args: Any, platform: str, with_credentials: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.platform = platform
        cls = get_connector_class(platform)
        self.fields["account_id"].help_text = cls.account_id_help
        self.option_names: list[str] = []
        self.credential_names: list[str] = []
        for key, option in cls.option_specs.items():
            name = f"option_{key}"
            label = option.label_for(key)
            if option.choices:
                self.fields[name] = forms.ChoiceField(
                    label=label, choices=option.choices, required=False, help_text=option.help
                )
            else:
                self.fields[name] = forms.CharField(
                    label=label, required=False, max_length=500, help_text=option.help
                )
            self.fields[name].widget.attrs["data-advanced"] = "0" if option.primary else "1"
            self.option_names.append(name)
        if with_credentials:
            for key, credential in cls.credential_specs.items():
                name = f"credential_{key}"
                self.fields[name] = forms.CharField(
                    label=credential.label_for(key),
                    max_length=2000,
                    help_text=credential.help,
                    widget=forms.PasswordInput(render_value=False) if credential.secret else forms.TextInput(),
                )
                self.credential_names.append(name)

    def clean(self) -> dict[str, Any]:
        """The same normalization and checks as ``add_connection`` (``connection_input_clean``):
        the account id in its platform's format and canonical form, known options and credentials."""
        cleaned = super().clean() or self.cleaned_data
        if "account_id" not in cleaned:  # already refused: empty or too long
            return cleaned
        complete = all(name in cleaned for name in self.credential_names)
        try:
            entered = connection_input_clean(
                platform=self.platform,
                account_id=cleaned["account_id"],
                options=self.options(),
                credentials=self.credentials() if self.credential_names and complete else None,
            )
        except forms.ValidationError as exc:
            for field, messages in exc.message_dict.items():
                self.add_error("account_id" if field == "account_id" else None, messages)
            return self.cleaned_data
        cleaned["account_id"] = entered.account_id
        return cleaned

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
    """Refuses a username and address with too many recent failures before the password is checked.

    Every attempt that names a username is counted as a failure before its password is checked, and
    only an attempt that authenticated a user clears the count. Django's ``clean()`` skips the check
    without an error when the password is empty or missing, so such a request is a failure too, not a
    success. A request without a username checks no password: nothing is counted or cleared.
    """

    request: Any
    cleaned_data: dict[str, Any]
    user_cache: Any

    def clean(self) -> dict[str, Any]:
        username = str(self.cleaned_data.get("username") or "")
        if not username:
            return super().clean()  # type: ignore[misc]
        address = client_address(self.request)
        if not login_attempt_begin(username=username, address=address):
            raise forms.ValidationError(lockout_message(), code="locked")
        cleaned: dict[str, Any] = super().clean()  # type: ignore[misc]  # raises on a wrong password
        if self.user_cache is not None:
            login_success_record(username=username, address=address)
        return cleaned


class ThrottledAuthenticationForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass
