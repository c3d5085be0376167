"""Collections for collectors: the work queue, the aging report, the account page and its actions;
agencies and placement files; the settings page for admins."""
import secrets

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from portal import audit, collections, money, statements
from portal.auth import permission_required
from portal.clock import facility_today
from portal.extensions import db
from portal.models import Account, Agency, Facility, Payer, Payment, PaymentPlan, User, utcnow
from portal.models.collections import DUNNING_STAGES
from portal.payments import desk
from portal.web import audit_context, db_id
from staff.collections.forms import (
    AgencyForm,
    AgencyPaymentForm,
    AgencyStatusForm,
    AgingFilterForm,
    AssignForm,
    BadDebtForm,
    ContactForm,
    HoldForm,
    PlaceForm,
    PreferencesForm,
    PromiseForm,
    RecallForm,
    ReleaseForm,
    SettingsForm,
)

bp = Blueprint("staff_collections", __name__, url_prefix="/staff/collections")
QUEUE_VIEWS = {"mine": "My accounts", "unassigned": "Unassigned", "all": "Everyone's"}


def _actor() -> str:
    return f"user:{current_user.id}"


def _adjustment_right(account: Account):
    """A write-off (bad debt, an agency's fee) needs the adjustment permission and fits the role's daily limit."""
    def authorize(cents: int) -> None:
        try:
            desk.authorize_adjustment(current_user, account.id, cents)
        except desk.PostingError as exc:
            raise collections.CollectionsError(exc.message) from exc

    return authorize


def _account(account_id: int) -> Account:
    return db.session.get(Account, account_id) or abort(404)


@bp.get("/")
@permission_required("collections.work")
def queue():
    show = request.args.get("show", "all")
    if show not in QUEUE_VIEWS:
        show = "all"
    today = facility_today()
    cases = collections.queue(today, assignee_id=current_user.id if show == "mine" else None,
                              unassigned=show == "unassigned")
    rules = collections.settings()
    rows = [(c, collections.reasons(c, rules)) for c in cases]
    return render_template("staff/collections/queue.html", rows=rows, show=show, views=QUEUE_VIEWS,
                           today=today, scored_on=collections.scored_on(rules),
                           to_review=collections.holds_to_review(today),
                           hold_words=collections.HOLD_WORDS, stage_words=collections.STAGE_WORDS,
                           buckets=collections.BUCKETS)


# ---------------------------------------------------------------- aging


def _aging_filters():
    form = AgingFilterForm(request.args)
    form.payer.choices = [(0, "Any payer")] + [(p.id, p.name) for p in db.session.scalars(
        select(Payer).order_by(Payer.name))]
    form.facility.choices = [(0, "Any facility")] + [(f.id, f.name) for f in db.session.scalars(
        select(Facility).order_by(Facility.name))]
    form.collector.choices = [(0, "Any collector")] + [(u.id, u.full_name) for u in collections.collectors()]
    if not form.validate():  # a tampered filter shows the unfiltered report for today
        return form, facility_today(), collections.AgingFilters()
    filters = collections.AgingFilters(payer_id=form.payer.data or None,
                                       facility_id=form.facility.data or None,
                                       assignee_id=form.collector.data or None, stage=form.stage.data or None)
    return form, form.as_of.data or facility_today(), filters


CHART_WIDTH, CHART_HEIGHT = 520, 180


def _chart(report: collections.AgingReport) -> list[dict]:
    """Bar geometry for the inline SVG chart (heights in pixels, largest bucket full height)."""
    top = max(report.totals) or 1
    bar = CHART_WIDTH // len(report.totals)
    return [{"label": label, "cents": cents, "x": n * bar + 12, "width": bar - 24,
             "height": money.round_half_up(cents * (CHART_HEIGHT - 30), top),
             "share": f"{share // 100}.{share % 100:02d}%"}
            for n, (label, cents, share) in enumerate(zip(collections.BUCKETS, report.totals,
                                                          report.shares_bps()))]


@bp.get("/aging")
@permission_required("collections.work")
def aging():
    form, as_of, filters = _aging_filters()
    report = collections.aging(as_of, filters)
    audit.record("collections.aging_viewed", "aging_report", actor=current_user,
                 detail={"as_of": as_of.isoformat()}, **audit_context())
    return render_template("staff/collections/aging.html", form=form, report=report, bars=_chart(report),
                           chart_width=CHART_WIDTH, chart_height=CHART_HEIGHT,
                           stage_words=collections.STAGE_WORDS, buckets=collections.BUCKETS,
                           keys=collections.BUCKET_KEYS, query=request.query_string.decode())


@bp.get("/aging.csv")
@permission_required("collections.work")
def aging_csv():
    _form, as_of, filters = _aging_filters()
    audit.record("collections.aging_exported", "aging_report", actor=current_user,
                 detail={"as_of": as_of.isoformat()}, **audit_context())
    return Response("".join(collections.aging_csv(as_of, filters)), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="aging-{as_of.isoformat()}.csv"'})


# ---------------------------------------------------------------- the account page


def _render_account(account: Account, status: int = 200, **forms):
    today = facility_today()
    c = collections.case_for(account)
    agencies = collections.agencies(active_only=True)
    assign_form = forms.get("assign_form") or AssignForm(data={"assignee": c.assignee_id or 0,
                                                               "next_action_on": c.next_action_on})
    assign_form.assignee.choices = [(0, "Nobody")] + [(u.id, u.full_name) for u in collections.collectors()]
    place_form = forms.get("place_form") or PlaceForm()
    place_form.agency.choices = [(a.id, a.name) for a in agencies]
    contacts = collections.contacts(account)
    preferences = collections.contact_preferences(account)
    audit.record("collections.account_viewed", "account", actor=current_user, object_id=account.id,
                 account_id=account.id, **audit_context())
    return render_template(
        "staff/collections/account.html", account=account, case=c, today=today,
        reasons=collections.reasons(c) if c.stage in DUNNING_STAGES else [],
        scored_on=collections.scored_on(),
        holds=collections.holds(account, today), promises=collections.promises(account),
        contacts=contacts, names=collections.actor_names({c.created_by for c in contacts}),
        statements=statements.for_account(account)[:12],
        payments=db.session.scalars(select(Payment).where(Payment.account_id == account.id,
                                                          Payment.source == "patient")
                                    .order_by(Payment.received_on.desc()).limit(12)).all(),
        plans=db.session.scalars(select(PaymentPlan).where(PaymentPlan.account_id == account.id)
                                 .order_by(PaymentPlan.id.desc())).all(),
        call_check=collections.check_contact(account, "call", utcnow(), as_of=today),
        placement=collections.open_placement(account),
        placement_blockers=collections.placement_blockers(account, today),
        stage_words=collections.STAGE_WORDS, channel_words=collections.CHANNEL_WORDS,
        outcome_words=collections.OUTCOME_WORDS, buckets=collections.BUCKETS,
        contact_form=forms.get("contact_form") or ContactForm(), preferences=preferences,
        preferences_form=forms.get("preferences_form") or PreferencesForm(data={
            "email_opt_out": preferences.email_opt_out_at is not None,
            "text_consent": preferences.text_consent_at is not None}),
        promise_form=forms.get("promise_form") or PromiseForm(),
        hold_form=forms.get("hold_form") or HoldForm(), release_form=ReleaseForm(), assign_form=assign_form,
        place_form=place_form, recall_form=forms.get("recall_form") or RecallForm(),
        agency_payment_form=forms.get("agency_payment_form") or AgencyPaymentForm(
            data={"token": secrets.token_hex(16), "received_on": today}),
        bad_debt_form=forms.get("bad_debt_form") or BadDebtForm(),
    ), status


@bp.get("/accounts/<int:account_id>")
@permission_required("collections.work")
def account(account_id: int):
    return _render_account(_account(account_id))


def _act(account: Account, form_name: str, form, action, done: str):
    """Validate and run the service call; on bad input re-render the page with the errors (400)."""
    if form.validate_on_submit():
        try:
            action(form)
        except collections.CollectionsError as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
        else:
            flash(done, "info")
            return redirect(url_for(".account", account_id=account.id))
    return _render_account(account, 400, **{form_name: form})


@bp.post("/accounts/<int:account_id>/contacts")
@permission_required("collections.work")
def log_contact(account_id: int):
    account = _account(account_id)
    warnings = []

    def action(form):
        _entry, check = collections.log_contact(account, channel=form.channel.data, outcome=form.outcome.data,
                                                note=form.note.data, at=utcnow(), actor=_actor(),
                                                as_of=facility_today(), **audit_context())
        warnings.extend(check.warnings)

    response = _act(account, "contact_form", ContactForm(), action, "Contact logged.")
    for warning in warnings:
        flash(warning, "error")
    return response


@bp.post("/accounts/<int:account_id>/contact-preferences")
@permission_required("collections.work")
def contact_preferences(account_id: int):
    account = _account(account_id)
    return _act(account, "preferences_form", PreferencesForm(), lambda f: collections.set_contact_preferences(
        account, email_opt_out=f.email_opt_out.data, text_consent=f.text_consent.data, actor=_actor(),
        **audit_context()),
        "Contact preferences saved.")


@bp.post("/accounts/<int:account_id>/promises")
@permission_required("collections.work")
def record_promise(account_id: int):
    account = _account(account_id)
    return _act(account, "promise_form", PromiseForm(), lambda f: collections.record_promise(
        account, amount_cents=f.amount.cents, due_on=f.due_on.data, today=facility_today(), actor=_actor(),
        **audit_context()),
        "Promise to pay recorded.")


@bp.post("/accounts/<int:account_id>/holds")
@permission_required("collections.work")
def add_hold(account_id: int):
    account = _account(account_id)
    return _act(account, "hold_form", HoldForm(), lambda f: collections.add_hold(
        account, kind=f.kind.data, reason=f.reason.data, ends_on=f.ends_on.data, review_on=f.review_on.data,
        today=facility_today(), actor=_actor(), **audit_context()), "Hold added.")


@bp.post("/accounts/<int:account_id>/holds/release")
@permission_required("collections.work")
def release_hold(account_id: int):
    account = _account(account_id)
    form = ReleaseForm()
    if not form.validate_on_submit() or not form.hold_id.data.isdigit():
        abort(400)
    try:
        collections.release_hold(account, int(form.hold_id.data), actor=_actor(), **audit_context())
    except collections.CollectionsError:
        abort(404)
    flash("Hold released.", "info")
    return redirect(url_for(".account", account_id=account.id))


@bp.post("/accounts/<int:account_id>/assign")
@permission_required("collections.work")
def assign(account_id: int):
    account = _account(account_id)
    form = AssignForm()
    form.assignee.choices = [(0, "Nobody")] + [(u.id, u.full_name) for u in collections.collectors()]
    return _act(account, "assign_form", form, lambda f: collections.assign(
        account, assignee=db.session.get(User, f.assignee.data) if f.assignee.data else None,
        next_action_on=f.next_action_on.data, actor=_actor(), **audit_context()), "Assignment saved.")


@bp.post("/accounts/<int:account_id>/place")
@permission_required("collections.place")
def place(account_id: int):
    account = _account(account_id)
    form = PlaceForm()
    form.agency.choices = [(a.id, a.name) for a in collections.agencies(active_only=True)]
    return _act(account, "place_form", form, lambda f: collections.place(
        account, db.session.get(Agency, f.agency.data), as_of=facility_today(), actor=_actor(),
        **audit_context()),
        "Placed with the agency.")


@bp.post("/accounts/<int:account_id>/recall")
@permission_required("collections.place")
def recall(account_id: int):
    account = _account(account_id)
    return _act(account, "recall_form", RecallForm(), lambda f: collections.recall(
        account, reason=f.reason.data, as_of=facility_today(), actor=_actor(),
        **audit_context()), "Recalled from the agency.")


@bp.post("/accounts/<int:account_id>/agency-payment")
@permission_required("collections.place")
def agency_payment(account_id: int):
    account = _account(account_id)
    form = AgencyPaymentForm()
    return _act(account, "agency_payment_form", form, lambda f: collections.record_agency_payment(
        account, gross_cents=f.gross.cents, fee_cents=f.fee.cents, received_on=f.received_on.data,
        reference=f.reference.data, key=f"collections:agency:{account.id}:{f.token.data}", actor=_actor(),
        authorize=_adjustment_right(account)),
        "Agency payment posted.")


@bp.post("/accounts/<int:account_id>/bad-debt")
@permission_required("collections.place")
def bad_debt(account_id: int):
    account = _account(account_id)
    return _act(account, "bad_debt_form", BadDebtForm(), lambda f: collections.write_off_bad_debt(
        account, reason=f.reason.data, as_of=facility_today(), actor=_actor(), authorize=_adjustment_right(account),
        **audit_context()), "Written off as bad debt.")


# ---------------------------------------------------------------- agencies


@bp.route("/agencies", methods=["GET", "POST"])
@permission_required("collections.place")
def agencies():
    form = AgencyForm()
    status = 200
    if form.validate_on_submit():
        try:
            collections.create_agency(name=form.name.data, contact=form.contact.data,
                                      fee_bps=form.fee_bps.data, actor=_actor(), **audit_context())
        except collections.CollectionsError as exc:
            db.session.rollback()
            form.name.errors.append(str(exc))
        else:
            flash("Agency added.", "info")
            return redirect(url_for(".agencies"))
    if form.errors:
        status = 400
    return render_template("staff/collections/agencies.html", form=form, agencies=collections.agencies(),
                           placed=collections.open_placement_counts(), status_form=AgencyStatusForm(),
                           columns=collections.PLACEMENT_COLUMNS), status


@bp.post("/agencies/status")
@permission_required("collections.place")
def agency_status():
    form = AgencyStatusForm()
    if not (form.validate_on_submit() and form.active.data in ("0", "1") and form.agency_id.data.isdigit()):
        abort(400)
    agency = db.session.get(Agency, int(form.agency_id.data)) or abort(404)
    collections.set_agency_active(agency, active=form.active.data == "1", actor=_actor(), **audit_context())
    flash(f"{agency.name} takes new placements." if agency.active else
          f"{agency.name} takes no new placements; its open placements stay with it.", "info")
    return redirect(url_for(".agencies"))


@bp.get("/agencies/placements.csv")
@permission_required("collections.place")
def placement_file():
    agency = db.session.get(Agency, request.args.get("agency", type=db_id) or 0) or abort(404)
    body = collections.placement_file(agency, actor=_actor(), **audit_context())
    name = f"placements-{agency.id}-{facility_today().isoformat()}.csv"
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# ---------------------------------------------------------------- settings


@bp.route("/settings", methods=["GET", "POST"])
@permission_required("admin.settings")
def settings():
    rules = collections.settings()
    data = {name: getattr(rules, name) for name in collections.SETTING_FIELDS}
    data["min_placement"] = money.format_plain(rules.min_placement_cents)
    form = SettingsForm(data=data)
    if form.validate_on_submit():
        values = {name: form[name].data for name in collections.SETTING_FIELDS if name in form}
        values["min_placement_cents"] = form.min_placement.cents
        for name in values:
            if name.startswith("weight_") and values[name] is None:
                values[name] = 0
        try:
            collections.update_settings(values, actor=current_user, **audit_context())
        except collections.CollectionsError as exc:
            db.session.rollback()
            form.latest_hour.errors.append(str(exc))
        else:
            flash("Collections settings saved.", "info")
            return redirect(url_for(".settings"))
    return render_template("staff/collections/settings.html", form=form), 400 if form.errors else 200
