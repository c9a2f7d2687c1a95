"""Run a command of the app (`flask ...`) on the benchmark's clock: time-machine starts it at
the given instant and lets it tick, so a worker judges hours, caps and expiry at the same
moment the benchmark planned for, whatever the machine's date.

    python -m bench.clocked 2026-11-24T15:00:00 worker --burst
"""

import sys
from datetime import datetime, timezone

import time_machine


def main():
    instant = datetime.fromisoformat(sys.argv[1])
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=timezone.utc)
    sys.argv = ["flask", *sys.argv[2:]]
    with time_machine.travel(instant, tick=True):
        from flask.cli import main as flask_main

        flask_main()


if __name__ == "__main__":
    main()
