"""Money an 835 moves, posted exactly: claim-level adjustments, partly posted totals, denials by
rule, negative other adjustments."""
import pytest
from sqlalchemy import func, select

from portal import claims, remittances
from portal.extensions import db
from portal.models import Adjustment, Charge, Payment, Remittance, RemittanceLine
from portal.remittances import x12
from tests.fixtures.era import (
    DAY,
    SAMPLES,
    cas,
    claim,
    claims_from_file,
    counts,
    file_of,
    file_of_payments,
    ledger_clean,
    line,
    make_claim,
    remit,
)


def insurance_owed(claim_) -> int:
    total = 0
    for cl in claim_.lines:
        charge = db.session.get(Charge, cl.charge_id)
        db.session.refresh(charge)
        total += charge.insurance_balance_cents
    return total


def paid_into_ledger() -> int:
    return db.session.scalar(select(func.coalesce(func.sum(Payment.amount_cents), 0)))


def test_a_claim_paid_without_lines_posts_its_payment_and_its_claim_level_adjustment_once(app):
    ours = make_claim("ML100", [("S9480", DAY, 1, 100000)])
    content = file_of(claim("ML100", charge=100000, paid=70000, adjustments=[cas("CO", "45", 30000)]))
    result = remittances.import_file(content, "nolines.835", actor="test")

    assert (result.posted_lines, result.exceptions, result.posted_paid_cents) == (1, 0, 70000)
    assert paid_into_ledger() == 70000
    assert db.session.scalar(select(Adjustment.amount_cents)) == 30000
    assert insurance_owed(ours) == 0
    assert ledger_clean()


def test_the_medicare_part_a_example_posts_everything_it_pays(app):
    # Posted from its parsed figures, so this holds whatever the validator says of the file.
    content = (SAMPLES / "medicare-part-a.835").read_bytes()
    ours = claims_from_file(content)
    result = remittances.post(x12.parse(content), content, "medicare-part-a.835", actor="test")

    assert (result.exceptions, result.posted_paid_cents) == (0, 14999873)
    assert paid_into_ledger() == 14999873
    assert [insurance_owed(c) for c in ours] == [0, 0]
    assert db.session.get(Remittance, result.remittance_id).status == "posted"
    assert ledger_clean()


def test_claim_level_adjustment_beyond_what_the_claim_can_take_waits_as_an_exception(app):
    make_claim("ML101", [("S9480", DAY, 1, 100000)])
    content = file_of(claim("ML101", charge=100000, paid=-20000, adjustments=[cas("CO", "45", 120000)]))
    result = remittances.import_file(content, "toomuch.835", actor="test", )

    assert (result.posted_lines, result.exceptions) == (0, 1)
    assert "more than the lines paid" in remittances.open_exceptions()[0].reason
    assert paid_into_ledger() == 0 and ledger_clean()


def test_lines_that_do_not_add_up_to_the_claims_payment_refuse_the_file_with_the_figures(app):
    make_claim("ML102", [("S9480", DAY, 1, 299000)])
    content = file_of(claim("ML102", line("S9480", 299000, 299000), charge=1495000, paid=1495000))
    before = counts()
    try:
        remittances.import_file(content, "short.835", actor="test")
    except remittances.EraError as exc:
        message = " ".join(exc.problems)
    else:
        raise AssertionError("the file was accepted")
    assert "claim ML102" in message and "$2,990.00" in message and "$14,950.00" in message
    assert counts() == before


def test_the_posted_total_of_a_partly_posted_claim_is_what_the_ledger_holds(app):
    make_claim("ML103", [("S9480", DAY, 1, 60000)])  # the payer's second line is not on our claim
    content = file_of(claim("ML103", line("S9480", 60000, 39980, cas("CO", "45", 20020)),
                            line("90791", 30000, 12100, cas("CO", "45", 17900))))
    result = remittances.import_file(content, "partly.835", actor="test")

    assert (result.posted_lines, result.exceptions) == (1, 1)
    assert result.posted_paid_cents == paid_into_ledger() == 39980
    assert db.session.get(Remittance, result.remittance_id).posted_paid_cents == 39980


def test_a_line_paid_nothing_with_nothing_for_the_patient_is_a_denial_whatever_its_code(app):
    ours = make_claim("ML104", [("S9480", DAY, 1, 90000), ("90791", DAY, 1, 30000)])
    content = file_of(claim("ML104", line("S9480", 90000, 65000, cas("CO", "45", 25000)),
                            line("90791", 30000, 0, cas("CO", "97", 30000))))
    remittances.import_file(content, "bundled.835", actor="test")

    denied = [d.line for d in claims.list_denials()]
    assert [ln.denial_codes for ln in denied] == ["CO-97"]
    assert "another service" in denied[0].denial_reason
    assert insurance_owed(ours) == 30000  # still owed while it is appealed: not written off
    assert db.session.scalar(select(func.count(Adjustment.id))) == 1
    assert ledger_clean()


def test_a_line_paid_nothing_because_the_patient_owes_it_is_not_a_denial(app):
    make_claim("ML105", [("S9480", DAY, 1, 30000)])
    content = file_of(claim("ML105", line("S9480", 30000, 0, cas("PR", "1", 30000))))
    remittances.import_file(content, "deductible.835", actor="test")
    assert claims.list_denials() == []
    assert db.session.scalar(select(RemittanceLine.posted))


def test_a_negative_other_adjustment_on_a_secondary_payment_posts(app):
    # The guide's secondary example: billed 541.00, OA-23 516.00 (the primary's adjudication),
    # OA-94 -9.00 (paid above the primary's allowed amount), paid 34.00.
    ours = make_claim("ML106", [("55669", DAY, 1, 54100)])
    content = file_of(claim("ML106", line("55669", 54100, 3400, cas("OA", "23", 51600), cas("OA", "94", -900),
                                          allowed=55000), status="2"))
    result = remittances.import_file(content, "secondary.835", actor="test")

    assert (result.posted_lines, result.exceptions, result.posted_paid_cents) == (1, 0, 3400)
    assert paid_into_ledger() == 3400
    written_off = db.session.scalars(select(Adjustment)).all()
    assert [(a.group_code, a.carc, a.amount_cents) for a in written_off] == [("OA", "23", 50700)]
    assert insurance_owed(ours) == 0
    assert ledger_clean()


def test_a_negative_other_adjustment_at_claim_level_posts_the_same_way(app):
    # The same secondary payment with the OA-94 -9.00 written on the claim (CLP04 34.00 = lines 25.00 + 9.00).
    ours = make_claim("ML108", [("55669", DAY, 1, 54100)])
    content = file_of(claim("ML108", line("55669", 54100, 2500, cas("OA", "23", 51600)), status="2",
                            adjustments=[cas("OA", "94", -900)]))
    result = remittances.import_file(content, "secondary.835", actor="test")

    assert (result.posted_lines, result.exceptions, result.posted_paid_cents) == (1, 0, 3400)
    assert paid_into_ledger() == 3400
    written_off = db.session.scalars(select(Adjustment)).all()
    assert [(a.group_code, a.carc, a.amount_cents) for a in written_off] == [("OA", "23", 50700)]
    assert insurance_owed(ours) == 0
    assert ledger_clean()


def test_a_claim_number_reused_for_another_patient_waits_as_an_exception(app):
    ours = make_claim("ML107", [("S9480", DAY, 1, 90000)], member_id="W100200300")
    content = file_of(claim("ML107", line("S9480", 90000, 65000, cas("CO", "45", 25000)), member_id="Z999888777"),
                      claim("ML107", line("S9480", 90000, 65000, cas("CO", "45", 25000)), member_id="w100-200-300",
                            payer_claim_number="PCN-OURS"))
    result = remittances.import_file(content, "reused.835", actor="test")

    assert (result.posted_lines, result.exceptions, result.posted_paid_cents) == (1, 1, 65000)
    [waiting] = remittances.open_exceptions()
    assert waiting.remittance_claim.sequence == 1 and waiting.remittance_claim.claim_id is None
    assert "member Z999888777" in waiting.reason and "same patient" in waiting.reason
    assert insurance_owed(ours) == 0 and ledger_clean()


def two_payments(trace_a="TRC-A", trace_b="TRC-B", paid_b=120000):
    return file_of_payments(
        remit(claim("ML108", line("S9480", 100000, 70000, cas("CO", "45", 30000))), trace=trace_a),
        remit(claim("ML109", line("S9480", 150000, 120000, cas("CO", "45", 30000))), trace=trace_b, total=paid_b))


def test_each_payment_in_a_file_is_its_own_remittance_balanced_and_checked_for_duplicates(app):
    first, second = (make_claim(n, [("S9480", DAY, 1, c)]) for n, c in (("ML108", 100000), ("ML109", 150000)))
    result = remittances.import_file(two_payments(), "two.835", actor="test")

    found = [(result.trace_number, result.payment_cents, result.posted_paid_cents)] + [
        (r.trace_number, r.payment_cents, r.posted_paid_cents) for r in result.further]
    assert found == [("TRC-A", 70000, 70000), ("TRC-B", 120000, 120000)]
    assert db.session.scalar(select(func.count(Remittance.id))) == 2
    assert paid_into_ledger() == 190000 and insurance_owed(first) == insurance_owed(second) == 0
    assert ledger_clean()

    before = counts()
    again = file_of_payments(remit(claim("ML108", line("S9480", 100000, 70000, cas("CO", "45", 30000))),
                                   trace="TRC-NEW"),
                             remit(claim("ML109", line("S9480", 150000, 120000, cas("CO", "45", 30000))),
                                   trace="TRC-B"))
    try:
        remittances.import_file(again, "again.835", actor="test")
    except remittances.EraError as exc:
        assert "same payer and trace number" in str(exc)
    else:
        raise AssertionError("a payment already posted was accepted again")
    assert counts() == before


def test_a_file_with_one_unbalanced_payment_posts_none_of_them(app):
    make_claim("ML108", [("S9480", DAY, 1, 100000)])
    make_claim("ML109", [("S9480", DAY, 1, 150000)])
    before = counts()
    try:
        remittances.import_file(two_payments(paid_b=110000), "unbalanced.835", actor="test")
    except remittances.EraError as exc:
        assert exc.problems == ["payment 2 of 2 (trace TRC-B): transaction: claims paid $1,200.00 − provider "
                                "adjustments $0.00 ≠ BPR total $1,100.00"]
    else:
        raise AssertionError("the file was accepted")
    assert counts() == before


def test_a_secondary_line_paid_nothing_because_the_primary_paid_it_is_not_a_denial(app):
    ours = make_claim("ML109", [("S9480", DAY, 1, 30000)])
    content = file_of(claim("ML109", line("S9480", 30000, 0, cas("OA", "23", 30000)), status="2"))
    remittances.import_file(content, "secondary-nothing-left.835", actor="test")
    assert claims.list_denials() == []
    assert insurance_owed(ours) == 0  # written off as the other payer's share, not left to appeal
    assert ledger_clean()


@pytest.mark.parametrize("framing", [b"", b"\xef\xbb\xbf"], ids=["plain", "with a byte-order mark"])
def test_the_upload_page_of_a_file_with_two_payments_links_each_of_them(app, login_as, framing):
    for n, c in (("ML108", 100000), ("ML109", 150000)):
        make_claim(n, [("S9480", DAY, 1, c)])
    upload = remittances.create_upload(framing + two_payments().replace(b"~\n", b"~\r\n"), "two.835", actor="test")
    db.session.commit()
    remittances.run_upload(upload.id, actor="test")
    db.session.commit()
    ids = db.session.scalars(select(Remittance.id).order_by(Remittance.id)).all()
    assert len(ids) == 2
    page = login_as("biller").get(f"/staff/remittances/uploads/{upload.id}").get_data(as_text=True)
    assert "2 payments" in page
    for remittance_id, trace in zip(ids, ("TRC-A", "TRC-B"), strict=True):
        assert f'href="/staff/remittances/{remittance_id}"' in page and f"trace {trace}" in page
