"""`ocbridge opencart seed …`: fill an OpenCart database with realistic test orders."""

import sys

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "OpenCart tools: `seed --url URL --version 3.0 --orders N [--prefix oc_]`."

    def run_from_argv(self, argv):
        # argv: [prog, "ocbridge_opencart", sub, ...]: hand the rest to the seed tool's own parser.
        args = argv[2:]
        if not args or args[0] != "seed":
            sys.stderr.write("usage: ocbridge opencart seed --url URL --version {2.3,3.0,4.0} --orders N [--prefix oc_]\n")
            sys.exit(2)
        from ocbridge.opencart.seed import main

        sys.exit(main(args[1:]))
