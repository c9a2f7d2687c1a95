"""Deterministic signals over the statistical intent: what the debtor's words say for certain
(no Rasa import here: understanding/signals.py is the pipeline component that applies them).

The classifier reads words; some messages are decided by their parts, which the bot's own
parsers read well (bot/debts/parsing.py):
- a day or date with a payment verb, and no sign it already happened, is a promise to pay
  ("yo te cancelo el 20 de enero", "could I pay on the 3rd?"), or a request for more time
  when it asks for time ("me das plazo hasta el 30");
- an amount with a period is an installment proposal ("puedo dar 80 mil cada mes").
Only intents these messages are confused with are corrected, so a dispute or a claim that
happens to carry a date is left alone. The corrected intent gets the confidence the
classifier gave it or 0.95, whichever is higher, so the fallback does not swallow it.
"""

import re
import unicodedata
from datetime import date

from bot.debts import parsing

# A fixed reference day: only whether a date is there matters, not which one it is.
_REFERENCE = date(2026, 6, 15)
CONFIDENCE = 0.95

_PAY = re.compile(
    r"\b(pag\w*|cancel\w*|abon\w*|consign\w*|deposit\w*|transfier\w*|transfer\w*|"
    r"pong\w* al dia|liquid\w*|pay\w*|settle|send (you|it)|clear (it|the))\b"
)
_DONE = re.compile(
    r"\b(ya|pague|pagamos|cancele|consigne|deposite|transferi|abone|hice|realice|mande|"
    r"envie|already|paid|sent|made|did|transferred|deposited|hace \w+ dias|ago|ayer|yesterday|"
    r"comprobante|receipt|recibo)\b"
)
_TIME = re.compile(
    r"\b(plazo|prorroga|mas tiempo|otro mes|esperen|esperar|espera|aplaz\w*|postergar|"
    r"extension|more time|extra time|postpone|wait|push (it|the)|delay|grace|give me until|"
    r"dame hasta|denme hasta|me das hasta|me dan hasta)\b"
)
_PERIOD = re.compile(
    r"\b(cada|por|al|x|a la)\s+(mes|semana|quincena|dia|viernes|sabado)\b|"
    r"\b(mensual|semanal|quincenal|diari)\w*|\bmes a mes\b|"
    r"\b(a|per|every|each)\s+(week|month|fortnight|payday|friday)\b|"
    r"\b(weekly|monthly|biweekly|bi-weekly)\b"
)
# What a promise with a date is mistaken for; anything else keeps its intent.
# (Paying part now, a link to pay today or a discount for paying today carry a pay verb and a
# day too: they keep their intent.)
PROMISE_CONFUSED = {
    "request_deferral",
    "promise_to_pay",
    "ask_payment_methods",
    "inform",
    "out_of_scope",
    "affirm",
    "request_installments",
}
INSTALLMENTS_CONFUSED = {
    "ask_discount",
    "inform",
    "out_of_scope",
    "promise_to_pay",
    "request_deferral",
    "request_settlement",
    "affirm",
    "ask_payment_methods",
}


def plain(text):
    text = unicodedata.normalize("NFKD", (text or "").lower())
    return "".join(c for c in text if not unicodedata.combining(c))


def signal(text):
    """The intent the message's parts decide, or None."""
    words = plain(text)
    if _DONE.search(words):
        return None
    if _PERIOD.search(words) and parsing.parse_amount(text, "USD") is not None:
        return "request_installments"
    day = parsing.parse_date(text, _REFERENCE) if _PAY.search(words) else None
    if day is not None and day != _REFERENCE:  # "hoy", "ahora": paying now, not a promise
        return "request_deferral" if _TIME.search(words) else "promise_to_pay"
    return None


# Under this confidence the classifier is unsure (the fallback's threshold): the message's
# parts decide whatever it guessed.
UNSURE = 0.3


def correct(name, text, confidence=1.0):
    """The intent to answer with instead of name (read with confidence), or None to keep it."""
    if not name or str(text or "").startswith("/"):
        return None
    decided = signal(text)
    confused = PROMISE_CONFUSED if decided != "request_installments" else INSTALLMENTS_CONFUSED
    if decided is None or decided == name:
        return None
    return decided if name in confused or confidence < UNSURE else None
