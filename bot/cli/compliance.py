"""Compliance records and rules: the packs with their sources, a debtor's contact log, the weekly
report, the consent register (CSV), the creditor's holiday calendar and the retention purge."""

import sys
from datetime import date, datetime

import click
from flask.cli import with_appcontext

from bot.contact import calendar, records, rules
from bot.db import session


def _write(chunks, out):
    """CSV chunks to a file (or stdout)."""
    if out:
        with open(out, "w", encoding="utf-8", newline="") as fh:
            for chunk in chunks:
                fh.write(chunk)
        click.echo(f"written to {out}", err=True)
        return
    for chunk in chunks:
        sys.stdout.write(chunk)


def _audit_export(s, what, data):
    from bot.models import AuditEvent

    s.add(
        AuditEvent(
            actor="cli", action="compliance.exported", subject_type=what, subject_id="*", data=data
        )
    )
    s.commit()


@click.group("compliance")
def compliance_group():
    """Country packs, contact logs, the weekly report, the consent register, holidays."""


@compliance_group.command("packs")
@with_appcontext
@click.option("--country", help='Only this country\'s pack ("*" for the default).')
def packs_command(country):
    """Each pack's settings and the provisions behind them (law, effective date, reading)."""
    for code, pack in sorted(rules.packs().items()):
        if country and code != country.upper() and code != country:
            continue
        legal = pack.legal(date.max)
        click.echo(f"{code} {pack.name} ({pack.tag}) zones={', '.join(pack.zones) or '-'}")
        for setting, ids in sorted(legal.sources.items()):
            click.echo(f"  {setting} = {getattr(legal, setting)!r}  <- {ids}")
        for rule in pack.rules:
            flag = "  VERIFY" if rule.verify else ""
            effective = rule.effective.isoformat() if rule.effective else "unknown"
            click.echo(
                f"  [{rule.id}] {rule.law} (in force {effective}; {rule.kind}, {rule.basis}){flag}"
            )


@compliance_group.command("contact-log")
@with_appcontext
@click.argument("debtor")
@click.option("--out", type=click.Path(dir_okay=False), help="CSV file (default: stdout).")
def contact_log_command(debtor, out):
    """A debtor's contact log as CSV (DEBTOR: id, E.164 phone or an account's external id)."""
    s = session()
    found = records.find_debtor(s, debtor)
    if found is None:
        raise click.BadParameter(f"no debtor {debtor!r}")
    _audit_export(s, "contact_events", {"debtor_id": found.id})
    _write(records.to_csv(records.contact_log(s, found.id), records.LOG_COLUMNS), out)


@compliance_group.command("weekly-report")
@with_appcontext
@click.option("--week", help="ISO week, e.g. 2026-W49 (default: last week).")
@click.option("--out", type=click.Path(dir_okay=False))
def weekly_report_command(week, out):
    """Contacts per country and channel in a week, against each country's rule (CSV)."""
    try:
        monday = records.week_start(week)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    s = session()
    _audit_export(s, "weekly_report", {"week": f"{monday:%G-W%V}"})
    _write(records.to_csv(records.weekly_report(s, monday), records.REPORT_COLUMNS), out)


@compliance_group.command("register")
@with_appcontext
@click.option("--out", type=click.Path(dir_okay=False))
def register_command(out):
    """The opt-out and consent register, with each record's evidence (CSV)."""
    s = session()
    _audit_export(s, "consent_records", {})
    _write(records.to_csv(records.register(s), records.REGISTER_COLUMNS), out)


@compliance_group.command("holidays")
@with_appcontext
@click.argument("country")
@click.option("--year", type=int, help="Default: this year.")
@click.option("--region", help="A subdivision (US state, CL region, AR province).")
def holidays_command(country, year, region):
    """The days a country's debtors are not written to: the library's and the creditor's."""
    from bot.clock import utcnow

    s = session()
    year = year or utcnow().year
    country = country.upper()
    table = rules.load_rules(s)
    pack = table.pack(country)
    cal = calendar.calendar_for(pack, country, region, calendar.load_overrides(s))
    day = date(year, 1, 1)
    while day.year == year:
        if cal.is_holiday(day):
            mark = " (creditor)" if day in cal.added else ""
            click.echo(f"{day.isoformat()} {day:%a}{mark}")
        day = date.fromordinal(day.toordinal() + 1)
    for removed in sorted(cal.removed):
        if removed.year == year:
            click.echo(f"{removed.isoformat()} removed by the creditor")
    click.echo(f"holidays {calendar.LIBRARY_VERSION}; subdivision: {cal.subdivision or 'none'}")


@compliance_group.command("holiday-set")
@with_appcontext
@click.argument("country")
@click.argument("day")
@click.option("--reason", required=True, help="Why (e.g. the decree that declared the day).")
@click.option("--remove", is_flag=True, help="Take the day off the calendar instead.")
@click.option("--subdivision", help="Only in this subdivision.")
def holiday_set_command(country, day, reason, remove, subdivision):
    """Add a day to (or remove one from) a country's calendar for the creditor's debtors."""
    s = session()
    try:
        calendar.set_override(
            s, country, day, "remove" if remove else "add", reason, "cli", subdivision
        )
    except calendar.CalendarError as exc:
        raise click.BadParameter(str(exc)) from None
    s.commit()
    click.echo(f"{country.upper()} {day}: {'removed' if remove else 'added'}")


@compliance_group.command("purge")
@with_appcontext
@click.option("--before", required=True, help="Delete contact-log rows older than this date.")
def purge_command(before):
    """Delete old contact-log rows; refuses anything younger than the packs' retention."""
    try:
        moment = datetime.combine(date.fromisoformat(before), datetime.min.time())
    except ValueError:
        raise click.BadParameter(f"{before!r} is not a date as YYYY-MM-DD") from None
    s = session()
    try:
        count = records.purge(s, moment, rules.packs(), "cli")
    except records.RetentionError as exc:
        raise click.BadParameter(str(exc)) from None
    s.commit()
    click.echo(f"{count} contact-log row(s) deleted")
