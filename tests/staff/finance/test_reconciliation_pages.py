"""The deposit reconciliation page: who may see and change it, uploads behind CSRF, a bad file refused with its
reason, and notes that explain an item (finance.close only)."""
import io
import re
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, BankTransaction, CardPayout, ReconciliationNote, Role, RolePermission
from tests.conftest import csrf_from, post_form

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "finance"
PAGE = "/staff/finance/reconciliation/"
NOVEMBER = f"{PAGE}?from=2026-11-01&to=2026-11-30"


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _upload(client, url: str, field: str, content: bytes, name: str, **extra):
    return post_form(client, url, {field: (io.BytesIO(content), name), **extra}, page=PAGE,
                     content_type="multipart/form-data")


def _reader_role() -> None:
    """A business-office reader: finance.view without finance.close."""
    db.session.add(Role(name="finance_reader", description="Reads the books", permissions=[
        RolePermission(permission=p) for p in ("dashboard.view", "finance.view")]))
    db.session.commit()


def test_only_finance_view_sees_the_page(login_as):
    assert login_as("biller").get(PAGE).status_code == 403
    assert login_as("clinician").post(f"{PAGE}payouts").status_code in (400, 403)  # no token: refused either way
    page = login_as("finance").get(PAGE)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    text = page.get_data(as_text=True)
    assert "Card payout report" in text and "Bank statement" in text and 'name="from"' in text


def test_uploads_import_and_show_the_reconciliation(login_as):
    client = login_as("finance")
    # a POST without the CSRF token changes nothing
    bare = client.post(f"{PAGE}bank", data={"statement": (io.BytesIO(b"x"), "s.csv"), "format": "csv"},
                       content_type="multipart/form-data")
    assert bare.status_code == 400 and _count(BankTransaction) == 0

    report = _upload(client, f"{PAGE}payouts", "report", (FIXTURES / "payout_report.csv").read_bytes(), "p.csv")
    assert report.status_code == 302
    statement = _upload(client, f"{PAGE}bank", "statement", (FIXTURES / "statement.bai2").read_bytes(), "s.bai2",
                        format="bai2")
    assert statement.status_code == 302
    assert (_count(CardPayout), _count(BankTransaction)) == (2, 6)
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"reconciliation.payouts_imported", "reconciliation.bank_imported"} <= actions

    page = client.get(NOVEMBER).get_data(as_text=True)
    assert "po_1TestPayout1001" in page and "$6.12" in page and "$7.58" in page  # fees per payout and in total
    assert "STRIPE TRANSFER" in page and "$153.88" in page  # the payout matched to its credit
    assert "INTEREST PAID" in page  # a credit nothing explains
    assert "pi_1TestUnknown999" in page  # a payout line matched to none of our payments

    again = _upload(client, f"{PAGE}bank", "statement", (FIXTURES / "statement.bai2").read_bytes(), "s.bai2",
                    format="bai2")
    assert again.status_code == 400 and "imported before" in again.get_data(as_text=True)
    assert _count(BankTransaction) == 6


def test_a_bad_file_is_refused_with_its_reason_and_changes_nothing(login_as):
    client = login_as("finance")
    missing_column = (FIXTURES / "payout_report.csv").read_bytes().replace(b",net,", b",amount,", 1)
    refused = _upload(client, f"{PAGE}payouts", "report", missing_column, "p.csv")
    assert refused.status_code == 400 and "no net column" in refused.get_data(as_text=True)
    bad_bai2 = _upload(client, f"{PAGE}bank", "statement", b"01,not a statement\n", "s.bai2", format="bai2")
    assert bad_bai2.status_code == 400 and "not a whole BAI2 file" in bad_bai2.get_data(as_text=True)
    nothing = post_form(client, f"{PAGE}payouts", {}, page=PAGE, content_type="multipart/form-data")
    assert nothing.status_code == 400 and "Choose the payout report file." in nothing.get_data(as_text=True)
    bad_range = client.get(f"{PAGE}?from=2026-02-30&to=x")
    assert bad_range.status_code == 400 and "YYYY-MM-DD" in bad_range.get_data(as_text=True)
    assert (_count(CardPayout), _count(BankTransaction)) == (0, 0)


def test_explaining_needs_finance_close_and_the_note_is_shown(login_as):
    client = login_as("finance")
    _upload(client, f"{PAGE}bank", "statement", (FIXTURES / "statement.csv").read_bytes(), "s.csv", format="csv")
    interest = db.session.scalar(select(BankTransaction).where(BankTransaction.amount_cents == 512))
    data = {"kind": "bank", "item_id": str(interest.id), "note": "Monthly interest; booked by hand.",
            "start": "2026-11-01", "end": "2026-11-30"}

    _reader_role()
    reader = login_as("finance_reader")
    page = reader.get(NOVEMBER).get_data(as_text=True)
    assert "INTEREST PAID" in page and "Save note" not in page  # may read, not explain
    assert reader.post(f"{PAGE}explain", data={**data, "csrf_token": csrf_from(page)}).status_code == 403
    assert _count(ReconciliationNote) == 0

    too_long = post_form(client, f"{PAGE}explain", {**data, "note": "x" * 501}, page=NOVEMBER)
    assert too_long.status_code == 400 and _count(ReconciliationNote) == 0
    saved = post_form(client, f"{PAGE}explain", data, page=NOVEMBER)
    assert saved.status_code == 302 and "from=2026-11-01" in saved.headers["Location"]
    note = db.session.scalar(select(ReconciliationNote))
    assert (note.item_kind, note.item_id, note.created_by) == ("bank", interest.id, f"user:{client.user.id}")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "reconciliation.explained"))
    assert event.user_id == client.user.id and event.detail["item_id"] == interest.id
    shown = client.get(NOVEMBER).get_data(as_text=True)
    row = re.search(r"<tr>\s*<td>2026-11-30</td>.*?</tr>", shown, re.S).group(0)
    assert "Monthly interest; booked by hand." in row and "Test finance" in row  # beside the item, by name
    unknown = post_form(client, f"{PAGE}explain", {**data, "item_id": "99999"}, page=NOVEMBER)
    assert unknown.status_code == 400 and "no bank transaction" in unknown.get_data(as_text=True)
    assert date(2026, 11, 30) == interest.posted_on
