"""Run one simulator standalone: `python -m ocbridge.simulators sandbox --port 8701 --speed 60`."""

from __future__ import annotations

import argparse
import json
import sys

from . import SIMULATORS, load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ocbridge.simulators", description=__doc__)
    parser.add_argument("simulator", choices=sorted(SIMULATORS))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port (printed on start)")
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--option", "-o", action="append", default=[], metavar="NAME=JSON",
                        help="constructor option, e.g. -o token='\"abc\"' -o inbound_url='\"http://…\"'")
    args = parser.parse_args(argv)
    options = {}
    for item in args.option:
        name, _, raw = item.partition("=")
        try:
            options[name] = json.loads(raw)
        except ValueError:
            options[name] = raw  # plain strings need no quotes
    sim = load(args.simulator)(host=args.host, port=args.port, speed=args.speed, seed=args.seed, **options)
    sim.start()
    # One machine-readable line so a parent process (make demo, crash tests) can find the port.
    print(json.dumps({"simulator": args.simulator, "base_url": sim.base_url}), flush=True)
    try:
        sim.serve_forever()
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
