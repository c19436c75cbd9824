#!/usr/bin/env python
"""Django's command-line utility for the marketing analytics ETL."""

import sys


def main() -> None:
    from sales_dashboard.env import use_default_settings_module

    use_default_settings_module()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
