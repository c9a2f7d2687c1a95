"""Last-touch attribution: the reminder that last reached a debtor before an event gives the
event its segment, channel, template and variant (within a window of days)."""

import bisect
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from bot import statuses
from bot.models import Conversation, Experiment, ExperimentVariant, Message, ScheduledMessage

CHUNK = 500
# A reminder counts as a contact once the gate let it go and it was not held back.
CONTACTED = (statuses.Reminder.QUEUED, statuses.Reminder.SENT, statuses.Reminder.FAILED)


@dataclass(frozen=True)
class Touch:
    at: object
    segment: str
    channel: str
    template_key: str
    variant_id: int

    def dims(self):
        return {
            "segment": self.segment,
            "channel": self.channel,
            "template_key": self.template_key,
            "variant_id": self.variant_id,
        }


class TemplateNames:
    """The template key a reminder is reported under: a variant's experiment key, so that a
    text or tone variant counts under the key it is a variant of."""

    def __init__(self, session):
        rows = session.execute(
            select(ExperimentVariant.id, Experiment.kind, Experiment.template_key).join(
                Experiment, Experiment.id == ExperimentVariant.experiment_id
            )
        )
        self.base = {vid: key for vid, kind, key in rows if kind == "template" and key}

    def __call__(self, key, variant_id):
        if variant_id and variant_id in self.base:
            return self.base[variant_id]
        return (key or "").split("~", 1)[0]


class Touches:
    """Reminders sent to a set of debtors in a time range, sorted per debtor."""

    def __init__(self, session, names=None):
        self.session = session
        self.names = names or TemplateNames(session)
        self.by_debtor = defaultdict(list)
        self.loaded = set()

    def load(self, debtor_ids, since, until):
        """Read the reminders of these debtors contacted in [since, until)."""
        wanted = sorted(set(debtor_ids) - self.loaded)
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            rows = self.session.execute(
                select(
                    ScheduledMessage.debtor_id,
                    ScheduledMessage.contacted_at,
                    ScheduledMessage.segment,
                    ScheduledMessage.template_key,
                    ScheduledMessage.variant_id,
                    Conversation.channel,
                )
                .join(Message, Message.id == ScheduledMessage.message_id)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(ScheduledMessage.debtor_id.in_(chunk))
                .where(ScheduledMessage.contacted_at >= since)
                .where(ScheduledMessage.contacted_at < until)
                .where(ScheduledMessage.status.in_(CONTACTED))
            )
            for debtor_id, at, segment, key, variant_id, channel in rows:
                self.by_debtor[debtor_id].append(
                    Touch(at, segment or "", channel, self.names(key, variant_id), variant_id or 0)
                )
            self.loaded.update(chunk)
        for debtor_id in wanted:
            self.by_debtor[debtor_id].sort(key=lambda t: t.at)
        return self

    def last(self, debtor_id, moment, days):
        """The last touch at or before moment, within days before it, or None."""
        touches = self.by_debtor.get(debtor_id)
        if not touches:
            return None
        i = bisect.bisect_right([t.at for t in touches], moment)
        if i == 0:
            return None
        touch = touches[i - 1]
        return touch if touch.at >= moment - timedelta(days=days) else None


def touch_dims(touch):
    """The dimensions an event takes from its last touch (none without one: the dashboard
    shows it as "no reminder")."""
    return touch.dims() if touch is not None else {}
