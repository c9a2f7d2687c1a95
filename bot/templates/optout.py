"""Opt-out instructions in a text: Regulation F (12 CFR 1006.6(e)) asks every electronic
message to a US debtor to say how to stop further messages. The contact packs say which debtors
need it; this module says whether a text has it, and which texts the admin editor checks."""

import re

# "Reply STOP ...", "Responde STOP o BAJA ...": the keyword Twilio and the bot's NLU honour,
# written in capitals so it stands out (clear and conspicuous).
_INSTRUCTION = re.compile(r"\b(STOP|BAJA)\b")
# The line added when a text lacks it (a template key with es and en texts).
LINE_KEY = "contact.opt_out_line"
# Texts US debtors read: the keys of proactive messages, in English or US Spanish.
US_FACING_PREFIXES = ("reminder.",)
US_FACING_LOCALES = ("en", "en-US", "es-US")


def has_opt_out_line(text):
    return bool(_INSTRUCTION.search(text or ""))


def is_us_facing(key, locale):
    """True for a proactive text that US debtors read (the editor refuses it without the line)."""
    return (
        key.startswith(US_FACING_PREFIXES)
        and locale in US_FACING_LOCALES
        and (key != "reminder.offer.plan" and key != "reminder.offer.discount")
    )
