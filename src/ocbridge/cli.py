"""`ocbridge …` entry point: our commands only, each with its own help (`ocbridge help store`).

Our words map to Django management commands, run with "ocbridge <word>" as their program name. Django's other
commands (shell, dbshell, …) still run when typed, but are not listed. Commands that need the hub's database say
"run `ocbridge migrate` first" instead of failing on a missing table.
"""

from __future__ import annotations

import os
import sys

# word → (management command, what it does, needs the hub's database migrated)
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "demo": ("ocbridge_demo", "run the live demo: demo shop, simulated customers, worker and dashboard", False),
    "migrate": ("migrate", "create or upgrade the hub's own database (after installing and after every upgrade)",
                False),
    "createsuperuser": ("createsuperuser", "create a dashboard login with full rights", True),
    "changepassword": ("changepassword", "set a dashboard user's password", True),
    "store": ("ocbridge_store", "connect (one, or many from a file), list, check and remove OpenCart stores", True),
    "serve": ("ocbridge_serve", "serve the dashboard and the providers' webhooks", True),
    "worker": ("ocbridge_worker", "run the job worker (calls, SMS, shop writes, polls)", True),
    "rotate-key": ("ocbridge_rotate_key", "re-encrypt every stored secret under a new key", True),
    "onebox": ("ocbridge_onebox", "OneBox CRM: start, continue and watch the first loads (orders, customers, "
                                  "catalogue)", True),
    "personal-data": ("ocbridge_personal_data", "export or erase a person's data, found by phone number", True),
    "opencart": ("ocbridge_opencart", "OpenCart tools: fill a test shop with realistic orders", False),
    "check": ("check", "check the hub's settings (add --deploy before going live)", False),
}
# Django's generic options, hidden from our commands' help: they are for developers, not owners.
HIDDEN_OPTIONS = {"--settings", "--pythonpath", "--traceback", "--no-color", "--force-color", "--skip-checks",
                  "--version"}


def usage() -> str:
    width = max(len(w) for w in COMMANDS)
    lines = ["usage: ocbridge <command> [options]", "", "Commands:"]
    lines += [f"  {word.ljust(width)}  {desc}" for word, (_c, desc, _m) in COMMANDS.items()]
    lines += ["", "`ocbridge help <command>` (or `ocbridge <command> --help`) shows a command's options."]
    return "\n".join(lines) + "\n"


def pending_migrations() -> bool:
    """True when the hub's database lacks tables or columns this version needs."""
    from django.db import DEFAULT_DB_ALIAS, connections
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def run(word: str, args: list[str]) -> None:
    import django
    from django.core.management import get_commands, load_command_class

    django.setup()
    name, _desc, needs_db = COMMANDS[word]
    if needs_db and "-h" not in args and "--help" not in args and pending_migrations():
        sys.stderr.write("The hub's database is not set up for this version yet: run `ocbridge migrate` first "
                         f"(data directory: {os.environ.get('OCBRIDGE_DATA_DIR', './var')}).\n")
        sys.exit(1)
    command = load_command_class(get_commands()[name], name)
    command.suppressed_base_arguments = HIDDEN_OPTIONS
    command.run_from_argv(["ocbridge", word, *args])


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocbridge.settings")
    args = argv[1:]
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(usage())
        return
    if args[0] == "help":
        if len(args) == 1:
            sys.stdout.write(usage())
            return
        args = [args[1], "--help"]
    if args[0] in COMMANDS:
        run(args[0], args[1:])
        return
    from django.core.management import execute_from_command_line, get_commands

    if args[0].startswith("-") or args[0] not in get_commands():
        sys.stderr.write(f"ocbridge: unknown command {args[0]!r}.\n\n{usage()}")
        sys.exit(2)
    execute_from_command_line(["ocbridge", *args])  # one of Django's own commands, for those who know them


if __name__ == "__main__":
    main()
