"""Debt import speed: the console's upload size limit is chosen so an upload ends in seconds.

Imports N generated rows with the same function the CLI and the admin upload use, into a fresh
migrated SQLite database, and prints rows per second, the bytes per row and how long a file at
the console's upload limit takes.

    .venv/bin/python -m bench.debt_import [--rows 10000]
"""

import argparse
import tempfile
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()

    from bot import create_app
    from bot.db import session
    from bot.debts.imports import import_csv
    from bot.web.console.admin import MAX_IMPORT_BYTES

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp}/bench.db", "APP_ENV": "test"})
        result = app.test_cli_runner().invoke(args=["db-upgrade"])
        assert result.exit_code == 0, result.output
        lines = ["external_id,full_name,phone,country,locale,currency,amount_due,due_date,id_last4"]
        for i in range(args.rows):
            lines.append(
                f"B-{i},Nombre Apellido {i},30{i:08d},CO,es-CO,COP,150000.00,2026-12-01,"
                f"{i % 10000:04d}"
            )
        data = ("\n".join(lines) + "\n").encode()
        with app.app_context():
            start = time.perf_counter()
            report = import_csv(session(), data)
            seconds = time.perf_counter() - start
        app.extensions["db"].engine.dispose()
    per_row = len(data) / args.rows
    rate = args.rows / seconds
    at_limit = MAX_IMPORT_BYTES / per_row
    print(f"import: {report.summary()} in {seconds:.1f} s = {rate:.0f} rows/s")
    print(
        f"upload limit {MAX_IMPORT_BYTES // 1024} KB = about {at_limit:.0f} rows "
        f"({per_row:.0f} bytes/row) = about {at_limit / rate:.1f} s inside the request"
    )


if __name__ == "__main__":
    main()
