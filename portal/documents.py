"""PDFs rendered from templates (statements are rendered once and kept: statements.reading)."""
from flask import current_app, render_template


def render_pdf(template: str, **context) -> bytes:
    from weasyprint import HTML  # imported late: it loads Pango

    html = render_template(template, **context)
    # PDF/UA: tagged structure, language and title, so a screen reader reads statements and receipts in order.
    return HTML(string=html, base_url=current_app.static_folder).write_pdf(pdf_variant="pdf/ua-1")


def receipt_pdf(receipt) -> bytes:
    from portal import facility

    return render_pdf("pdf/receipt.html", r=receipt, facility=facility.current())
