"""Print every platform's settings with their defaults, as declared in each connector's folder.

``--env-example`` prints them in the format of ``.env.example``, whose platform part is this output
(a test keeps the two equal).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from connectors.platform_settings import declared
from connectors.registry import connector_classes

ENV_EXAMPLE_WIDTH = 37  # where the comment starts, as in the rest of .env.example
RULE_WIDTH = 98


ENV_EXAMPLE_HEAD = (
    "# --- Platforms ----------------------------------------------------------------------------------\n"
    "# Each platform declares its settings in connectors/<platform>/settings.py, read under its prefix.\n"
    "# What follows is the output of: python manage.py platform_settings --env-example\n"
)


def env_example() -> str:
    """The platform part of ``.env.example``: one block per platform, one commented line per setting."""
    classes = connector_classes()
    blocks = [ENV_EXAMPLE_HEAD.rstrip("\n")]
    for platform, settings in declared().items():
        title = f"# --- {classes[platform].display_name} "
        lines = [title + "-" * (RULE_WIDTH - len(title))]
        for setting in settings:
            name = f"# {setting.full_name(platform)}="
            default = f"; default {setting.default}" if setting.default != "" else ""
            lines.append(f"{name.ljust(ENV_EXAMPLE_WIDTH)}# {setting.help}{default}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


class Command(BaseCommand):
    help = "List every platform's settings (environment variables) with their defaults."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--env-example", action="store_true", help="in the format of .env.example")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["env_example"]:
            self.stdout.write(env_example(), ending="")
            return
        for platform, settings in declared().items():
            self.stdout.write(f"{connector_classes()[platform].display_name}:")
            for setting in settings:
                self.stdout.write(f"  {setting.full_name(platform)} = {setting.default!r}  ({setting.help})")
