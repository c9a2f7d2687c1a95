"""A small campaign through the real stack: the flask CLI plans and gates it, real RQ workers
send it through the shared Redis rate limit with the real twilio client to the local
Twilio-compatible server, whose status callbacks come back through the real web app.

Rasa is not needed for proactive messages, so this stack starts without it (and fast).
"""

import json
import re
import subprocess
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import create_engine, text

from bot.testing import wait_for
from bot.testing.stack import BIN, ROOT, Stack

SID = "HX" + "e" * 32
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Far-off due dates: no cadence step fires for these debtors, only the campaign. Every row
# authorises WhatsApp and SMS (Colombia's pack uses only authorised channels).
HEADER = (
    "external_id,full_name,phone,country,locale,currency,amount_due,due_date,id_last4,email,segment"
    ",consent_whatsapp,consent_sms,consent_at,consent_evidence"
)
CONSENT = ",yes,yes,2025-06-01,contract clause 12"
CSV = (
    HEADER
    + f"""
REM-CO-1,Ana Template,3015550301,CO,es-CO,COP,120000.00,2027-06-01,0301,,e2e_campaign{CONSENT}
REM-CO-2,Beto Sms,3015550302,CO,es-CO,COP,80000.00,2027-06-01,0302,,e2e_campaign{CONSENT}
REM-CO-3,Carla Agent,3015550303,CO,es-CO,COP,50000.00,2027-06-01,0303,,e2e_campaign{CONSENT}
REM-US-1,Dan Closed,+13125550304,US,en-US,USD,99.00,2027-06-01,0304,,e2e_campaign{CONSENT}
REM-CO-5,Eva Refused,3015550305,CO,es-CO,COP,70000.00,2027-06-01,0305,,e2e_campaign{CONSENT}
REM-CO-6,Fer Wrong,3015550306,CO,es-CO,COP,60000.00,2027-06-01,0306,,e2e_campaign{CONSENT}
REM-CO-7,Gil Late,3015550307,CO,es-CO,COP,65000.00,2027-06-01,0307,,e2e_campaign{CONSENT}
REM-CO-8,Other Segment,3015550308,CO,es-CO,COP,65000.00,2027-06-01,0308,,someone_else{CONSENT}
"""
)
# The law's hours would make the outcome depend on when the test runs: this stack replaces the
# Colombian and US packs (CONTACT_PACKS_DIR, the seam for other countries' packs) with packs
# open at every hour; the creditor's policy (rule-set) then decides. Consent stays required.
TEST_PACK = """
country: {country}
name: {country} (e2e, open at every hour)
version: e2e
zones: [{zone}]
holidays: {{calendar: {country}, subdivisions: none}}
gate:
  consent_required: {consent}
  opt_out_line_required: {line}
implements: {{}}
rules:
  - {{id: e2e, law: none (test), kind: practice, basis: general_knowledge, summary: test}}
"""


class ReminderStack(Stack):
    """redis-server, the web app under gunicorn, RQ workers and the fake Twilio; no Rasa."""

    def start(self):
        self.start_base()
        self._spawn(
            "web",
            [
                str(BIN / "gunicorn"),
                "--bind",
                f"127.0.0.1:{self.ports['web']}",
                "--threads",
                "4",
                "bot:create_app()",
            ],
        )
        self._wait(lambda: requests.get(self.base_url + "/healthz", timeout=1).ok, "web")
        return self

    def flask(self, *args):
        result = subprocess.run(
            [str(BIN / "flask"), *args], cwd=ROOT, env=self.env, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def sql(self, statement, *params):
        """Run one statement on the stack's database (SQLite or PostgreSQL), `?` placeholders."""
        numbers = iter(range(len(params)))
        statement = re.sub(r"\?", lambda _: f":p{next(numbers)}", statement)
        engine = create_engine(self.env["DATABASE_URL"], future=True)
        try:
            with engine.begin() as conn:
                result = conn.execute(text(statement), {f"p{i}": p for i, p in enumerate(params)})
                return result.all() if result.returns_rows else []
        finally:
            engine.dispose()


def as_dict(data):
    """A JSON column's value: parsed by PostgreSQL's driver, text from SQLite."""
    return data if isinstance(data, dict) else json.loads(data)


def as_datetime(value):
    """A timestamp column's value: a datetime from PostgreSQL's driver, text from SQLite."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, stack_database):
    packs = tmp_path_factory.mktemp("packs")
    for country, zone, consent, line in (
        ("CO", "America/Bogota", "true", "false"),
        ("US", "America/Chicago", "false", "true"),
    ):
        text = TEST_PACK.format(country=country, zone=zone, consent=consent, line=line)
        (packs / f"{country}.yml").write_text(text, encoding="utf-8")
    s = ReminderStack(
        tmp_path_factory.mktemp("reminders"),
        workers=2,
        database_url=stack_database(),
        extra_env={
            "REMINDER_TICK": "1",
            "REMINDER_REQUEUE_AFTER": "3",
            "SEND_RATE_PER_SECOND": "4",
            "CONTACT_PACKS_DIR": str(packs),
        },
    )
    try:
        s.start()
    except Exception:
        s.stop()
        raise
    yield s
    s.stop()


def scheduled(stack):
    rows = stack.sql(
        "SELECT a.external_id, s.status, s.reason, s.channel FROM scheduled_messages s "
        "JOIN accounts a ON a.id = s.account_id WHERE s.step = 'campaign:e2e'"
    )
    return {ext: (status, reason, channel) for ext, status, reason, channel in rows}


def test_campaign_through_the_real_worker(stack, tmp_path):
    csv = tmp_path / "debtors.csv"
    csv.write_text(CSV, encoding="utf-8")
    stack.flask("import-debts", str(csv))
    # Admin edits through the CLI: a segment the label picks, the approved template, and
    # contact rules that make the outcome independent of the hour the test runs at.
    stack.flask(
        "reminders", "segment-set", "e2e_campaign", "--criteria", '{"min_days_overdue": 99999}'
    )
    stack.flask(
        "reminders",
        "template-sid",
        "reminder.due.friendly",
        SID,
        "--variables",
        '{"1": "first_name", "2": "amount"}',
    )
    always = json.dumps({d: ["00:00", "24:00"] for d in DAYS})
    stack.flask("reminders", "rule-set", "CO", "--hours", always, "--contact-on-holidays")
    # The US is open only on the day after tomorrow (in Chicago, this debtor's zone).
    later = DAYS[(datetime.now(ZoneInfo("America/Chicago")).weekday() + 2) % 7]
    stack.flask("reminders", "rule-set", "US", "--hours", json.dumps({later: ["00:00", "24:00"]}))
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    stack.sql("UPDATE debtors SET opted_out_whatsapp_at = ? WHERE phone = '+573015550302'", now)
    # An agent holds Carla's conversation (a disputed account is not even planned).
    stack.sql(
        "INSERT INTO conversations (channel, address, debtor_id, state, verification_failures,"
        " needs_agent, created_at, updated_at) SELECT 'whatsapp', phone, id, 'agent', 0, TRUE,"
        " ?, ? FROM debtors WHERE phone = '+573015550303'",
        now,
        now,
    )
    stack.sql("UPDATE debtors SET wrong_number_at = ? WHERE phone = '+573015550306'", now)
    # They all verified once on their number (Carla too): reminders carry the full text.
    stack.sql(
        "INSERT INTO conversations (channel, address, debtor_id, state, verification_failures,"
        " needs_agent, bot_paused, verified_at, created_at, updated_at) SELECT 'sms', phone, id,"
        " 'bot', 0, FALSE, FALSE, ?, ?, ? FROM debtors WHERE phone LIKE '+5730155503%'"
        " OR phone = '+13125550304'",
        now,
        now,
        now,
    )
    stack.twilio.refuse["whatsapp:+573015550305"] = (400, 63016)  # refused on the API call
    stack.twilio.fail_later["whatsapp:+573015550307"] = "63016"  # failed in the callback

    # Workers are down while the campaign is planned and enqueued, and Redis then loses the
    # queue: the database still knows what is queued, and the workers' tick re-enqueues it.
    output = stack.flask(
        "campaign",
        "run",
        "--name",
        "e2e",
        "--template",
        "reminder.due.friendly",
        "--segment",
        "e2e_campaign",
    )
    assert "7 reminder(s) planned" in output
    assert "4 queued, 2 deferred, 1 suppressed" in output
    stack.redis.flushdb()
    for i in range(stack.n_workers):
        stack.start_worker(i)

    twilio = stack.twilio
    # Generous: the queue is rebuilt by the workers' tick, and on a loaded machine the 63016
    # callback, its hook and the SMS fallback take several ticks.
    SLOW = 90
    ana = twilio.wait_for("whatsapp:+573015550301", 1, timeout=SLOW)
    assert [m["content_sid"] for m in ana] == [SID]
    variables = json.loads(ana[0]["content_variables"])
    assert variables["1"] == "Ana" and "120.000" in variables["2"]
    assert ana[0]["body"] is None  # Twilio fills an approved template's text itself
    beto = twilio.wait_for("+573015550302", 1, timeout=SLOW)
    assert "Beto" in beto[0]["body"] and "/pay/" in beto[0]["body"]
    eva = twilio.wait_for("+573015550305", 1, timeout=SLOW)  # 63016 on the API call -> SMS
    gil = twilio.wait_for("+573015550307", 1, timeout=SLOW)  # 63016 in the callback -> SMS
    assert "Eva" in eva[0]["body"] and "Gil" in gil[0]["body"]

    final = wait_for(
        lambda: (s := scheduled(stack)) and all(v[0] != "queued" for v in s.values()) and s
    )
    assert final == {
        "REM-CO-1": ("sent", None, "whatsapp"),
        "REM-CO-2": ("sent", None, "sms"),
        "REM-CO-3": ("deferred", "agent_held", None),  # waits for the agent's hand-back
        "REM-US-1": ("deferred", "closed_day", None),
        "REM-CO-5": ("sent", "fallback:63016", "sms"),
        "REM-CO-6": ("suppressed", "wrong_number", None),
        "REM-CO-7": ("sent", "fallback:63016", "sms"),
    }
    # Nothing reached the blocked, deferred or unselected debtors; nothing went twice.
    stack.settled()
    reached = [m["to"] for m in twilio.messages]
    assert sorted(reached) == [  # a refused create (63016 on the API call) is not recorded
        "+573015550302",
        "+573015550305",
        "+573015550307",
        "whatsapp:+573015550301",
        "whatsapp:+573015550307",
    ]
    # The decisions and their reasons are in the audit log.
    audit = stack.sql(
        "SELECT action, data FROM audit_events WHERE action LIKE 'reminder.%' ORDER BY id"
    )
    reasons = {(action, as_dict(data).get("reason")) for action, data in audit}
    assert {
        ("reminder.deferred", "closed_day"),
        ("reminder.deferred", "agent_held"),
        ("reminder.suppressed", "wrong_number"),
    } <= reasons
    assert [a for a, _ in audit].count("reminder.fallback") == 2
    deferred_until = stack.sql(
        "SELECT due_at FROM scheduled_messages s JOIN accounts a ON a.id = s.account_id "
        "WHERE a.external_id = 'REM-US-1'"
    )[0][0]
    local = (
        as_datetime(deferred_until)
        .replace(tzinfo=timezone.utc)
        .astimezone(ZoneInfo("America/Chicago"))
    )
    assert DAYS[local.weekday()] == later and (local.hour, local.minute) == (0, 0)

    # Days later the US is open: the workers' tick sends the deferred reminder by itself.
    stack.flask("reminders", "rule-set", "US", "--hours", always)
    stack.sql(
        "UPDATE scheduled_messages SET due_at = ? WHERE account_id ="
        " (SELECT id FROM accounts WHERE external_id = 'REM-US-1')",
        now,
    )
    dan = twilio.wait_for("whatsapp:+13125550304", 1)
    assert [m["content_sid"] for m in dan] == [SID]
    # The approved template's English text carries the opt-out line (Regulation F).
    assert wait_for(lambda: scheduled(stack)["REM-US-1"][0] == "sent")
    reached.append("whatsapp:+13125550304")

    # Running the campaign again reaches nobody twice.
    output = stack.flask(
        "campaign",
        "run",
        "--name",
        "e2e",
        "--template",
        "reminder.due.friendly",
        "--segment",
        "e2e_campaign",
    )
    assert "0 reminder(s) planned" in output and "0 queued" in output
    assert len(twilio.messages) == len(reached)


def test_sends_respect_the_shared_rate(stack):
    """Four messages a second across both workers: 8 sends take at least ~1.5 s."""
    stack.twilio.reset()
    rows = "\n".join(
        f"RATE-{i},Rate Person{i},30155504{i:02d},CO,es-CO,COP,1000.00,2027-06-01,{i:04d},,rate"
        + CONSENT
        for i in range(8)
    )
    path = stack.workdir / "rate.csv"
    path.write_text(HEADER + "\n" + rows + "\n", encoding="utf-8")
    stack.flask("import-debts", str(path))
    stack.flask("reminders", "segment-set", "rate", "--criteria", '{"min_days_overdue": 99999}')
    stack.flask(
        "campaign",
        "run",
        "--name",
        "rate",
        "--template",
        "reminder.due.friendly",
        "--segment",
        "rate",
    )
    got = wait_for(lambda: len(stack.twilio.messages) >= 8 and list(stack.twilio.messages))
    assert len(got) == 8
    stamps = sorted(m["received_at"] for m in got)
    # A burst of 1 token, then 4 a second: 7 more tokens take 1.75 s.
    assert stamps[-1] - stamps[0] >= 1.75 * 0.9
