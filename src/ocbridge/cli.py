"""`ocbridge …` entry point: thin wrapper around Django management commands."""

from __future__ import annotations

import os
import sys

# ocbridge word → management command
ALIASES = {"serve": "ocbridge_serve", "worker": "ocbridge_worker", "store": "ocbridge_store", "opencart": "ocbridge_opencart",
           "rotate-key": "ocbridge_rotate_key", "demo": "ocbridge_demo", "check": "check"}


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocbridge.settings")
    if len(argv) > 1 and argv[1] in ALIASES:
        argv[1] = ALIASES[argv[1]]
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
