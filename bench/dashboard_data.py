"""Synthetic history for the dashboard benchmark, generated inside the database with SQL (a
recursive series works on SQLite and PostgreSQL alike): debtors and accounts, conversations,
reminders with their messages, replies, bot answers, payments (some partial, some reversed),
promises, an experiment, agents' audit trail. Raw tables only: the aggregates are computed by
the real daily job afterwards."""

from datetime import date, datetime, timedelta

from sqlalchemy import text

COUNTRIES = ("CO", "MX", "CL", "PE", "US")
CURRENCIES = ("COP", "MXN", "CLP", "PEN", "USD")
SEGMENTS = ("early", "late", "broken_promises", "good_payers", "default", "vip")
PORTFOLIOS = ("retail", "telco", "utilities", None)
TEMPLATES = tuple(
    f"reminder.{kind}.{tone}"
    for kind in ("upcoming", "due", "overdue", "installment", "promise", "thank_you")
    for tone in ("friendly", "firm")
)
STATUSES = ("delivered",) * 5 + ("read",) * 3 + ("sent", "undelivered")


def pick(values, expr):
    """CASE expr % len WHEN 0 THEN v0 ... END as SQL (works in both dialects)."""
    whens = " ".join(
        f"WHEN {i} THEN {'NULL' if v is None else repr(v)}" for i, v in enumerate(values)
    )
    return f"(CASE ({expr}) % {len(values)} {whens} END)"


class Dialect:
    def __init__(self, name, start):
        self.name, self.start = name, start

    def series(self, n):
        if self.name == "postgresql":
            return f"generate_series(1::bigint, {n}) AS g(x)"
        return (
            "(WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s "
            f"WHERE x < {n}) SELECT x FROM s) AS g"
        )

    def ts(self, days, seconds="0"):
        """The start plus days and seconds, as the database stores a DateTime."""
        if self.name == "postgresql":
            return (
                f"(timestamp '{self.start} 00:00:00' + ({days}) * interval '1 day' "
                f"+ ({seconds}) * interval '1 second')"
            )
        return (
            f"strftime('%Y-%m-%d %H:%M:%f', '{self.start}', printf('%+d days', {days}), "
            f"printf('%+d seconds', {seconds}))"
        )

    def false(self):
        return "false" if self.name == "postgresql" else "0"

    def day(self, days):
        if self.name == "postgresql":
            return f"(date '{self.start}' + ({days})::integer)"
        return f"date('{self.start}', printf('%+d days', {days}))"


def generate(engine, accounts, messages, days, end):
    """Fill the raw tables; returns what was made."""
    start = end - timedelta(days=days)
    d = Dialect(engine.dialect.name, start.isoformat())
    n, m = accounts, messages
    reminders, replies = int(m * 0.55), int(m * 0.25)
    answers = m - reminders - replies
    payments, promises = int(n * 0.18), int(n * 0.1)
    stmts = [
        f"""INSERT INTO debtors (id, full_name, phone, locale, country, id_secret_hash,
            id_secret_salt, segment, created_at, updated_at)
            SELECT x, 'Debtor ' || x, '+1' || (2000000000 + x), 'es', {pick(COUNTRIES, 'x')},
            'h', 's', NULL, {d.ts('x % 30')}, {d.ts('x % 30')} FROM {d.series(n)}""",
        f"""INSERT INTO accounts (id, debtor_id, external_id, currency, amount_due_minor,
            balance_minor, due_date, status, segment, created_at, updated_at)
            SELECT x, x, 'B-' || x, {pick(CURRENCIES, 'x')}, 10000 + (x * 7919) % 5000000,
            10000 + (x * 7919) % 5000000, {d.day(f'(x % {days + 30}) - 20')}, 'open',
            {pick(PORTFOLIOS, 'x / 5')}, {d.ts('x % 30')}, {d.ts('x % 30')} FROM {d.series(n)}""",
        f"""INSERT INTO conversations (id, channel, address, debtor_id, state,
            verification_failures, needs_agent, bot_paused, created_at, updated_at, verified_at)
            SELECT x, CASE WHEN x % 5 = 0 THEN 'sms' ELSE 'whatsapp' END, '+1' || (2000000000 + x),
            x, 'bot', 0, {d.false()}, {d.false()}, {d.ts('x % 30')}, {d.ts('x % 30')},
            CASE WHEN x % 4 = 0 THEN {d.ts(f'x % {days}', '57600')} END FROM {d.series(n)}""",
        # Reminders: one message each, spread over the days and the debtors.
        f"""INSERT INTO messages (id, conversation_id, direction, status, template_key, body,
            attempts, created_at, updated_at, provider_sid)
            SELECT x, (x * 7919) % {n} + 1, 'out', {pick(STATUSES, 'x / 3')},
            {pick(TEMPLATES, 'x / 7')}, 'reminder', 1, {d.ts(f'x % {days}', '54000 + x % 3600')},
            {d.ts(f'x % {days}', '54000 + x % 3600')}, 'SMr' || x FROM {d.series(reminders)}""",
        f"""INSERT INTO scheduled_messages (id, debtor_id, account_id, step, ref_date, segment,
            template_key, due_at, expires_at, status, channel, contacted_at, message_id,
            attempts, variant_id, created_at, updated_at)
            SELECT x, (x * 7919) % {n} + 1, (x * 7919) % {n} + 1, 'bench:' || x,
            {d.day(f'x % {days}')}, {pick(SEGMENTS, 'x / 11')}, {pick(TEMPLATES, 'x / 7')},
            {d.ts(f'x % {days}', '54000')}, {d.ts(f'x % {days} + 3')}, 'sent',
            CASE WHEN ((x * 7919) % {n} + 1) % 5 = 0 THEN 'sms' ELSE 'whatsapp' END,
            {d.ts(f'x % {days}', '54000 + x % 3600')}, x, 1,
            CASE WHEN (x / 7) % {len(TEMPLATES)} = 4 THEN 1 + x % 2 END,
            {d.ts(f'x % {days}')}, {d.ts(f'x % {days}')} FROM {d.series(reminders)}""",
        # Replies, 30 minutes after a reminder; bot answers right after.
        f"""INSERT INTO messages (id, conversation_id, direction, status, body, attempts,
            created_at, updated_at, provider_sid)
            SELECT {reminders} + x, ((x * 3) * 7919) % {n} + 1, 'in', 'processed', 'hola', 1,
            {d.ts(f'(x * 3) % {days}', '55800 + x % 3600')},
            {d.ts(f'(x * 3) % {days}', '55800 + x % 3600')}, 'SMi' || x FROM {d.series(replies)}""",
        f"""INSERT INTO messages (id, conversation_id, direction, status, template_key, body,
            attempts, created_at, updated_at, provider_sid)
            SELECT {reminders + replies} + x, ((x * 3) * 7919) % {n} + 1, 'out', 'delivered',
            'balance.show', 'answer', 1, {d.ts(f'(x * 3) % {days}', '55900 + x % 3600')},
            {d.ts(f'(x * 3) % {days}', '55900 + x % 3600')}, 'SMa' || x FROM {d.series(answers)}""",
        f"""INSERT INTO payments (id, account_id, amount_minor, currency, provider, provider_ref,
            status, received_at, surplus_minor, discount_minor)
            SELECT x, (x * 104729) % {n} + 1, 5000 + (x * 31) % 900000,
            {pick(CURRENCIES, f'((x * 104729) % {n} + 1)')}, 'sandbox', 'bench-' || x,
            CASE WHEN x % 50 = 0 THEN 'reversed' ELSE 'succeeded' END,
            {d.ts(f'x % {days}', '64800 + x % 7200')}, 0, 0 FROM {d.series(payments)}""",
        f"""INSERT INTO promises (id, account_id, amount_minor, promised_date, status,
            created_by, created_at, updated_at)
            SELECT x, (x * 15485863) % {n} + 1, 10000, {d.day(f'x % {days} + 5')},
            {pick(('kept', 'broken', 'pending'), 'x')}, CASE WHEN x % 10 = 0 THEN 'agent:1'
            ELSE 'bot' END, {d.ts(f'x % {days}', '56000')}, {d.ts(f'x % {days}', '56000')}
            FROM {d.series(promises)}""",
        f"""INSERT INTO audit_events (at, actor, action, subject_type, subject_id, data)
            SELECT {d.ts(f'x % {days}', '50000 + (x % 4) * 900')}, 'agent:' || (1 + x / 4 % 5),
            {pick(('conversation.needs_agent', 'conversation.claimed',
                   'conversation.agent_message', 'conversation.handed_back'), 'x')},
            'conversations', '' || ((x / 4) * 7919 % {n} + 1), '{{"reason": "request_agent"}}'
            FROM {d.series(max(n // 50, 40))}""",
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO experiments (id, name, kind, template_key, status, salt, created_by,"
                " started_at, created_at, updated_at) VALUES (1, 'bench-tone', 'template', "
                f"'{TEMPLATES[4]}', 'running', 'salt', 'bench', :t, :t, :t)"
            ),
            {"t": datetime.combine(start, datetime.min.time())},
        )
        conn.execute(
            text(
                "INSERT INTO experiment_variants (id, experiment_id, name, is_control, share)"
                " VALUES (1, 1, 'champion', :yes, 50), (2, 1, 'challenger', :no, 50)"
            ),
            {"yes": True, "no": False},
        )
        for sql in stmts:
            conn.execute(text(sql))
        if engine.dialect.name == "postgresql":
            for table in ("debtors", "accounts", "conversations", "messages",
                          "scheduled_messages", "payments", "promises"):  # fmt: skip
                conn.execute(
                    text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
                )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return {"accounts": n, "messages": m, "reminders": reminders, "payments": payments,
            "promises": promises, "first_day": start, "last_day": end}  # fmt: skip


def default_end():
    return date(2026, 11, 1)
