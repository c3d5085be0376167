"""Every PDF a patient gets is tagged PDF/UA (a structure tree of headings, paragraphs and tables, and a title),
so a screen reader can read it."""
import re
import subprocess

from portal.extensions import db
from tests.conftest import PASSWORD, post_form
from tests.fixtures import factories
from tests.fixtures.estimates import patient_documents, ready_facility


def accessibility_of(pdf: bytes) -> dict:
    def pdfinfo(*args):
        return subprocess.run(["pdfinfo", *args, "-"], input=pdf, capture_output=True, check=True).stdout.decode()

    info, meta, structure = pdfinfo(), pdfinfo("-meta"), pdfinfo("-struct")
    return {"tagged": bool(re.search(r"^Tagged:\s+yes", info, re.M)),
            "pdf_ua": bool(re.search(r"pdfuaid:part(>1<|=\"1\")", meta)),
            "title": bool(re.search(r"^Title:\s+\S", info, re.M)),
            "structure": structure.startswith("Document") and bool(re.search(r"^\s+(H1|H2|P|Table)\b", structure,
                                                                              re.M))}


def test_statement_receipt_plan_and_estimate_pdfs_are_tagged(app, client, make_plan):
    ready_facility()
    plan = make_plan()
    account = plan.account
    statement, payment, estimate = patient_documents(account)
    user = factories.patient_login(account, PASSWORD)
    db.session.commit()
    post_form(client, "/login", {"email": user.email, "password": PASSWORD})
    base = f"/accounts/{account.id}"
    for url in (f"{base}/statements/{statement.id}/pdf", f"{base}/payments/{payment.id}/receipt/pdf",
                f"{base}/plan/agreement", f"{base}/estimates/{estimate.id}/pdf"):
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == "application/pdf", url
        assert accessibility_of(response.data) == {"tagged": True, "pdf_ua": True, "title": True,
                                                   "structure": True}, url
