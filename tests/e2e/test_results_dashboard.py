"""An admin opens the results dashboard in Spanish (Debian's Chromium), filters by template,
reads the champion/challenger comparison and downloads a CSV; a screenshot is kept."""

import csv
import io
from datetime import date, datetime, timedelta

import pytest

from bot import create_app
from bot.db import session as db_session
from bot.experiments import variants
from tests.unit.analytics.conftest import build_march
from tests.unit.analytics.history import History, utc

pytestmark = pytest.mark.e2e

PASSWORD = "results password 123"
KEY = "reminder.overdue.friendly"
WARM = "Hola {first_name}, sin afán: {amount} ({reference}) venció el {due_date}. {url}"


@pytest.fixture(scope="module")
def history(stack):
    """The hand-built March history plus an experiment whose challenger got more replies, in
    the stack's database; then the daily job, as the CLI runs it."""
    app = create_app(
        {"DATABASE_URL": stack.env["DATABASE_URL"], "REDIS_URL": stack.env["REDIS_URL"],
         "APP_ENV": "test"}
    )  # fmt: skip
    with app.app_context():
        s = db_session()
        build_march(s, rollup_days=None)  # the rows only: the CLI computes the aggregates
        key = variants.add_text_variant(s, KEY, "calido", {"es": WARM}, None)
        experiment = variants.create(
            s, "tono-calido-e2e", "template",
            [{"name": "champion", "share": 50, "is_control": True},
             {"name": "calido", "share": 50, "template_key": key}],
            None, template_key=KEY,
        )  # fmt: skip
        s.commit()
        h = History(s)
        h.count = 500
        champion, warm = experiment.variants
        for i in range(80):
            variant = warm if i % 2 else champion
            account = h.debtor(f"Prueba {i}", 90_000, date(2026, 3, 1), utc(date(2026, 2, 1)))
            at = utc(date(2026, 3, 2 + i % 20))
            h.contact(account, at, "default", variant.template_key or KEY, variant_id=variant.id)
            if (i % 2 and i % 5 != 1) or i % 8 == 0:  # 32 of 40 warm, 10 of 40 champion reply
                h.reply(account, at + timedelta(hours=1))
        s.commit()
    app.extensions["db"].engine.dispose()
    stack._run("analytics-rollup", "--since", "2026-01-01", "--until", "2026-04-30")
    stack._run("create-user", "jefa@example.com", "--role", "admin", "--password", PASSWORD)
    yield experiment.name
    with app.app_context():  # later tests plan reminders of this key: no variant for them
        s = db_session()
        variants.stop(s, s.get(type(experiment), experiment.id), None)
        s.commit()
    app.extensions["db"].engine.dispose()


@pytest.fixture
def spanish_page(browser):
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="es-CO", accept_downloads=True
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.problems = []
    # Script errors and CSP refusals reach the console; failed requests are checked by URL
    # (the browser's own /favicon.ico request is not the page's).
    page.on(
        "console",
        lambda m: (
            m.type == "error"
            and not m.text.startswith("Failed to load resource")
            and page.problems.append(m.text)
        ),
    )
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.on(
        "response",
        lambda r: (
            r.status >= 400
            and not r.url.endswith("/favicon.ico")
            and page.problems.append(f"{r.status} {r.url}")
        ),
    )
    yield page
    context.close()


def test_admin_reads_the_dashboard_in_spanish_and_exports_it(
    stack, history, spanish_page, tmp_path
):
    page = spanish_page
    page.goto(stack.base_url + "/console/login")
    assert page.locator("h1").inner_text() == "Iniciar sesión"
    page.fill("#email", "jefa@example.com")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.click("#nav-results")
    page.wait_for_selector("h2:has-text('Embudo de contacto')")

    page.fill("#f-start", "2026-03-01")
    page.fill("#f-end", "2026-03-31")
    page.click("#apply-filters")
    page.wait_for_url("**start=2026-03-01**")
    page.select_option("#f-template_key", KEY)
    page.click("#apply-filters")
    page.wait_for_url(f"**template_key={KEY}**")

    comparison = page.locator(f"table[data-experiment='{history}']")
    comparison.wait_for()
    text = comparison.inner_text()
    assert "calido" in text and "champion" in text and "control" in text
    assert "significativamente mejor" in text  # 32 of 40 replies against 10 of 40
    assert "Promover" in text
    funnel = page.locator("#section-funnel table").inner_text()
    assert "Contactados" in funnel and "Respondieron" in funnel
    # The charts are drawn by the app's own Chart.js under the strict CSP: no console errors.
    assert page.evaluate("() => Object.keys(Chart.instances).length") >= 5
    assert page.problems == []

    with page.expect_download() as download:
        page.click("#csv-funnel")
    saved = tmp_path / "funnel.csv"
    download.value.save_as(saved)
    rows = list(csv.reader(io.StringIO(saved.read_text())))
    assert rows[0] == ["stage", "count", "share_of_contacted"]
    counts = {row[0]: int(row[1]) for row in rows[1:]}
    assert counts["contacted"] == 82  # Ana's first reminder, Beto's, and the 80 of the test
    assert counts["replied"] == 43  # and Ana's reply

    shot = tmp_path / f"dashboard-es-{datetime.now():%H%M%S}.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"dashboard screenshot: {shot}")
    assert shot.stat().st_size > 50_000
