import io

from sqlalchemy import func, select

from bot.conversations import verification
from bot.debts.imports import import_csv
from bot.models import Account, AuditEvent, Debtor

HEADER = (
    "external_id,full_name,phone,country,locale,currency,amount_due,due_date,id_last4,"
    "email,segment\n"
)
GOOD = (
    "A-1,Ana Pérez,3001234567,CO,es-CO,COP,150000.00,2026-11-10,4821,ana@example.com,retail\n"
    "A-2,John Smith,(202) 555-0143,US,en-US,USD,420.50,2026-12-01,9911,,\n"
)


def run(db, text):
    return import_csv(db, io.BytesIO(text.encode("utf-8")))


def test_good_rows_load_normalised(db):
    report = run(db, HEADER + GOOD)
    assert (report.created, report.updated, report.rejected) == (2, 0, 0)
    ana = db.execute(select(Debtor).where(Debtor.phone == "+573001234567")).scalar_one()
    # The zone column is the address's: never derived from the number (issue 12).
    assert ana.locale == "es-CO" and ana.timezone is None
    assert "4821" not in ana.id_secret_hash and verification.secret_matches(ana, "4821")
    account = db.execute(select(Account).where(Account.external_id == "A-1")).scalar_one()
    assert (account.balance_minor, account.currency) == (15000000, "COP")
    john = db.execute(select(Debtor).where(Debtor.phone == "+12025550143")).scalar_one()
    assert john.accounts[0].amount_due_minor == 42050


def test_same_file_twice_changes_nothing(db):
    run(db, HEADER + GOOD)
    events = db.execute(select(func.count()).select_from(AuditEvent)).scalar()
    report = run(db, HEADER + GOOD)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 2)
    assert db.execute(select(func.count()).select_from(AuditEvent)).scalar() == events
    assert db.execute(select(func.count()).select_from(Account)).scalar() == 2


def test_bad_rows_reported_by_line_and_good_rows_load(db):
    bad = (
        "B-1,No Phone,,CO,es-CO,COP,100.00,2026-11-10,1234,,\n"
        "B-2,Bad Country,3001234567,XX,es-CO,COP,100.00,2026-11-10,1234,,\n"
        "B-3,Bad Amount,3001234568,CO,es-CO,COP,1.000,50,2026-11-10,1234,,\n"
        "B-4,Bad Date,3001234569,CO,es-CO,COP,100.00,10/11/2026,1234,,\n"
        "B-5,Bad Currency,3001234570,CO,es-CO,ZZZ,100.00,2026-11-10,1234,,\n"
        "B-6,Bad Phone,12,CO,es-CO,COP,100.00,2026-11-10,1234,,\n"
        "B-7,Bad Id,3001234571,CO,es-CO,COP,100.00,2026-11-10,12345,,\n"
        "A-1,Duplicate,3001234572,CO,es-CO,COP,100.00,2026-11-10,1234,,\n"
        "B-9,Bad Locale,3001234573,CO,zz-QQ,COP,100.00,2026-11-10,1234,,\n"
    )
    report = run(db, HEADER + GOOD + bad)
    assert (report.created, report.rejected) == (2, 9)
    by_line = dict(report.errors)
    assert "phone" in by_line[4]
    assert "country 'XX'" in by_line[5]
    assert "more fields than the header" in by_line[6]
    assert "due_date" in by_line[7]
    assert "ZZZ" in by_line[8]
    assert "phone" in by_line[9]
    assert "id_last4" in by_line[10]
    assert "already appears on line 2" in by_line[11]
    assert "locale" in by_line[12]
    assert db.execute(select(func.count()).select_from(Account)).scalar() == 2
    # The phone of the rejected duplicate must not have been written.
    assert db.execute(select(Debtor).where(Debtor.phone == "+573001234572")).first() is None


def test_changed_amount_updates_balance_and_audits(db):
    run(db, HEADER + GOOD)
    report = run(db, HEADER + GOOD.replace("150000.00", "120000.00"))
    assert (report.updated, report.unchanged) == (1, 1)
    account = db.execute(select(Account).where(Account.external_id == "A-1")).scalar_one()
    assert account.balance_minor == 12000000
    event = db.execute(
        select(AuditEvent).where(AuditEvent.action == "account.updated")
    ).scalar_one()
    assert event.data["amount_due_minor"] == ["15000000", "12000000"]


def test_missing_header_column_rejects_file(db):
    report = run(db, "external_id,full_name\nA-1,Ana\n")
    assert report.errors == [(1, report.errors[0][1])]
    assert "phone" in report.errors[0][1]


def test_a_line_that_is_not_utf8_is_one_bad_row(db):
    latin = "B-1,Ñandú,3001234599,CO,es-CO,COP,1.00,2026-11-10,1234,,\n".encode("latin-1")
    report = import_csv(db, io.BytesIO(HEADER.encode() + latin + GOOD.encode()))
    assert report.errors == [(2, "the line is not UTF-8 text")]
    assert report.created == 2
    header = import_csv(db, io.BytesIO("external_id,nómbre\n".encode("latin-1")))
    assert header.errors == [(1, "file is not UTF-8 text")]


def test_hostile_rows_are_reported_and_the_good_rows_load(db):
    """Each of these once crashed the import or let PostgreSQL refuse the whole file."""
    long_name = "N" * 201
    bad = (
        f"H-1,{long_name},3001234580,CO,es-CO,COP,1.00,2026-11-10,1234,,\n"
        "H-2,Huge,3001234581,CO,es-CO,COP,999999999999999.99,2026-11-10,1234,,\n"
        "H-3,Nul\x00Name,3001234582,CO,es-CO,COP,1.00,2026-11-10,1234,,\n"
        f'H-4,"{"x" * (130 * 1024)}",3001234583,CO,es-CO,COP,1.00,2026-11-10,1234,,\n'
        "H-5,Unassigned,+999 1234567,CO,es-CO,COP,1.00,2026-11-10,1234,,\n"
        "H-6,Freephone,+80012345678,CO,es-CO,COP,1.00,2026-11-10,1234,,\n"
        "H-7,Nowhere,3001234584,ZZ,es-CO,COP,1.00,2026-11-10,1234,,\n"
        "H-8,Europe,3001234585,EU,es-CO,COP,1.00,2026-11-10,1234,,\n"
        "H-9,Nations,3001234586,UN,es-CO,COP,1.00,2026-11-10,1234,,\n"
        f"{'E' * 65},Long Id,3001234587,CO,es-CO,COP,1.00,2026-11-10,1234,,\n"
        "H-11,Bell\x07Name,3001234588,CO,es-CO,COP,1.00,2026-11-10,1234,,\n"
        f"H-12,Long Mail,3001234589,CO,es-CO,COP,1.00,2026-11-10,1234,{'m' * 250}@x.co,\n"
    )
    report = run(db, HEADER + bad + GOOD)
    by_line = dict(report.errors)
    assert (report.created, report.rejected) == (2, 12), report.errors
    assert "full_name is longer than 200" in by_line[2]
    assert "amount_due is larger" in by_line[3]
    assert "NUL" in by_line[4]
    assert "larger than 128 KiB" in by_line[5]
    assert "phone" in by_line[6] and "phone" in by_line[7]
    assert all("country" in by_line[n] for n in (8, 9, 10))
    assert "external_id is longer than 64" in by_line[11]
    assert "control character" in by_line[12]
    assert "email is longer than 254" in by_line[13]
    phones = set(db.execute(select(Debtor.phone)).scalars())
    assert phones == {"+573001234567", "+12025550143"}


def test_a_row_the_database_refuses_loses_only_itself(db, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    from bot.debts import imports

    real = imports._write

    def refuse_one(session, values):
        if values["external_id"] == "A-2":
            session.flush()
            raise IntegrityError("INSERT", {}, Exception("refused"))
        return real(session, values)

    monkeypatch.setattr(imports, "_write", refuse_one)
    report = run(db, HEADER + GOOD + "A-3,Third,3001234590,CO,es-CO,COP,1.00,2026-11-10,1234,,\n")
    assert report.created == 2 and report.errors == [
        (3, "the database refused the row (IntegrityError)")
    ]
    assert set(db.execute(select(Account.external_id)).scalars()) == {"A-1", "A-3"}


def test_cli_prints_errors_and_summary(app, tmp_path):
    path = tmp_path / "debts.csv"
    path.write_text(HEADER + GOOD + "B-1,No Phone,,CO,es-CO,COP,1.00,2026-11-10,1234,,\n")
    result = app.test_cli_runner().invoke(args=["import-debts", str(path)])
    assert "debts.csv:4: missing value for phone" in result.output
    assert "2 created, 0 updated, 0 unchanged, 1 rejected" in result.output


def test_a_number_cannot_belong_to_two_people(db):
    run(db, HEADER + GOOD)
    other = "A-3,Otra Persona,3001234567,CO,es-CO,COP,5000.00,2026-11-10,9999,,\n"
    report = run(db, HEADER + other)
    assert report.created == 0 and report.errors[0][0] == 2
    assert "different ID" in report.errors[0][1] and "3001234567" not in report.errors[0][1]
    ana = db.execute(select(Debtor).where(Debtor.phone == "+573001234567")).scalar_one()
    assert ana.full_name == "Ana Pérez" and len(ana.accounts) == 1


def test_an_account_cannot_change_currency(db):
    run(db, HEADER + GOOD)
    report = run(db, HEADER + GOOD.replace("COP,150000.00", "CLP,150000"))
    assert report.rejected == 1 and "cannot change to CLP" in report.errors[0][1]
    account = db.execute(select(Account).where(Account.external_id == "A-1")).scalar_one()
    assert (account.currency, account.balance_minor) == ("COP", 15000000)


CONTACT_HEADER = HEADER.rstrip("\n") + (
    ",timezone,region,consent_whatsapp,consent_sms,consent_email,consent_at,consent_method,"
    "consent_evidence\n"
)


def test_address_zone_region_and_consent_columns(db):
    from bot.contact import consent
    from bot.models import ConsentRecord

    text = CONTACT_HEADER + (
        "C-1,Ana Pérez,3001234567,CO,es-CO,COP,1000.00,2026-11-10,4821,,,,,yes,no,,"
        '2025-03-01,contract,"Clause 7, signed form 123"\n'
        "C-2,Jo Doe,4155550100,US,en-US,USD,10.00,2026-11-10,1234,,,America/New_York,MA,,,,,,\n"
    )
    report = run(db, text)
    assert report.errors == [] and report.created == 2
    ana = db.execute(select(Debtor).where(Debtor.phone == "+573001234567")).scalar_one()
    jo = db.execute(select(Debtor).where(Debtor.phone == "+14155550100")).scalar_one()
    assert (jo.timezone, jo.region) == ("America/New_York", "MA")
    assert consent.granted_channels(db, [ana.id]) == {ana.id: frozenset({"whatsapp"})}
    assert ana.opted_out_sms_at is not None  # "no" on SMS is a withdrawal on record
    records = db.execute(select(ConsentRecord).order_by(ConsentRecord.id)).scalars().all()
    assert [(r.channel, r.action, r.method) for r in records] == [
        ("whatsapp", "granted", "import"),
        ("sms", "revoked", "import"),
    ]
    assert records[0].evidence == "contract: Clause 7, signed form 123"
    # The same file again adds no second record.
    run(db, text)
    assert db.execute(select(func.count()).select_from(ConsentRecord)).scalar() == 2


def test_bad_contact_columns_are_reported_and_the_good_rows_load(db):
    text = CONTACT_HEADER + (
        "D-1,A,3001234561,CO,es-CO,COP,1.00,2026-11-10,1111,,,Mars/Base,,,,,,,\n"
        "D-2,B,3001234562,CO,es-CO,COP,1.00,2026-11-10,2222,,,,,maybe,,,2025-01-01,,x\n"
        "D-3,C,3001234563,CO,es-CO,COP,1.00,2026-11-10,3333,,,,,yes,,,,,\n"
        "D-4,D,4155550104,US,en-US,USD,1.00,2026-11-10,4444,,,,ZZ,,,,,,\n"
        "D-5,E,3001234565,CO,es-CO,COP,1.00,2026-11-10,5555,,,,,yes,,,2999-01-01,,x\n"
        "D-6,F,3001234566,CO,es-CO,COP,1.00,2026-11-10,6666,,,,,,,,,,\n"
    )
    report = run(db, text)
    reasons = dict(report.errors)
    assert "IANA zone" in reasons[2]
    assert "yes or no" in reasons[3]
    assert "consent_at and consent_evidence" in reasons[4]
    assert "subdivision" in reasons[5]
    assert "future" in reasons[6]
    assert report.created == 1
