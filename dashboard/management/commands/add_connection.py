"""Register a platform account for an organization from the shell."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_slug
from django.db import transaction

from connectors.errors import ConnectorError
from connectors.registry import UnknownPlatform, get_connector_class
from connectors.services import connection_create, organization_get_or_create
from dashboard.management.quiet import quiet_logs


def _pairs(values: list[str], what: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, item = value.partition("=")
        if not sep or not key:
            raise CommandError(f"--{what} expects key=value, got {value!r}")
        pairs[key.strip()] = item
    return pairs


class Command(BaseCommand):
    help = "Register (or update) a connection: --org SLUG --platform P --account-id ID --credential k=v ..."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="Organization slug (created if missing).")
        parser.add_argument("--platform", required=True)
        parser.add_argument("--account-id", required=True)
        parser.add_argument("--name", default="", help="Display name (default: the platform's account name).")
        parser.add_argument("--credential", action="append", default=[], metavar="KEY=VALUE")
        parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE")
        parser.add_argument("--no-check", action="store_true", help="Do not try the credentials first.")

    def handle(self, *args: Any, **options: Any) -> None:
        # A failure is reported in one line; the per-attempt retry warnings are for -v 2.
        with quiet_logs(options["verbosity"], ["connectors"], logging.ERROR):
            self._add(options)

    def _add(self, options: dict[str, Any]) -> None:
        try:
            cls = get_connector_class(options["platform"])
        except UnknownPlatform as exc:
            raise CommandError(str(exc)) from None
        try:
            validate_slug(options["org"])
        except ValidationError:
            raise CommandError(
                f"--org expects an organization slug (letters, digits, - and _), got {options['org']!r}"
            ) from None
        if not options["account_id"].strip():
            raise CommandError("--account-id must not be empty")
        credentials = _pairs(options["credential"], "credential")
        unknown = set(credentials) - set(cls.credential_keys)
        if unknown:
            accepted = ", ".join(sorted(cls.credential_keys)) or "none"
            raise CommandError(
                f"{cls.platform} does not take credential(s) {sorted(unknown)}; accepted: {accepted}"
            )
        if not credentials:
            raise CommandError(
                f"Give at least one --credential; {cls.platform} takes: {', '.join(cls.credential_keys)}"
            )
        connection_options = _pairs(options["option"], "option")
        try:
            # A new organization is kept only if its connection is: refused credentials leave nothing.
            with transaction.atomic():
                organization = organization_get_or_create(slug=options["org"])
                connection = connection_create(
                    organization=organization,
                    platform=cls.platform,
                    account_id=options["account_id"],
                    credentials=credentials,
                    options=connection_options,
                    name=options["name"],
                    check=not options["no_check"],
                )
        except ConnectorError as exc:
            raise CommandError(f"The credentials did not work: {exc.message}") from None
        self.stdout.write(str(connection.pk))
