"""Documents after payments: how fast receipts and paz y salvos are issued (facts, signature,
PDF with an embedded font and a QR code, stored in the database), how big they are, and how fast
a verification URL is checked.

Each payment settles one generated account, so every payment gets a receipt and a paz y salvo,
through the same functions the issue_documents job calls; on a fresh migrated SQLite database.

    .venv/bin/python -m bench.documents [--payments 500]
"""

import argparse
import statistics
import tempfile
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=500)
    args = parser.parse_args()

    from bot import create_app
    from bot.db import session
    from bot.debts.imports import import_csv
    from bot.models import Account, Document
    from bot.payments import documents
    from bot.payments import reconcile as payments

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp}/bench.db", "APP_ENV": "test"})
        result = app.test_cli_runner().invoke(args=["db-upgrade"])
        assert result.exit_code == 0, result.output
        lines = ["external_id,full_name,phone,country,locale,currency,amount_due,due_date,id_last4"]
        for i in range(args.payments):
            lines.append(
                f"D-{i},José Ñúñez Güell {i},30{i:08d},CO,es-CO,COP,150000.00,2026-12-01,"
                f"{i % 10000:04d}"
            )
        with app.app_context():
            s = session()
            import_csv(s, ("\n".join(lines) + "\n").encode())
            paid = []
            for account in s.query(Account).all():
                paid.append(
                    payments.apply_payment(
                        s, account, account.balance_minor, "bench", f"b{account.id}"
                    )
                )
            s.commit()
            # Warm up: fonts registered, reportlab and segno imported (once per worker process).
            documents.receipt_for(s, paid[0])
            s.rollback()
            times, sizes = [], []
            start = time.perf_counter()
            for payment in paid:
                t0 = time.perf_counter()
                receipt = documents.receipt_for(s, payment)
                paz = documents.paz_y_salvo_for(s, s.get(Account, payment.account_id))
                s.commit()
                times.append(time.perf_counter() - t0)
                sizes += [receipt.file.size, paz.file.size]
            total = time.perf_counter() - start
            tokens = [documents.verify_url(d).rsplit("/", 1)[1] for d in s.query(Document).all()]
            t0 = time.perf_counter()
            genuine = sum(documents.verify(s, token) is not None for token in tokens)
            verify_seconds = time.perf_counter() - t0
        app.extensions["db"].engine.dispose()
    n = len(paid)
    per_doc = total / (2 * n) * 1000
    print(
        f"issued {2 * n} documents ({n} receipts, {n} paz y salvos) in {total:.1f} s: "
        f"{per_doc:.1f} ms per document, {2 * n / total:.0f} documents/s"
    )
    cuts = statistics.quantiles([t * 1000 for t in times], n=20)
    print(f"per payment (receipt + paz y salvo): p50 {cuts[9]:.1f} ms, p95 {cuts[18]:.1f} ms")
    median, largest = statistics.median(sizes) / 1024, max(sizes) / 1024
    print(f"PDF size: median {median:.1f} KiB, max {largest:.1f} KiB")
    each = verify_seconds * 1000 / len(tokens)
    print(f"verified {genuine}/{len(tokens)} URLs in {each:.2f} ms each")


if __name__ == "__main__":
    main()
