"""Which language a debtor is writing in, from the words they use (Spanish or English)."""

import re

from babel import Locale, UnknownLocaleError
from flask import current_app

from bot import audit
from bot.outbound.compose import conversation_locale

# Common words of each language as typed on WhatsApp; words used in both ("no", "ok", "me")
# are left out so they decide nothing.
SPANISH = frozenset(
    """hola buenas buenos dias días tardes noches gracias quiero quisiera puedo pagar pago
    cuanto cuánto debo deuda saldo que qué por para favor como cómo estoy tengo mi mis es el la
    los las un una y con sin ya si sí pero cuando donde necesito ayuda hablar asesor numero
    número equivocado termina cedula cédula documento soy eres usted tu te le lo mas más nada
    bien vale dale listo chao adios adiós porfa xfa plata cuotas dinero mes semana hoy mañana
    manana ahora aqui aquí eso esto este esta está estan están del al q xq pq tb tmb ud""".split()
)
ENGLISH = frozenset(
    """hi hello hey good morning evening thanks thank you please pls plz want would like can
    could pay payment how much owe debt balance what my is are the an and with without already
    yes but when where need help talk agent person wrong number ends id i'm im i am your it
    this that more nothing fine okay bye goodbye money installments month week today tomorrow
    now here do does don't dont have u wanna gonna who which why of to for""".split()
)
_WORD = re.compile(r"[a-záéíóúñü']+")
_SPANISH_MARKS = re.compile(r"[ñ¿¡áéíóú]")


def detect(text):
    """'es', 'en', or None when the text does not say (digits, "ok", a tie)."""
    words = _WORD.findall((text or "").lower())
    spanish = sum(word in SPANISH for word in words) + (
        1 if _SPANISH_MARKS.search(text or "") else 0
    )
    english = sum(word in ENGLISH for word in words)
    if spanish > english:
        return "es"
    if english > spanish:
        return "en"
    return None


def locale_for(language, country):
    """The most specific locale Babel knows for a language in the debtor's country."""
    if country:
        try:
            Locale.parse(f"{language}_{country}")
            return f"{language}-{country}"
        except (ValueError, UnknownLocaleError):
            pass
    return language


def follow_language(session, conversation, text):
    """Answer in the other language from now on when the debtor writes in it."""
    detected = detect(text)
    current = conversation_locale(conversation).split("-")[0]
    if detected is None or detected == current:
        return
    debtor = conversation.debtor
    on_file = (debtor.locale if debtor else current_app.config["DEFAULT_LOCALE"]).split("-")[0]
    country = debtor.country if debtor else None
    conversation.locale = None if detected == on_file else locale_for(detected, country)
    audit.record(
        session, "debtor", "conversation.language_changed", conversation, {"language": detected}
    )
