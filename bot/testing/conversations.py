"""Scripted conversations on the real stack: each debtor message is posted through the signed
webhook, the bot's answer set is read back from the database once nothing is in flight, and the
conversation is judged: did the debtor reach the outcome they came for, did the bot disclose
anything about a debt before verification, and did every message get at most one answer set.

A suite is YAML (tests/e2e/suite/): debtors (a CSV imported first, portfolios) and
conversations, each a list of turns and the outcomes to check:

    - id: es-promesa-viernes
      debtor: "+573015559001"
      turns:
        - say: "hola, yo te cancelo el viernes"
        - say: "mi cedula termina en 9001"
          expect: [verify.ok, promise.recorded]     # template keys among this turn's replies
      outcome: {promise: promise}                   # what the database must show at the end

A turn may also name amounts as the debtor reads them: states_amount (some reply says it) and
never_amount (no reply does), compared digit by digit ("S/ 723.96" states "723.96").

Used by tests/e2e/test_conversation_suite.py (every conversation must reach its outcome) and
bench/conversation_suite.py (the share that does, the replies per message).
"""

import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot import phones
from bot.testing import wait_for

ROOT = Path(__file__).resolve().parents[2]
SUITE_DIR = ROOT / "tests" / "e2e" / "suite"
# At most this many messages answer one debtor message (a confirmation, the answer, a menu).
MAX_REPLIES = 4
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(256)
OGG = b"OggS\x00\x02" + bytes(128)
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(64)
MEDIA = {"image/jpeg": JPEG, "audio/ogg": OGG, "image/webp": WEBP}
_NUMBER = re.compile(r"\d[\d.,\u00a0\u202f ]*\d|\d")


@dataclass
class Result:
    id: str
    problems: list = field(default_factory=list)
    disclosures: list = field(default_factory=list)
    turns: list = field(default_factory=list)  # [(said, [(template, body)])]

    @property
    def reached(self):
        return not self.problems and not self.disclosures

    def transcript(self):
        lines = [f"== {self.id}"]
        for said, replies in self.turns:
            lines.append(f"> {said}")
            lines += [f"  [{key}] {body}" for key, body in replies]
        return "\n".join(lines + [f"! {p}" for p in self.problems + self.disclosures])


def load_suite(directory=SUITE_DIR):
    """(debtors CSV path, portfolios, conversations) of every suite file in directory."""
    conversations, portfolios, csv = [], {}, None
    for path in sorted(directory.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        portfolios.update(data.get("portfolios") or {})
        conversations += data.get("conversations") or []
        if data.get("debtors"):
            csv = directory / data["debtors"]
    ids = [c["id"] for c in conversations]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ValueError(f"conversation ids used twice: {sorted(duplicates)}")
    return csv, portfolios, conversations


def prepare(stack, csv, portfolios):
    """Import the suite's debtors and set its portfolios' voice and payment policy."""
    stack._run("import-debts", str(csv))
    for name, settings in portfolios.items():
        args = ["portfolio-set", name]
        if settings.get("register"):
            args += ["--register", settings["register"]]
        if settings.get("creditor"):
            args += ["--creditor", settings["creditor"]]
        for name_, value in (settings.get("policy") or {}).items():
            args += ["--policy", f"{name_}={value}"]
        stack._run(*args)


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def debtor_facts(stack, phone):
    """What must not be said before verification: name, amounts, references."""
    rows = stack.query(
        "SELECT d.id, d.full_name, a.external_id, a.balance_minor, a.currency "
        "FROM debtors d JOIN accounts a ON a.debtor_id = d.id WHERE d.phone = :p",
        p=phone,
    )
    if not rows:
        return None
    first = rows[0]
    amounts = {str(r[3] // 100) for r in rows if r[3] >= 100}  # whole units, any currency
    return {
        "debtor_id": first[0],
        "names": {first[1], first[1].split()[0]},
        "references": {r[2] for r in rows},
        "amounts": amounts,
    }


def _numbers(text):
    """Every number in text, as digits ("$150.000" -> "150000", "150.000,50" -> "15000050")."""
    return {re.sub(r"\D", "", m.group(0)) for m in _NUMBER.finditer(text or "")}


def disclosed(body, facts):
    """What of the debtor's facts a reply says (before verification it must say nothing)."""
    found = [name for name in facts["names"] if name and name in body]
    found += [ref for ref in facts["references"] if ref in body]
    numbers = _numbers(body)
    found += [
        amount
        for amount in facts["amounts"]
        if any(n == amount or n.startswith(amount) and len(n) - len(amount) <= 2 for n in numbers)
    ]
    return found


def _media_form(stack, media):
    """Extra webhook fields for a turn's media: a file Twilio keeps, or a location."""
    if media == "location":
        return {"Latitude": "4.6097", "Longitude": "-74.0817", "NumMedia": "0"}
    url = stack.twilio.add_media(MEDIA[media], media)
    return {"NumMedia": "1", "MediaUrl0": url, "MediaContentType0": media}


def _replies(stack, sid):
    """[(template key, body)] answering the inbound message with this MessageSid."""
    return [
        (key, body)
        for key, body in stack.query(
            "SELECT r.template_key, r.body FROM messages r JOIN messages m ON r.reply_to_id = m.id "
            "WHERE m.provider_sid = :sid ORDER BY r.seq",
            sid=sid,
        )
    ]


def _job_replies(stack, address, after_id):
    """[(template key, body)] a job sent on its own (a receipt's answer), after a message id."""
    return [
        (key, body)
        for key, body in stack.query(
            "SELECT m.template_key, m.body FROM messages m JOIN conversations c "
            "ON c.id = m.conversation_id WHERE c.address = :a AND m.direction = 'out' "
            "AND m.reply_to_id IS NULL AND m.id > :after ORDER BY m.id",
            a=address,
            after=after_id,
        )
    ]


def _receipt_kept(stack, sid):
    return stack.query(
        "SELECT count(*) FROM payment_receipts r JOIN messages m ON m.id = r.message_id "
        "WHERE m.provider_sid = :sid",
        sid=sid,
    )[0][0]


def _last_message_id(stack):
    return stack.query("SELECT coalesce(max(id), 0) FROM messages")[0][0]


def run(stack, conversation):
    """Play one conversation; return its Result."""
    result = Result(conversation["id"])
    raw = conversation["debtor"]
    address = phones.normalise(raw)
    channel = conversation.get("channel", "whatsapp")
    facts = debtor_facts(stack, address)
    verified = False
    for turn in conversation["turns"]:
        sid = "SM" + uuid.uuid4().hex
        before = _last_message_id(stack)
        extra = _media_form(stack, turn["media"]) if turn.get("media") else {}
        form = stack.inbound_form(raw, turn.get("say", ""), channel, sid=sid, **extra)
        response = stack.post(form)
        if response.status_code != 200:
            result.problems.append(f"{turn.get('say')!r}: webhook answered {response.status_code}")
            break
        if turn.get("media") == "image/jpeg":  # the receipt's job answers on its own
            wait_for(lambda sid=sid: _receipt_kept(stack, sid), 60, what="the receipt kept")
        stack.settled(address, timeout=90)
        replies = _replies(stack, sid) + _job_replies(stack, address, before)
        result.turns.append((turn.get("say") or f"[{turn.get('media')}]", replies))
        keys = [key for key, _body in replies]
        if not replies and not turn.get("silent"):
            result.problems.append(f"{turn.get('say')!r}: no answer")
        if len(replies) > MAX_REPLIES or len(set(keys)) != len(keys):
            result.problems.append(f"{turn.get('say')!r}: more than one answer set: {keys}")
        for key in turn.get("expect") or []:
            if key not in keys:
                result.problems.append(f"{turn.get('say')!r}: expected {key}, got {keys}")
        if turn.get("expect_any") and not set(turn["expect_any"]) & set(keys):
            result.problems.append(f"{turn.get('say')!r}: expected one of {turn['expect_any']}")
        for key in turn.get("never") or []:
            if key in keys:
                result.problems.append(f"{turn.get('say')!r}: said {key}")
        for text in turn.get("contains") or []:
            if not any(text in body for _key, body in replies):
                result.problems.append(f"{turn.get('say')!r}: no reply says {text!r}")
        stated = set().union(*(_numbers(body) for _key, body in replies))
        for amount in _as_list(turn.get("states_amount")):
            if re.sub(r"\D", "", str(amount)) not in stated:
                result.problems.append(f"{turn.get('say')!r}: no reply states {amount}")
        for amount in _as_list(turn.get("never_amount")):
            if re.sub(r"\D", "", str(amount)) in stated:
                result.problems.append(f"{turn.get('say')!r}: a reply states {amount}")
        for key, body in replies:
            if key == "verify.ok":
                verified = True
            elif not verified and facts is not None:
                found = disclosed(body, facts)
                if found:
                    result.disclosures.append(f"[{key}] before verification says {found}")
    for name, expected in (conversation.get("outcome") or {}).items():
        problem = OUTCOMES[name](stack, address, facts, expected)
        if problem:
            result.problems.append(f"outcome {name}: {problem}")
    return result


# -- outcomes: each returns None when the database shows it, else what it shows ---------------


def _one(stack, sql, **params):
    rows = stack.query(sql, **params)
    return rows[0][0] if rows else None


def _debtor_rows(stack, facts, sql):
    return stack.query(sql, d=facts["debtor_id"]) if facts else []


def _promise(stack, address, facts, expected):
    rows = _debtor_rows(
        stack,
        facts,
        "SELECT p.status FROM promises p JOIN accounts a ON a.id = p.account_id "
        "WHERE a.debtor_id = :d",
    )
    return None if rows else "no promise recorded"


def _plan(stack, address, facts, expected):
    rows = _debtor_rows(
        stack,
        facts,
        "SELECT p.id FROM payment_plans p JOIN accounts a ON a.id = p.account_id "
        "WHERE a.debtor_id = :d",
    )
    return None if rows else "no plan created"


def _claim(stack, address, facts, expected):
    rows = _debtor_rows(
        stack,
        facts,
        "SELECT c.claimed_amount_minor FROM payment_claims c JOIN accounts a "
        "ON a.id = c.account_id WHERE a.debtor_id = :d",
    )
    if not rows:
        return "no already-paid claim"
    if type(expected) is int and rows[0][0] != expected:
        return f"claimed {rows[0][0]}, expected {expected}"
    return None


def _dispute(stack, address, facts, expected):
    rows = _debtor_rows(
        stack,
        facts,
        "SELECT d.id FROM disputes d JOIN accounts a ON a.id = d.account_id WHERE a.debtor_id = :d",
    )
    return None if rows else "no dispute"


def _reason(stack, address, facts, expected):
    reason = _one(stack, "SELECT agent_reason FROM conversations WHERE address = :a", a=address)
    allowed = expected if isinstance(expected, list) else [expected]
    return None if reason in allowed else f"agent reason {reason!r}, expected {allowed}"


def _wrong_number(stack, address, facts, expected):
    marked = _one(stack, "SELECT wrong_number_at FROM debtors WHERE phone = :a", a=address)
    if bool(marked) != bool(expected):
        return "marked as a wrong number" if marked else "not marked as a wrong number"
    return None


def _verified(stack, address, facts, expected):
    at = _one(stack, "SELECT verified_at FROM conversations WHERE address = :a", a=address)
    return None if bool(at) == bool(expected) else f"verified: {bool(at)}"


def _opted_out(stack, address, facts, expected):
    column = "opted_out_sms_at" if expected == "sms" else "opted_out_whatsapp_at"
    at = _one(stack, f"SELECT {column} FROM debtors WHERE phone = :a", a=address)
    return None if at else f"no opt-out on {expected}"


def _contact_request(stack, address, facts, expected):
    rows = stack.query(
        "SELECT r.kind, r.phone FROM contact_requests r JOIN conversations c "
        "ON c.id = r.conversation_id WHERE c.address = :a",
        a=address,
    )
    kind, _, phone = str(expected).partition(":")
    found = [r for r in rows if r[0] == kind and (not phone or r[1] == phone)]
    return None if found else f"no {expected} request (found {rows})"


def _receipt(stack, address, facts, expected):
    count = _one(
        stack,
        "SELECT count(*) FROM payment_receipts r JOIN conversations c "
        "ON c.id = r.conversation_id WHERE c.address = :a AND r.status = 'pending'",
        a=address,
    )
    return None if count else "no receipt to verify"


def _audit(stack, address, facts, expected):
    rows = _debtor_rows(
        stack,
        facts,
        "SELECT e.data FROM audit_events e JOIN accounts a "
        "ON e.subject_type = 'accounts' AND e.subject_id = CAST(a.id AS TEXT) "
        f"WHERE a.debtor_id = :d AND e.action = '{expected}'",
    )
    return None if rows else f"no {expected} in the audit log"


def _partial(stack, address, facts, expected):
    """A link for part of the balance: a pending promise of expected minor units, audited."""
    rows = _debtor_rows(
        stack,
        facts,
        "SELECT p.amount_minor, a.balance_minor FROM promises p JOIN accounts a "
        "ON a.id = p.account_id WHERE a.debtor_id = :d AND p.status = 'pending'",
    )
    if not any(amount == expected and amount < balance for amount, balance in rows):
        return f"no partial promise of {expected} (found {rows})"
    return _audit(stack, address, facts, "partial_payment.link_sent")


OUTCOMES = {
    "promise": _promise,
    "partial": _partial,
    "plan": _plan,
    "claim": _claim,
    "dispute": _dispute,
    "agent": _reason,
    "wrong_number": _wrong_number,
    "verified": _verified,
    "opt_out": _opted_out,
    "contact_request": _contact_request,
    "receipt": _receipt,
    "audit": _audit,
}
