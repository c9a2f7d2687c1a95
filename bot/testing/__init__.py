"""The real stack for tests, benchmarks and demos: processes, local fakes of Twilio and Stripe,
and waiting for conditions (never for a fixed time)."""

import time


def wait_for(check, timeout=30.0, interval=0.05, what="the condition"):
    """Poll check() until it returns something true (returned) or timeout seconds pass
    (AssertionError naming what was awaited)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met after {timeout:g} s")
        time.sleep(interval)
