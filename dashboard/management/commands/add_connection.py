"""Register a platform account for an organization from the shell."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from connectors.errors import ConnectorError
from connectors.registry import UnknownPlatform, get_connector_class
from connectors.services import connection_create
from dashboard.management.quiet import quiet_logs
from tenancy.services import organization_get_or_create, organization_slug_clean

BAD_INPUT = 2  # the exit status of a refused argument, as for argparse's own errors
FLAGS = {"account_id": "--account-id", "credentials": "--credential", "options": "--option", "name": "--name"}


def _pairs(values: list[str], what: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, item = value.partition("=")
        if not sep or not key:
            raise CommandError(f"--{what} expects key=value, got {value!r}", returncode=BAD_INPUT)
        pairs[key.strip()] = item
    return pairs


def _refused(exc: ValidationError) -> CommandError:
    """One line naming the flag of each problem (the checks are connection_input_clean's)."""
    problems = [
        f"{FLAGS.get(field, field)}: {message.rstrip('.')}"
        for field, messages in exc.message_dict.items()
        for message in messages
    ]
    return CommandError("; ".join(problems) + ".", returncode=BAD_INPUT)


class Command(BaseCommand):
    help = "Register (or update) a connection: --org SLUG --platform P --account-id ID --credential k=v ..."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="Organization slug (created if missing).")
        parser.add_argument("--platform", required=True)
        parser.add_argument(
            "--account-id", required=True, help="The platform's account id (README: the format per platform)."
        )
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
            raise CommandError(str(exc), returncode=BAD_INPUT) from None
        try:
            slug = organization_slug_clean(options["org"])
        except ValidationError as exc:
            raise CommandError(
                f"--org expects an organization slug: {' '.join(exc.messages)}",
                returncode=BAD_INPUT,
            ) from None
        if not options["account_id"].strip():
            raise CommandError("--account-id must not be empty", returncode=BAD_INPUT)
        credentials = _pairs(options["credential"], "credential")
        if not credentials:
            raise CommandError(
                f"Give at least one --credential; {cls.platform} takes: {', '.join(cls.credential_specs)}",
                returncode=BAD_INPUT,
            )
        connection_options = _pairs(options["option"], "option")
        try:
            # A new organization is kept only if its connection is: refused input or credentials
            # leave nothing. The input is checked (connection_input_clean) before any request.
            with transaction.atomic():
                organization = organization_get_or_create(slug=slug)
                connection = connection_create(
                    organization=organization,
                    platform=cls.platform,
                    account_id=options["account_id"],
                    credentials=credentials,
                    options=connection_options,
                    name=options["name"],
                    check=not options["no_check"],
                )
        except ValidationError as exc:
            raise _refused(exc) from None
        except ConnectorError as exc:
            raise CommandError(f"The credentials did not work: {exc.message}") from None
        self.stdout.write(str(connection.pk))
