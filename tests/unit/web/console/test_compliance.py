"""The compliance pages of the admin console: rules with sources, holidays, audited downloads."""

import pytest
from sqlalchemy import select

from bot.models import AuditEvent, HolidayOverride
from tests.unit.web.console.test_admin import csrf, sign_in


@pytest.fixture
def admin_client(https, db):
    https.token = sign_in(https, db, "boss@example.com", "admin")
    return https


def test_agents_cannot_reach_the_compliance_pages(https, db):
    sign_in(https, db, "ana@example.com", "agent")
    for path in ("/console/admin/compliance/", "/console/admin/compliance/register"):
        assert https.get(path).status_code == 403


def test_the_rules_page_shows_each_country_with_its_sources(admin_client):
    page = admin_client.get("/console/admin/compliance/").get_data(as_text=True)
    assert 'id="pack-PE"' in page and "Ley 29571" in page
    assert "mon 07:00-20:00" in page  # Peru: working days only
    assert "law:co.channels_authorised" in page
    assert "(verify)" in page  # provisions known from memory are flagged


def test_downloads_are_csv_and_audited(admin_client, db, demo_debtors):
    response = admin_client.get("/console/admin/compliance/register")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "consent-register" in response.headers["Content-Disposition"]
    log = admin_client.get("/console/admin/compliance/contact-log?debtor=DEMO-CO-001")
    assert log.status_code == 200 and log.get_data(as_text=True).startswith("at_utc")
    missing = admin_client.get("/console/admin/compliance/contact-log?debtor=nobody")
    assert missing.status_code == 302
    report = admin_client.get("/console/admin/compliance/weekly-report?week=2026-W49")
    assert report.status_code == 200
    bad = admin_client.get("/console/admin/compliance/weekly-report?week=nope")
    assert bad.status_code == 302
    audited = db.execute(
        select(AuditEvent.subject_type, AuditEvent.actor).where(
            AuditEvent.action == "compliance.exported"
        )
    ).all()
    assert sorted(t for t, _a in audited) == ["consent_records", "contact_events", "weekly_report"]
    assert len({actor for _t, actor in audited}) == 1  # the signed-in admin


def test_admins_edit_the_holiday_calendar(admin_client, db):
    token = csrf(admin_client, "/console/admin/compliance/")
    response = admin_client.post(
        "/console/admin/compliance/holidays",
        data={
            "csrf_token": token,
            "country": "ar",
            "day": "2026-12-07",
            "action": "add",
            "reason": "Día no laborable (JGM 164/2025)",
        },
    )
    assert response.status_code == 303
    row = db.execute(select(HolidayOverride)).scalar_one()
    assert (row.country, row.action) == ("AR", "add")
    bad = admin_client.post(
        "/console/admin/compliance/holidays",
        data={"csrf_token": token, "country": "AR", "day": "tomorrow", "reason": "x"},
    )
    assert bad.status_code == 303  # back to the page with the reason, nothing stored
    assert db.execute(select(HolidayOverride)).scalars().all() == [row]
    page = admin_client.get("/console/admin/compliance/").get_data(as_text=True)
    assert "Día no laborable" in page and "not a date" in page
    admin_client.post(
        f"/console/admin/compliance/holidays/{row.id}/delete", data={"csrf_token": token}
    )
    db.expire_all()
    assert db.execute(select(HolidayOverride)).scalars().all() == []
    without_token = admin_client.post(
        "/console/admin/compliance/holidays", data={"country": "AR", "day": "2026-12-07"}
    )
    assert without_token.status_code in (400, 403)
