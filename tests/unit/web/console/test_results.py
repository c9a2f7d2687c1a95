"""The results dashboard, its CSV exports, prices and experiments through the console."""

import csv
import io
from datetime import date

import pytest
from sqlalchemy import select

from bot.analytics import rollup
from bot.models import AuditEvent, Experiment, MessagePrice
from tests.unit.analytics.conftest import NOW, build_march
from tests.unit.web.console.test_admin import sign_in

MARCH = "start=2026-03-01&end=2026-03-31"
TEXT = "Hola {first_name}, sin afán: {amount} ({reference}) venció el {due_date}. {url}"


@pytest.fixture
def admin_client(https, db):
    https.token = sign_in(https, db, "boss@example.com", "admin")
    return https


@pytest.fixture
def history(db):
    """The March history, rolled up for its first days only (what these pages need)."""
    build_march(db, rollup_days=(date(2026, 3, 1), date(2026, 3, 4)))
    for placed in (date(2026, 1, 1), date(2026, 2, 1)):  # the accounts' placement days
        rollup.rollup_day(db, placed, now=NOW)
    return db


def test_agents_cannot_see_results(https, db):
    sign_in(https, db, "ana@example.com", "agent")
    for path in ("/console/admin/results/", "/console/admin/results/export/funnel.csv",
                 "/console/admin/results/prices", "/console/admin/experiments/"):  # fmt: skip
        assert https.get(path).status_code == 403


def test_the_dashboard_in_spanish_with_its_numbers(admin_client, history):
    page = admin_client.get(
        f"/console/admin/results/?{MARCH}", headers={"Accept-Language": "es-CO,es;q=0.9"}
    )
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<html lang="es">' in text
    assert "Embudo de contacto" in text and "Tasa de respuesta" in text
    assert "data-chart=" in text and "vendor/chartjs/chart.umd.min.js" in text
    # Money in the user's locale: 1.500,00 COP due at the start of March (es).
    assert "1.500,00" in text
    csp = page.headers["Content-Security-Policy"]
    assert "script-src" not in csp and "default-src 'self'" in csp  # nothing loosened


def test_recovery_and_cost_say_they_are_not_split_by_a_segment(admin_client, history):
    def section(text, key):
        return text.split(f'id="section-{key}"')[1].split("</section>")[0]

    def table(text, key):
        return section(text, key).split("<table")[1].split("</table>")[0]

    late = admin_client.get(f"/console/admin/results/?{MARCH}&segment=late").get_data(as_text=True)
    whole = admin_client.get(f"/console/admin/results/?{MARCH}").get_data(as_text=True)
    for key in ("recovery", "cost"):
        assert "Not broken down by: Segment" in section(late, key)
        assert "Not broken down by" not in section(whole, key)
    assert table(late, "recovery") == table(whole, "recovery")
    assert "Not broken down by" not in section(late, "funnel")  # the funnel is split


def test_the_users_choice_beats_the_browser(admin_client, history):
    answer = admin_client.post(
        "/console/language",
        data={"lang": "en", "csrf_token": admin_client.token, "next": "/console/admin/results/"},
    )
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/results/")
    page = admin_client.get("/console/admin/results/", headers={"Accept-Language": "es"})
    assert '<html lang="en">' in page.get_data(as_text=True)
    assert "Contact funnel" in page.get_data(as_text=True)


@pytest.mark.parametrize(
    "query",
    ["start=2026-13-01", "start=2026-03-05&end=2026-03-01", "country=Colombia", "variant_id=x"],
)
def test_bad_filters_get_a_400_that_says_why(admin_client, history, query):
    assert admin_client.get(f"/console/admin/results/?{query}").status_code == 400


def test_csv_exports_are_exact_and_audited(admin_client, history, db):
    answer = admin_client.get(f"/console/admin/results/export/funnel.csv?{MARCH}")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert rows[0] == ["stage", "count", "share_of_contacted"]
    assert rows[1] == ["contacted", "2", "1.000000"]  # the two contacts of 2 March
    recovery = admin_client.get(f"/console/admin/results/export/recovery.csv?{MARCH}")
    lines = list(csv.reader(io.StringIO(recovery.get_data(as_text=True))))
    assert ["2026-03", "COP", "1500.00", "0.00", "400.00", "0.266667"] in lines
    assert admin_client.get("/console/admin/results/export/nope.csv").status_code == 404
    events = db.execute(select(AuditEvent).where(AuditEvent.action == "results.exported")).all()
    assert len(events) == 2


def test_prices_are_exact_and_audited(admin_client, db):
    answer = admin_client.post(
        "/console/admin/results/prices",
        data={
            "channel": "whatsapp",
            "currency": "cop",
            "price": "0.0125",
            "csrf_token": admin_client.token,
        },
    )
    assert answer.status_code == 302
    row = db.get(MessagePrice, ("whatsapp", "COP"))
    assert str(row.price) == "0.0125"
    bad = admin_client.post(
        "/console/admin/results/prices",
        data={
            "channel": "whatsapp",
            "currency": "COP",
            "price": "1e400",
            "csrf_token": admin_client.token,
        },
    )
    assert bad.status_code == 422
    assert db.execute(select(AuditEvent).where(AuditEvent.action == "price.set")).first()


def test_an_experiment_started_compared_and_promoted(admin_client, db, history):
    answer = admin_client.post(
        "/console/admin/experiments/",
        data={
            "csrf_token": admin_client.token,
            "name": "tono-calido",
            "kind": "template",
            "template_key": "reminder.overdue.friendly",
            "challenger_name": "calido",
            "challenger_share": "50",
            "text_es": TEXT,
        },
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    experiment = db.execute(select(Experiment)).scalar_one()
    assert experiment.variants[1].template_key == "reminder.overdue.friendly~calido"
    page = admin_client.get(
        f"/console/admin/results/?{MARCH}&template_key=reminder.overdue.friendly",
        headers={"Accept-Language": "es"},
    ).get_data(as_text=True)
    assert 'data-experiment="tono-calido"' in page and "Promover" in page
    promoted = admin_client.post(
        f"/console/admin/experiments/{experiment.id}/promote",
        data={"csrf_token": admin_client.token, "variant_id": experiment.variants[1].id,
              "start": "2026-03-01", "end": "2026-03-31"},
    )  # fmt: skip
    assert promoted.status_code == 302
    db.expire_all()
    assert experiment.status == "promoted" and experiment.winner_variant_id
    event = db.execute(
        select(AuditEvent).where(AuditEvent.action == "experiment.promoted")
    ).scalar_one()
    assert event.actor.startswith("admin:") and "calido" in event.data["evidence"]


def test_a_bad_experiment_is_refused_with_the_reasons(admin_client, db):
    answer = admin_client.post(
        "/console/admin/experiments/",
        data={"csrf_token": admin_client.token, "name": "x", "kind": "template",
              "template_key": "reminder.overdue.friendly", "challenger_share": "150"},
    )  # fmt: skip
    assert answer.status_code == 422
    assert db.execute(select(Experiment)).first() is None


def test_recompute_now_asks_for_the_job(admin_client, history, app):
    from rq import Queue

    from bot.redis import redis_conn

    with app.app_context():
        answer = admin_client.post(
            "/console/admin/results/recompute",
            data={"csrf_token": admin_client.token, "next": "/console/admin/results/"},
        )
        assert answer.status_code == 302
        jobs = Queue("maintenance", connection=redis_conn()).jobs
    assert [job.func_name for job in jobs] == ["bot.tasks.jobs.analytics_rollup"]


def test_the_rollup_job_runs_from_the_queue(app, history):
    from bot.tasks import jobs

    jobs.set_job_app(app)
    with app.app_context():
        assert jobs.analytics_rollup() > 0
