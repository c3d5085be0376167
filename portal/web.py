"""What every page shares: the request's transaction, security headers, template filters, error pages."""
from flask import Flask, current_app, g, render_template, request
from werkzeug.exceptions import RequestEntityTooLarge

from portal import money
from portal.extensions import db
from portal.payments import gateway

# Stripe's scripts are the only third-party code a page may load (added with card payments).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'self'; object-src 'none'"
)


def register_web(app: Flask) -> None:
    app.after_request(commit_or_roll_back)
    app.add_template_filter(money.format_usd, "usd")
    app.add_template_filter(money.format_plain, "plain")
    fixed_headers = [("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                     ("Referrer-Policy", "same-origin"),
                     ("Permissions-Policy", "camera=(), microphone=(), geolocation=()")]
    if app.config.get("HSTS"):
        fixed_headers.append(("Strict-Transport-Security", "max-age=63072000; includeSubDomains"))

    @app.after_request
    def security_headers(response):
        headers = response.headers
        if "Content-Security-Policy" not in headers:
            headers.add("Content-Security-Policy", card_page_csp() if g.get("stripe_page") else CSP)
        headers.extend(fixed_headers)  # no view sets these
        if request.endpoint != "static":
            # Pages, PDFs, CSVs, JSON and 835 files carry patient data: never keep any of them in shared or
            # back-button caches. Only the static files (scripts, styles, images) may be cached.
            headers.set("Cache-Control", "no-store")
        return response

    for code, title in ((400, "Bad request"), (403, "Not allowed"), (404, "Not found"),
                        (413, "Too large"), (429, "Too many requests"), (500, "Something went wrong")):
        app.register_error_handler(code, _error_page(code, title))


def _error_page(code: int, title: str):
    def handler(error):
        description = getattr(error, "description", None) if code != 500 else None
        if code == 413 and description == RequestEntityTooLarge.description:
            limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
            description = f"What you sent is larger than the {limit // (1024 * 1024)} MB this site accepts."
        return render_template("errors/error.html", code=code, title=title, description=description), code

    return handler


def card_page_csp() -> str:
    """Card pages also let Stripe's own script, frames and API calls through (and nothing else)."""
    stripe = " ".join(gateway.origins())
    return (
        f"default-src 'self'; script-src 'self' {stripe}; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {stripe}; frame-src {stripe}; frame-ancestors 'none'; form-action 'self'; "
        "base-uri 'self'; object-src 'none'"
    )


# ---------------------------------------------------------------- the request's transaction

def commit_or_roll_back(response):
    """The one commit of a request (domain code only flushes): a response under 400 keeps what the view did;
    an error page, a refused form (400) or an exception's 500 rolls it back, unless the view kept a refusal."""
    status = response.status_code
    if status < 400 or (status < 500 and g.get("keep_refusal")):
        db.session.commit()  # a failing commit raises here: the client sees a 500, not a false success
    else:
        db.session.rollback()
    return response


def keep_refusal() -> None:
    """This request answers 4xx but what it wrote is the point (a failed sign-in counts toward the lockout
    and is audited): commit it anyway."""
    g.keep_refusal = True


def audit_context() -> dict:
    """Where the request came from, for `audit.record(..., **audit_context())` and the services that audit."""
    return {"ip": request.remote_addr, "user_agent": request.user_agent.string or ""}
