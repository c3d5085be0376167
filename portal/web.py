"""What every page shares: the request's transaction, security headers, template filters, error pages."""
from flask import Flask, abort, current_app, g, make_response, render_template, request
from flask_babel import LazyString
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from portal import clock, facility, money
from portal.estimates.config import count_of
from portal.estimates.share import grouped_days
from portal.extensions import db
from portal.payments import gateway

# Stripe's scripts are the only third-party code a page may load (added with card payments).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'self'; object-src 'none'"
)


# Every id column is a 32-bit integer: a larger id names nothing (and would overflow the database's parameter).
MAX_ID = 2 ** 31 - 1
FIXED_HEADERS = (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                 ("Referrer-Policy", "same-origin"), ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"))
NUL_MESSAGE = _l("The request contains a character that is not allowed (NUL).")


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: an id past 2**31 - 1 matches no route, so it is a 404."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):  # Werkzeug's argument names
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def register_converters(app: Flask) -> None:
    """Before any blueprint adds its routes."""
    app.url_map.converters["int"] = IdConverter


def db_id(value) -> int:
    """An id from a query string or JSON (`request.args.get("payer", type=db_id)`): ValueError unless it is
    1 to MAX_ID, so an absurd one reads as absent."""
    text = str(value if value is not None else "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 10 or not 0 < int(text) <= MAX_ID:
        raise ValueError(f"not an id: {text[:20]!r}")
    return int(text)


def json_id(value) -> int | None:
    try:
        return db_id(value)
    except ValueError:
        return None


def json_object() -> dict:
    """The request's JSON body, which must be an object: {} when there is none, 400 when it is a list,
    a string or a number."""
    data = request.get_json(silent=True)
    if data is None:
        return {}
    if not isinstance(data, dict):
        abort(400, description=_("Send the details as a JSON object."))
    return data


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def refuse_nul():
    """No text may hold a NUL byte (PostgreSQL refuses it in every text value, so it could only end in a 500).
    Forms say so on the field (portal.forms.Form); the address and JSON bodies are refused here."""
    if "\x00" in request.path or any(_has_nul(k) or _has_nul(v) for k, v in request.args.items(multi=True)):
        abort(400, description=NUL_MESSAGE)
    if request.is_json and _has_nul(request.get_json(silent=True)):
        abort(400, description=NUL_MESSAGE)


def person(actor: str | None) -> str:
    """Who did something, as staff read it: "user:4" is the user's name; a task or command label stays as
    written. The names are read once per request."""
    text = actor or ""
    if not text.startswith("user:") or not text[5:].isdigit() or len(text) > 15:
        return text
    if "staff_names" not in g:
        from portal.models import User

        g.staff_names = dict(db.session.execute(db.select(User.id, User.full_name)).all())
    return g.staff_names.get(int(text[5:]), text)


def register_web(app: Flask) -> None:
    app.before_request(refuse_nul)
    app.after_request(commit_or_roll_back)
    app.register_error_handler(IntegrityError, _conflict)
    app.add_template_filter(money.format_usd, "usd")
    app.add_template_filter(money.format_plain, "plain")
    app.add_template_filter(money.format_deduction, "less")
    app.add_template_filter(clock.facility_time, "facility_time")
    app.add_template_filter(clock.long_date, "day")
    app.add_template_filter(count_of, "count_of")
    app.add_template_filter(grouped_days, "grouped_days")
    app.add_template_filter(person, "person")
    # What patients see the facility called: its stored neutral name (read only where a page shows it).
    app.jinja_env.globals["facility_name"] = lambda: facility.current().neutral_name
    app.jinja_env.globals["current_facility"] = facility.current
    fixed_headers = list(FIXED_HEADERS)
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

    for code, title in ((400, _l("Bad request")), (403, _l("Not allowed")), (404, _l("Not found")),
                        (409, _l("Changed meanwhile")), (413, _l("Too large")), (429, _l("Too many requests")),
                        (500, _l("Something went wrong"))):
        app.register_error_handler(code, _error_page(code, title))


def _error_page(code: int, title: str | LazyString):
    def handler(error):
        if code == 500:
            db.session.rollback()  # the page itself reads the database (the header's counts)
        description = getattr(error, "description", None) if code != 500 else None
        if code == 413 and description == RequestEntityTooLarge.description:
            limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
            description = _("What you sent is larger than the %(megabytes)s MB this site accepts.",
                            megabytes=limit // (1024 * 1024))
        return render_template("errors/error.html", code=code, title=title, description=description), code

    return handler


CONFLICT_MESSAGE = _l("Someone else saved the same thing at the same moment, so this was not saved. "
                      "Reload the page to see the latest, then try again.")


def _conflict(_error):
    """A unique constraint lost a race (two people, or a double click): 409, never a 500."""
    db.session.rollback()
    return render_template("errors/error.html", code=409, title=_("Changed meanwhile"),
                           description=CONFLICT_MESSAGE), 409


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
        try:
            db.session.commit()  # a failing commit raises here: the client sees a 500, not a false success
        except IntegrityError as error:  # except a lost race on a unique key: a 409, and nothing saved
            conflict = make_response(_conflict(error))
            kept = ("Content-Security-Policy", "Cache-Control", "Strict-Transport-Security", *dict(FIXED_HEADERS))
            for name in kept:
                if name in response.headers:
                    conflict.headers[name] = response.headers[name]
            return conflict
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
