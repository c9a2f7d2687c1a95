"""The compliance commands: packs with their sources, records as CSV, the holiday calendar."""

from sqlalchemy import select

from bot.models import AuditEvent, HolidayOverride


def test_packs_list_each_setting_with_its_provisions(app):
    output = app.test_cli_runner().invoke(args=["compliance", "packs", "--country", "PE"]).output
    assert "PE Perú (PE@2026.12)" in output
    assert "skip_holidays = True  <- pe.hours_days" in output
    assert "Ley 29571" in output and "conservative_reading" in output


def test_records_are_exported_and_the_export_audited(app, db, demo_debtors, tmp_path):
    runner = app.test_cli_runner()
    out = tmp_path / "register.csv"
    result = runner.invoke(args=["compliance", "register", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("recorded_at_utc,debtor_id")
    log = runner.invoke(args=["compliance", "contact-log", "DEMO-CO-001"])
    assert log.exit_code == 0 and log.output.startswith("at_utc,debtor_id")
    assert runner.invoke(args=["compliance", "contact-log", "nobody"]).exit_code != 0
    report = runner.invoke(args=["compliance", "weekly-report", "--week", "2026-W49"])
    assert report.exit_code == 0 and report.output.startswith("week,country")
    assert runner.invoke(args=["compliance", "weekly-report", "--week", "soon"]).exit_code != 0
    exported = db.execute(
        select(AuditEvent.subject_type).where(AuditEvent.action == "compliance.exported")
    ).scalars()
    assert sorted(exported) == ["consent_records", "contact_events", "weekly_report"]


def test_the_holiday_calendar_is_edited_from_the_command_line(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["compliance", "holiday-set", "AR", "2026-12-07", "--reason", "JGM 164/2025"]
    )
    assert result.exit_code == 0, result.output
    listing = runner.invoke(
        args=["compliance", "holidays", "AR", "--year", "2026", "--region", "C"]
    )
    assert "2026-12-07 Mon (creditor)" in listing.output and "2026-12-08" in listing.output
    assert db.execute(select(HolidayOverride)).scalar_one().created_by == "cli"
    bad = runner.invoke(args=["compliance", "holiday-set", "AR", "someday", "--reason", "x"])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output


def test_a_purge_inside_the_retention_is_refused(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["compliance", "purge", "--before", "2999-01-01"])
    assert result.exit_code != 0 and "kept 3 years" in result.output
