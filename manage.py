#!/usr/bin/env python
"""Django's command-line utility for the marketing analytics ETL."""

import sys


def main() -> None:
    from sales_dashboard.env import use_default_settings_module

    use_default_settings_module()
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # A setting with a wrong value: one line that names it, not a traceback.
        sys.stderr.write(f"Configuration error: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
