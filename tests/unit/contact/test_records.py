"""The records: a debtor's contact log, the weekly report against each rule, the register, and
retention."""

import csv
import io
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.contact import packs, preferences, records
from bot.models import AuditEvent, ContactEvent, Debtor
from bot.reminders import dispatching, planning
from tests.unit.reminders.test_reminders import NOW, camila


def parse(chunks):
    return list(csv.DictReader(io.StringIO("".join(chunks))))


def test_the_contact_log_of_a_debtor(db, demo_debtors):
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    debtor = camila(db)
    assert records.find_debtor(db, "DEMO-CO-001").id == debtor.id
    assert records.find_debtor(db, debtor.phone).id == debtor.id
    assert records.find_debtor(db, str(debtor.id)).id == debtor.id
    assert records.find_debtor(db, "nobody") is None
    rows = parse(records.to_csv(records.contact_log(db, debtor.id), records.LOG_COLUMNS))
    [queued] = rows
    assert (queued["decision"], queued["at_utc"]) == ("queued", "2026-11-17T15:00:00Z")
    assert queued["local_times"] == "America/Bogota 2026-11-17 10:00 -0500"
    # Never verified on this number: the discreet text, its version on record.
    assert (queued["template_key"], queued["template_version"]) == ("reminder.discreet", "1")
    assert queued["pack"] == "CO@2026.12" and queued["channel"] == "sms"


def _sent(db, debtor, at, channel="sms"):
    db.add(
        ContactEvent(at=at, debtor_id=debtor.id, purpose="reminder", action="sent", channel=channel)
    )


def test_the_weekly_report_holds_each_country_to_its_rule(db, demo_debtors):
    debtor = camila(db)
    chile = db.execute(select(Debtor).where(Debtor.country == "CL")).scalar_one()
    # Week 49 of 2026 starts on Monday 30 November.
    _sent(db, debtor, datetime(2026, 11, 30, 15, 0), "whatsapp")
    _sent(db, debtor, datetime(2026, 12, 1, 15, 0), "sms")  # a second channel in a week
    _sent(db, debtor, datetime(2026, 12, 1, 20, 0), "sms")  # a second one that day
    _sent(db, chile, datetime(2026, 12, 1, 15, 0))
    _sent(db, chile, datetime(2026, 12, 2, 15, 0))  # 24 h: Chile asks 48
    _sent(db, chile, datetime(2026, 12, 4, 2, 0))  # 23:00 in Santiago, 35 h later
    db.commit()
    report = {
        (r["country"], r["channel"]): r
        for r in parse(
            records.to_csv(records.weekly_report(db, date(2026, 11, 30)), records.REPORT_COLUMNS)
        )
    }
    co = report["CO", "all"]
    assert (co["week"], co["contacts"], co["debtors"]) == ("2026-W49", "3", "1")
    assert (co["max_per_debtor_day"], co["limit_per_day"], co["debtors_over_day"]) == (
        "2",
        "1",
        "1",
    )
    assert (co["debtors_on_several_channels"], co["limit_channels_per_week"]) == ("1", "1")
    assert report["CO", "sms"]["contacts"] == "2"
    cl = report["CL", "all"]
    assert (cl["max_per_debtor_week"], cl["limit_per_week"], cl["debtors_over_week"]) == (
        "3",
        "2",
        "1",
    )
    assert cl["min_gap_breaches"] == "2" and cl["outside_allowed_hours"] == "1"
    assert records.week_start("2026-W49") == date(2026, 11, 30)
    assert records.week_start(today=date(2026, 12, 9)) == date(2026, 11, 30)
    with pytest.raises(ValueError):
        records.week_start("last week")


def test_the_register_keeps_the_evidence(db, demo_debtors):
    preferences.record_opt_out(db, camila(db), "whatsapp", "debtor", words="=no mas")
    db.commit()
    rows = parse(records.to_csv(records.register(db), records.REGISTER_COLUMNS))
    stop = [r for r in rows if r["action"] == "revoked"]
    assert stop[0]["evidence"] == "'=no mas"  # inert in a spreadsheet
    granted = [r for r in rows if r["action"] == "granted"]
    assert granted and granted[0]["method"] == "import" and "cláusula 12" in granted[0]["evidence"]


def test_nothing_younger_than_the_retention_is_purged(db, demo_debtors):
    debtor = camila(db)
    now = datetime(2030, 6, 1)
    _sent(db, debtor, now - timedelta(days=365 * 4))
    _sent(db, debtor, now - timedelta(days=365 * 2))
    db.commit()
    built_in = packs.load_packs(None)
    assert records.retention_years(built_in) == 3
    with pytest.raises(records.RetentionError):
        records.purge(db, now - timedelta(days=365 * 2), built_in, "cli", now=now)
    assert records.purge(db, now - timedelta(days=365 * 3 + 1), built_in, "cli", now=now) == 1
    db.commit()
    assert db.execute(select(func.count()).select_from(ContactEvent)).scalar() == 1
    assert (
        db.execute(select(AuditEvent).where(AuditEvent.action == "compliance.purged"))
        .scalar_one()
        .data["rows"]
        == 1
    )
