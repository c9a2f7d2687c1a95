"""The conversation suite on the real stack: the share of conversations that reach their
outcome, disclosures before verification, and answers per debtor message.

    .venv/bin/python -m bench.conversation_suite [--dir tests/e2e/suite] [--only ID] [--show]

--dir takes any folder of suite files (a set kept outside the repository, say).
"""

import argparse
import statistics
import time
from pathlib import Path

from bot.testing import conversations as suite

from .common import running_stack, stack_arguments


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=str(suite.SUITE_DIR), help="folder of suite files")
    parser.add_argument("--only", action="append", help="run only these conversation ids")
    parser.add_argument("--show", action="store_true", help="print every transcript")
    stack_arguments(parser)
    args = parser.parse_args()
    csv, portfolios, conversations = suite.load_suite(Path(args.dir))
    if args.only:
        conversations = [c for c in conversations if c["id"] in args.only]
    with running_stack(args) as stack:
        suite.prepare(stack, csv, portfolios)
        started = time.perf_counter()
        results = [suite.run(stack, c) for c in conversations]
        elapsed = time.perf_counter() - started
    reached = [r for r in results if r.reached]
    answers = [len(replies) for r in results for _said, replies in r.turns]
    for r in results:
        if args.show or not r.reached:
            print(r.transcript())
    for language in ("es", "en"):
        group = [r for r in results if r.id.startswith(f"{language}-")]
        if group:
            ok = sum(r.reached for r in group)
            print(f"{language}: {ok} of {len(group)} reach their outcome ({ok / len(group):.0%})")
    print(
        f"all: {len(reached)} of {len(results)} ({len(reached) / max(len(results), 1):.0%}); "
        f"disclosures before verification: {sum(len(r.disclosures) for r in results)}; "
        f"{len(answers)} debtor messages, answers per message: max {max(answers, default=0)}, "
        f"mean {statistics.mean(answers) if answers else 0:.2f}; {elapsed:.0f} s"
    )


if __name__ == "__main__":
    main()
