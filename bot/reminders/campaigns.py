"""One-off campaigns: a message to every collectible account (of one segment, if given),
planned like reminders and sent through the same gate."""

from datetime import timedelta

from flask import current_app

from bot.clock import utcnow
from bot.models import Account, TemplateKey
from bot.money import money_var
from bot.reminders.planning import (
    PlanReport,
    account_stats,
    first_name,
    insert_ignore,
    scheduled_row,
    stream,
)
from bot.reminders.segments import ReminderError, load_segments, segment_for, stats_of


def schedule_campaign(
    session, name, template_key, segment=None, now=None, batch=None, dry_run=False
):
    """Plan a one-off message to every collectible account (of one segment, if given)."""
    now = now or utcnow()
    batch = batch or current_app.config["REMINDER_BATCH"]
    if session.get(TemplateKey, template_key) is None:
        raise ReminderError(f"unknown template key {template_key!r}")
    segments = load_segments(session)
    if segment and segment not in {s.name for s in segments}:
        raise ReminderError(f"unknown or inactive segment {segment!r}")
    max_delay = timedelta(hours=current_app.config["REMINDER_MAX_DELAY_HOURS"])
    today = now.date()
    report = PlanReport()
    for rows in stream(session, account_stats(), Account.id, batch):
        report.accounts += len(rows)
        new = []
        for r in rows:
            stats = stats_of(r, today)
            chosen = segment_for(segments, stats, r.label)
            if segment and (chosen is None or chosen.name != segment):
                continue
            variables = {
                "first_name": first_name(r.full_name),
                "reference": r.external_id,
                "amount": money_var(r.balance_minor, r.currency),
                "due_date": r.due_date.isoformat(),
                "days_overdue": max(stats["days_overdue"], 0),
            }
            new.append(
                scheduled_row(
                    r,
                    f"campaign:{name}",
                    today,
                    chosen.name if chosen else None,
                    template_key,
                    variables,
                )
                | {"due_at": now, "expires_at": now + max_delay, "next_step": None}
            )
        report.planned += len(new) if dry_run else insert_ignore(session, new)
        report.by_segment[segment or "all"] = report.planned
        session.commit()
    return report
