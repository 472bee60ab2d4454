#!/usr/bin/env python3
"""Django's command-line entry point for DCP."""

import os
import sys


def main() -> None:
    """Run a Django management command with DCP's settings."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dcp.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
