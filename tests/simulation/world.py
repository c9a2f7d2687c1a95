"""The simulated world: generated debtors in CO, MX, CL, PE, US and AR, where each one really
is (a zone the bot cannot know), what they consented to, and the things they do during the
month (write in, verify or fail to, stop messages, dispute, say it is a wrong number, pay, get
taken over by an agent). Seeded, so every run is the same month."""

import csv
import io
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

START = datetime(2026, 12, 1)
END = datetime(2027, 1, 1)

# (country, phone maker, the zones the person may really be in, address zone, region, locale,
#  currency). The address zone, when given, is imported; the region is never imported for CL
#  and AR, so the bot must respect every region's holidays.
PROFILES = [
    ("CO", lambda r: f"+57300{r:07d}", ["America/Bogota"], None, None, "es-CO", "COP"),
    ("CO", lambda r: f"+57310{r:07d}", ["America/Bogota"], None, None, "es-CO", "COP"),
    ("MX", lambda r: f"+5255{r:08d}", ["America/Mexico_City"], None, None, "es-MX", "MXN"),
    # Chihuahua: phonenumbers says Mazatlán (UTC-7); the person is on UTC-6 or in Juárez.
    (
        "MX",
        lambda r: f"+52614{r:07d}",
        ["America/Chihuahua", "America/Ciudad_Juarez"],
        None,
        None,
        "es-MX",
        "MXN",
    ),
    # A Tijuana number whose owner lives in Mexico City (the address says so).
    (
        "MX",
        lambda r: f"+52664{r:07d}",
        ["America/Tijuana", "America/Mexico_City"],
        "America/Mexico_City",
        None,
        "es-MX",
        "MXN",
    ),
    ("MX", lambda r: f"+52868{r:07d}", ["America/Matamoros"], None, None, "es-MX", "MXN"),
    (
        "CL",
        lambda r: f"+5698{r % 10**7:07d}",
        ["America/Santiago", "America/Punta_Arenas", "America/Coyhaique"],
        None,
        None,
        "es-CL",
        "CLP",
    ),
    ("PE", lambda r: f"+519{r:08d}", ["America/Lima"], None, None, "es-PE", "PEN"),
    (
        "AR",
        lambda r: f"+54911{r:08d}",
        ["America/Argentina/Buenos_Aires"],
        None,
        None,
        "es-AR",
        "ARS",
    ),
    # A Santa Cruz resident (provincial holiday on 7 December) the bot knows only by number.
    (
        "AR",
        lambda r: f"+54929664{r % 10**5:05d}",
        ["America/Argentina/Rio_Gallegos"],
        None,
        "Z",
        "es-AR",
        "ARS",
    ),
    # The split area codes: Florida's panhandle and Gary, Indiana (Eastern or Central).
    (
        "US",
        lambda r: f"+1850{_nxx(r)}{r % 10000:04d}",
        ["America/New_York", "America/Chicago"],
        None,
        None,
        "en-US",
        "USD",
    ),
    (
        "US",
        lambda r: f"+1219{_nxx(r)}{r % 10000:04d}",
        ["America/Chicago", "America/New_York"],
        None,
        None,
        "en-US",
        "USD",
    ),
    # A San Francisco number whose owner lives in New York (the address says so).
    (
        "US",
        lambda r: f"+1415{_nxx(r)}{r % 10000:04d}",
        ["America/New_York"],
        "America/New_York",
        None,
        "en-US",
        "USD",
    ),
    # Massachusetts: two texts a week.
    (
        "US",
        lambda r: f"+1617{_nxx(r)}{r % 10000:04d}",
        ["America/New_York"],
        None,
        "MA",
        "en-US",
        "USD",
    ),
    (
        "US",
        lambda r: f"+1212{_nxx(r)}{r % 10000:04d}",
        ["America/New_York"],
        None,
        None,
        "es-US",
        "USD",
    ),
]


def _nxx(r):
    return 200 + (r // 10000) % 700


@dataclass
class Debtor:
    external_id: str
    name: str
    phone: str
    country: str
    locale: str
    currency: str
    amount: int  # minor units
    due_date: date
    id_last4: str
    true_zone: str
    address_zone: str | None
    region: str | None
    consent: tuple  # channels authorised in the imported contract
    row: dict = field(default_factory=dict)


@dataclass(order=True)
class Event:
    at: datetime
    kind: str
    debtor: int  # index into the debtors
    data: dict = field(default_factory=dict, compare=False)


def debtors(seed=12, count=300):
    rng = random.Random(seed)
    out = []
    for i in range(count):
        country, phone, zones, address, region, locale, currency = PROFILES[i % len(PROFILES)]
        number = phone(100000 + i * 37)
        due = START.date() + timedelta(days=rng.randint(-40, 24))
        minor = rng.randint(50, 2000) * (100 if currency not in ("CLP",) else 1)
        if country == "CO":
            # Some authorised one channel only, a few none (they can say yes in the chat).
            consent = rng.choice(
                [("whatsapp", "sms"), ("whatsapp", "sms"), ("whatsapp",), ("sms",), ()]
            )
        else:
            consent = ("whatsapp", "sms")
        out.append(
            Debtor(
                external_id=f"SIM-{country}-{i:04d}",
                name=f"Deudor{i} Prueba",
                phone=number,
                country=country,
                locale=locale,
                currency=currency,
                amount=minor,
                due_date=due,
                id_last4=f"{1000 + i:04d}"[-4:],
                true_zone=rng.choice(zones),
                address_zone=address,
                region=region,
                consent=consent,
            )
        )
    return out


def csv_text(people):
    """The import file, with the address zone and the consent columns."""
    buffer = io.StringIO()
    columns = [
        "external_id",
        "full_name",
        "phone",
        "country",
        "locale",
        "currency",
        "amount_due",
        "due_date",
        "id_last4",
        "email",
        "segment",
        "timezone",
        "region",
        "consent_whatsapp",
        "consent_sms",
        "consent_at",
        "consent_method",
        "consent_evidence",
    ]
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for d in people:
        exponent = 0 if d.currency == "CLP" else 2
        amount = f"{d.amount / 10**exponent:.{exponent}f}"
        writer.writerow(
            {
                "external_id": d.external_id,
                "full_name": d.name,
                "phone": d.phone,
                "country": d.country,
                "locale": d.locale,
                "currency": d.currency,
                "amount_due": amount,
                "due_date": d.due_date.isoformat(),
                "id_last4": d.id_last4,
                "email": "",
                "segment": "",
                "timezone": d.address_zone or "",
                # The bot is told the US state; Chilean and Argentine regions stay unknown.
                "region": d.region if d.country == "US" else "",
                "consent_whatsapp": "yes" if "whatsapp" in d.consent else "",
                "consent_sms": "yes" if "sms" in d.consent else "",
                "consent_at": "2025-06-01" if d.consent else "",
                "consent_method": "contract" if d.consent else "",
                "consent_evidence": "Contrato, cláusula de canales" if d.consent else "",
            }
        )
    return buffer.getvalue()


def events(people, seed=12):
    """What the debtors do during the month, at any hour (debtors write when they like)."""
    rng = random.Random(seed + 1)
    out = []

    def when(day_from=0, day_to=30):
        return START + timedelta(
            days=rng.randint(day_from, day_to), minutes=rng.randrange(0, 24 * 60, 7)
        )

    for i, d in enumerate(people):
        roll = rng.random()
        if rng.random() < 0.45:  # writes in (opens the window), usually verifying
            at = when()
            out.append(Event(at, "write_in", i, {"verify": rng.random() < 0.8}))
            if rng.random() < 0.3:
                out.append(
                    Event(at + timedelta(days=rng.randint(2, 9)), "write_in", i, {"verify": False})
                )
        if rng.random() < 0.06:
            out.append(Event(when(), "fail_verify", i))
        if roll < 0.06:
            out.append(Event(when(), "opt_out", i, {"channel": rng.choice(["whatsapp", "sms"])}))
        elif roll < 0.10:
            out.append(Event(when(), "opt_out_all", i))
        elif roll < 0.13:
            out.append(Event(when(), "dispute", i))
        elif roll < 0.15:
            out.append(Event(when(), "wrong_number", i))
        elif roll < 0.30:
            out.append(Event(when(), "pay", i, {"share": rng.choice([1.0, 1.0, 0.4])}))
        elif roll < 0.38:
            start = when(0, 26)
            out.append(Event(start, "agent_claim", i))
            out.append(Event(start + timedelta(hours=rng.randint(6, 90)), "agent_release", i))
        elif roll < 0.44:
            out.append(Event(when(0, 20), "promise", i, {"days": rng.randint(1, 8)}))
        if d.country == "CO" and len(d.consent) < 2 and rng.random() < 0.5:
            missing = [ch for ch in ("whatsapp", "sms") if ch not in d.consent]
            out.append(Event(when(), "consent_chat", i, {"channel": missing[0]}))
    return sorted(out)
