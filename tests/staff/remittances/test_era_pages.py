"""Staff remittance pages: what a biller sees and can do, and what others cannot."""
import io
import re
from datetime import date

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, EraException, EraUpload, Payer, Underpayment
from tests.conftest import post_form
from tests.fixtures import era as ef
from tests.fixtures import era_pages as pf
from tests.fixtures import factories


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def audited(action: str) -> int:
    return db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == action))


def upload(client, content: bytes, name: str = "remit.835"):
    return post_form(client, "/staff/remittances/upload", {"file": (io.BytesIO(content), name)},
                     content_type="multipart/form-data", follow_redirects=True)


def test_a_clinician_reaches_none_of_the_remittance_pages(login_as, remittance_world):
    client = login_as("clinician")
    w = remittance_world
    for url in ("/staff/remittances/", f"/staff/remittances/{w.remittance.id}", "/staff/remittances/exceptions",
                f"/staff/remittances/exceptions/{w.exception.id}", "/staff/remittances/denials",
                "/staff/remittances/underpayments", "/staff/remittances/upload",
                f"/staff/remittances/{w.remittance.id}/file",
                f"/staff/remittances/payers/{w.remittance.payer_id}/drift"):
        assert client.get(url).status_code == 403, url
    assert "Remittances" not in text(client.get("/staff/"))


def test_the_list_shows_payer_trace_total_claims_posted_and_waiting(login_as, remittance_world):
    page = text(login_as("biller").get("/staff/remittances/"))
    row = re.search(r"<tr> <td>Payer 1999999999</td>.*?</tr>", page).group(0)
    assert "TRC-PAGES-1" in row and "11/02/2026" in row and "$1,430.00" in row
    assert re.search(r'<td class="num">3</td> <td class="num">2 of 3</td>', row)
    assert '<span class="tag warn">1</span>' in row
    assert "1 claim(s) or line(s) wait" in page


def test_the_detail_says_what_posted_in_words_what_waits_and_is_audited(login_as, remittance_world):
    client = login_as("biller")
    page = text(client.get(f"/staff/remittances/{remittance_world.remittance.id}"))
    assert "CO-45 Charge exceeds fee schedule or contracted fee: $400.00" in page
    assert "PR-2 Coinsurance amount: $120.00" in page
    assert "CO-50 Not deemed a medical necessity: $900.00" in page and "N115 Decision based on a local" in page
    assert "Waits: No claim has control number CLM-TYPO-9" in page
    assert "2 of 3 posted" in page and "1 denied · 1 waiting" in page
    assert "Underpaid $400.00" in page
    assert audited("remittance.viewed") == 1


def test_the_original_file_downloads_unchanged_and_is_audited(login_as, remittance_world):
    client = login_as("biller")
    response = client.get(f"/staff/remittances/{remittance_world.remittance.id}/file")
    assert response.status_code == 200 and response.data == pf.remittance_file()
    assert 'filename="harbor-1102.835"' in response.headers["Content-Disposition"]
    assert audited("remittance.downloaded") == 1


def test_unknown_ids_are_404(login_as, remittance_world):
    client = login_as("biller")
    for url in ("/staff/remittances/999", "/staff/remittances/999/file", "/staff/remittances/exceptions/999",
                "/staff/remittances/uploads/999", "/staff/remittances/uploads/999/status",
                "/staff/remittances/payers/999/drift"):
        assert client.get(url).status_code == 404, url
    for url in ("/staff/remittances/denials/999", "/staff/remittances/denials/999/appeal.pdf"):
        assert client.get(url).status_code == 404, url
    response = post_form(client, "/staff/remittances/denials/999/move", {"state": "working", "note": "x"},
                         page="/staff/remittances/denials")
    assert response.status_code == 404


def test_uploading_an_835_posts_it_and_shows_the_outcome(app, login_as):
    factories.facility()
    pf.make_claims()
    pf.contract_rate()
    client = login_as("biller")
    response = upload(client, pf.remittance_file("TRC-UP-1"), "harbor.835")
    page = text(response)
    assert response.status_code == 200 and "The remittance was imported" in page
    record = db.session.scalar(select(EraUpload))
    assert record.status == "posted" and record.remittance_id
    status = client.get(f"/staff/remittances/uploads/{record.id}/status").get_json()
    assert status["status"] == "posted" and status["remittance_id"] == record.remittance_id
    assert f'/staff/remittances/{record.remittance_id}"' in page
    item = db.session.scalar(select(Underpayment))  # the task checked the posted lines
    assert (item.expected_allowed_cents, item.shortfall_cents) == (100000, 40000)


def test_a_refused_file_shows_the_reasons_and_changes_nothing(app, login_as):
    factories.facility()
    pf.make_claims()
    client = login_as("biller")
    before = ef.counts()
    unbalanced = ef.file_of(ef.claim("CLM-PAID-1", ef.line("S9480", 100000, 48000, ef.cas("CO", "45", 40000))),
                            total=99999)
    page = text(upload(client, unbalanced, "bad.835"))
    assert "The file was refused" in page and "Nothing was posted" in page
    assert "does not balance" in page
    assert ef.counts() == before
    record = db.session.scalar(select(EraUpload))
    assert record.status == "refused" and record.remittance_id is None and record.problems
    assert "Refused" in text(client.get("/staff/remittances/"))


def test_the_same_file_twice_is_refused_the_second_time(app, login_as):
    factories.facility()
    pf.make_claims()
    client = login_as("biller")
    content = pf.remittance_file("TRC-TWICE")
    upload(client, content)
    before = ef.counts()
    page = text(upload(client, content, "again.835"))
    assert "The file was refused" in page and ef.counts() == before


def test_an_empty_upload_re_renders_with_the_error(app, login_as):
    client = login_as("biller")
    response = upload(client, b"   ", "empty.835")
    assert response.status_code == 400 and "The file is empty." in text(response)
    assert db.session.scalar(select(func.count(EraUpload.id))) == 0


def test_a_biller_finds_the_claim_and_matches_the_exception(login_as, remittance_world):
    client = login_as("biller")
    w = remittance_world
    queue = text(client.get("/staff/remittances/exceptions"))
    assert "CLM-TYPO-9" in queue and "XQ0000001" in queue and "$950.00" in queue
    url = f"/staff/remittances/exceptions/{w.exception.id}"
    found = text(client.get(url, query_string={"q": w.lost_claim.patient.last_name}))
    assert "CLM-LOST-1" in found and "Match to CLM-LOST-1" in found
    assert "CLM-LOST-1" in text(client.get(url, query_string={"q": "memlost"}))
    assert "No claim matches" in text(client.get(url, query_string={"q": "nobody-at-all"}))
    response = post_form(client, f"{url}/match", {"claim_id": w.lost_claim.id}, page=url)
    assert response.status_code == 302
    db.session.refresh(w.exception)
    assert w.exception.state == "matched" and w.exception.claim_id == w.lost_claim.id
    assert w.lost_claim.patient.account.insurance_balance_cents == 0  # paid in full
    assert "Nothing waiting." in text(client.get("/staff/remittances/exceptions"))
    assert audited("era_exception.matched") == 1


def test_a_bad_match_says_why_and_changes_nothing(login_as, remittance_world):
    client = login_as("biller")
    w = remittance_world
    url = f"/staff/remittances/exceptions/{w.exception.id}"
    other = ef.make_claim("CLM-OTHER-1", [("H0015", date(2026, 9, 1), 1, 95000)])  # another day and code
    before = ef.counts()
    post_form(client, f"{url}/match", {"claim_id": other.id}, page=url)
    page = text(client.get(url))
    assert 'class="flash flash-error"' in page and ef.counts() == before
    db.session.refresh(w.exception)
    assert w.exception.state == "open"


def test_an_exception_is_set_aside_only_with_a_note(login_as, remittance_world):
    client = login_as("biller")
    url = f"/staff/remittances/exceptions/{remittance_world.exception.id}"
    post_form(client, f"{url}/dismiss", {"note": ""}, page=url)
    db.session.refresh(remittance_world.exception)
    assert remittance_world.exception.state == "open"
    post_form(client, f"{url}/dismiss", {"note": "Not our patient; returned to payer"}, page=url)
    db.session.refresh(remittance_world.exception)
    assert remittance_world.exception.state == "dismissed"
    assert remittance_world.exception.note == "Not our patient; returned to payer"
    assert audited("era_exception.dismissed") == 1


def test_the_denial_worklist_shows_reasons_in_words_and_each_denial_takes_a_note(login_as, remittance_world):
    client = login_as("biller")
    w = remittance_world
    page = text(client.get("/staff/remittances/denials"))
    row = re.search(rf'<tr id="denial-{w.denial.id}">.*?</tr>', page).group(0)
    assert w.denied_claim.patient.full_name in row and "$900.00" in row and "Open" in row
    assert "10/01/2026" in row and "CO-50" in row and "N115" in row
    assert "CO-50 Not deemed a medical necessity · Payer 1999999999" in page  # its group: reason · payer
    url = f"/staff/remittances/denials/{w.denial.id}"
    response = post_form(client, f"{url}/move", {"state": "appealed", "note": ""}, page=url)
    assert response.status_code == 400 and "Say what was done about the denial." in text(response)
    post_form(client, f"{url}/move", {"state": "appealed", "note": "Appeal letter sent with records"}, page=url)
    row = re.search(rf'<tr id="denial-{w.denial.id}">.*?</tr>', text(client.get("/staff/remittances/denials")))
    assert "Appealed" in row.group(0)  # an appeal waits for its outcome: still on the worklist
    db.session.refresh(w.denial)
    assert [s.state for s in w.denial.steps] == ["open", "appealed"]
    assert w.denial.steps[-1].note == "Appeal letter sent with records"
    assert audited("denial.appealed") == 1


def test_the_underpayment_worklist_shows_the_evidence_and_takes_a_note(login_as, remittance_world):
    client = login_as("biller")
    item = remittance_world.underpayment
    page = text(client.get("/staff/remittances/underpayments"))
    row = re.search(rf'<tr id="underpayment-{item.id}">.*?</tr>', page).group(0)
    assert "$600.00" in row and "$1,000.00" in row and "$480.00" in row and "<strong>$400.00</strong>" in row
    assert remittance_world.paid_claim.patient.full_name in row and "below 95% of what was expected" in page
    assert "Contract rate $1,000.00 per unit from 01/01/2026" in row
    url = f"/staff/remittances/underpayments/{item.id}"
    post_form(client, url, {"status": "accepted", "note": ""}, page="/staff/remittances/underpayments")
    db.session.refresh(item)
    assert item.status == "open"
    post_form(client, url, {"status": "accepted", "note": "Payer's new rate; contract renegotiated"},
              page="/staff/remittances/underpayments")
    db.session.refresh(item)
    assert item.status == "accepted" and item.resolved_by == f"user:{client.user.id}"
    assert "No open underpayments." in text(client.get("/staff/remittances/underpayments"))
    assert audited("underpayment.accepted") == 1


def test_the_payer_drift_page_charts_the_monthly_median(login_as, remittance_world):
    client = login_as("biller")
    page = text(client.get(f"/staff/remittances/payers/{remittance_world.remittance.payer_id}/drift"))
    assert "<svg" in page and "2026-10" in page
    assert re.search(r'<td>2026-10</td> ?<td class="num">\$600.00</td> ?<td class="num">1</td>', page)  # no denials


def test_admins_edit_the_settings_and_billers_cannot(login_as, remittance_world):
    assert login_as("biller").get("/staff/remittances/underpayments/settings").status_code == 403
    admin = login_as("admin")
    url = "/staff/remittances/underpayments/settings"
    bad = post_form(admin, url, {"threshold_bps": "20000", "minimum_sample": "20", "lookback_days": "365"})
    assert bad.status_code == 400
    ok = post_form(admin, url, {"threshold_bps": "9000", "minimum_sample": "30", "lookback_days": "180"})
    assert ok.status_code == 302
    from portal.remittances import underpayments

    record = underpayments.settings()
    assert (record.threshold_bps, record.minimum_sample, record.lookback_days) == (9000, 30, 180)
    assert audited("underpayment_settings.updated") == 1


def test_admins_add_contract_rates(login_as, remittance_world):
    admin = login_as("admin")
    payer = db.session.scalar(select(Payer))
    url = "/staff/remittances/contract-rates"
    data = {"payer_id": payer.id, "plan_id": 0, "procedure_code": "h0015", "allowed": "abc",
            "effective_from": "2026-01-01", "effective_to": ""}
    assert post_form(admin, url, data).status_code == 400
    assert post_form(admin, url, {**data, "allowed": "450.00"}).status_code == 302
    page = text(admin.get(url))
    assert "H0015" in page and "$450.00" in page and "open-ended" in page


def test_dashboard_cards_count_what_waits(login_as, remittance_world):
    page = text(login_as("biller").get("/staff/"))
    for title in ("ERA exceptions waiting", "Denials open", "Underpayments open"):
        assert re.search(rf"{title}.{{0,200}}>1<", page), title
    assert "ERA exceptions waiting" not in text(login_as("clinician").get("/staff/"))
    assert db.session.scalar(select(func.count(EraException.id))) == 1


def test_a_line_exception_shows_the_line_that_waits(app, login_as):
    from datetime import timedelta

    from portal import remittances

    factories.facility()
    ef.make_claim("CLM-LINE-1", [("S9480", ef.DAY, 1, 100000), ("S9480", ef.DAY + timedelta(days=1), 1, 100000)])
    content = ef.file_of(ef.claim("CLM-LINE-1", ef.line("S9480", 100000, 100000),
                                  ef.line("S9480", 100000, 100000, day=ef.DAY + timedelta(days=9))))
    upload_ = remittances.run_upload(remittances.create_upload(content, "line.835", actor="test").id, actor="test")
    assert upload_.status == "posted"
    exc = db.session.scalar(select(EraException))
    assert exc.remittance_line_id is not None
    page = text(login_as("biller").get(f"/staff/remittances/exceptions/{exc.id}"))
    assert "The line that waits:</strong> S9480 on 10/10/2026 · billed $1,000.00 · paid $1,000.00" in page
    assert "matched claim CLM-LINE-1" in page
    client = login_as("biller")
    url = f"/staff/remittances/exceptions/{exc.id}"
    claim = exc.remittance_claim.claim
    page = text(client.get(url))
    assert "Post it to a line of claim CLM-LINE-1" in page and "Post to line 2" in page
    post_form(client, f"{url}/match", {"claim_id": claim.id, "claim_line_id": claim.lines[1].id}, page=url)
    db.session.refresh(exc)
    assert exc.state == "matched"
    assert claim.lines[1].charge.insurance_balance_cents == 0  # the payer's 10/10 line paid our 10/02 line
