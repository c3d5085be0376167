"""Episodes, charges entered by hand, and the charge review queue (audited: each page shows or changes PHI)."""
import re
import uuid

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from portal import audit, charges, ledger, money
from portal.auth import permission_required
from portal.clock import facility_today
from portal.extensions import db
from portal.models import BillingCode, Charge, Episode, Patient, Program, Provider
from portal.web import audit_context, db_id
from staff.charges.forms import NONE, EpisodeForm, HandChargeForm, ReviewFilterForm
from staff.forms import ActionForm

bp = Blueprint("staff_charges", __name__, url_prefix="/staff/charges")


def _actor() -> str:
    return f"user:{current_user.id}"


def _patient(patient_id: int) -> Patient:
    patient = db.session.get(Patient, patient_id)
    if patient is None:
        abort(404)
    return patient


def _split(text: str | None) -> list[str]:
    return [part for part in re.split(r"[\s,;]+", (text or "").strip().upper()) if part]


# ---------------------------------------------------------------- the patient's episodes and charges


@bp.get("/patients/<int:patient_id>")
@permission_required("accounts.view")
def patient(patient_id: int):
    found = _patient(patient_id)
    listed = db.session.scalars(select(Charge).where(Charge.patient_id == found.id)
                                .order_by(Charge.service_date.desc(), Charge.id.desc()).limit(200)).all()
    audit.record("patient.charges_viewed", "patient", actor=current_user, object_id=found.id, patient_id=found.id,
                 account_id=found.account_id, **audit_context())
    return render_template("staff/charges/patient.html", patient=found, episodes=charges.episodes_for(found.id),
                           charges=listed, format_diagnosis=charges.format_diagnosis,
                           describe=charges.diagnosis_description)


# ---------------------------------------------------------------- episodes


@bp.route("/patients/<int:patient_id>/episodes/new", methods=["GET", "POST"])
@permission_required("accounts.edit")
def episode_new(patient_id: int):
    return _episode_form(_patient(patient_id), None)


@bp.route("/episodes/<int:episode_id>", methods=["GET", "POST"])
@permission_required("accounts.edit")
def episode_edit(episode_id: int):
    episode = db.session.get(Episode, episode_id) or abort(404)
    return _episode_form(episode.patient, episode)


def _episode_form(patient: Patient, episode: Episode | None):
    data = None
    if episode is not None:
        data = {"program_id": episode.program_id, "admit_date": episode.admit_date,
                "discharge_date": episode.discharge_date,
                "diagnoses": ", ".join(charges.format_diagnosis(d.code) for d in episode.diagnoses),
                "referring_provider_name": episode.referring_provider_name,
                "referring_provider_npi": episode.referring_provider_npi}
    form = EpisodeForm(data=data)
    programs = db.session.scalars(select(Program).where(Program.active.is_(True)).order_by(Program.name)).all()
    form.program_id.choices = [(p.id, p.name) for p in programs]
    if form.validate_on_submit():
        values = charges.EpisodeValues(
            program_id=form.program_id.data, admit_date=form.admit_date.data, discharge_date=form.discharge_date.data,
            diagnoses=_split(form.diagnoses.data), referring_provider_name=form.referring_provider_name.data,
            referring_provider_npi=(form.referring_provider_npi.data or "").strip() or None)
        try:
            detail: dict
            if episode is None:
                episode = charges.create_episode(patient, values, actor=_actor())
                action, detail = "episode.created", {"program_id": episode.program_id}
            else:
                action, detail = "episode.updated", charges.update_episode(episode, values)
        except charges.EpisodeError as exc:
            for name, message in exc.problems.items():
                form[name].errors = [*form[name].errors, message]
        else:
            audit.record(action, "episode", actor=current_user, object_id=episode.id, patient_id=patient.id,
                         account_id=patient.account_id, detail=detail, **audit_context())
            flash("Episode saved.", "info")
            return redirect(url_for(".patient", patient_id=patient.id))
    if episode is not None and request.method == "GET":
        audit.record("episode.viewed", "episode", actor=current_user, object_id=episode.id, patient_id=patient.id,
                     account_id=patient.account_id, **audit_context())
    return render_template("staff/charges/episode_form.html", form=form, patient=patient, episode=episode,
                           programs=programs), 400 if form.is_submitted() else 200


# ---------------------------------------------------------------- charges by hand


@bp.route("/patients/<int:patient_id>/charges/new", methods=["GET", "POST"])
@permission_required("charges.post")
def charge_new(patient_id: int):
    patient = _patient(patient_id)
    today = facility_today()
    active = charges.coverage_on(patient.id, today)
    episodes = charges.episodes_for(patient.id)
    form = HandChargeForm(data={"service_date": today, "units": 1, "token": uuid.uuid4().hex,
                                "coverage_id": active[0].id if active else NONE,
                                "episode_id": episodes[0].id if episodes else NONE,
                                "place_of_service": _default_place_of_service(episodes)})
    codes = db.session.scalars(select(BillingCode).where(BillingCode.kind == "billable")
                               .order_by(BillingCode.code)).all()
    form.billing_code_id.choices = [(c.id, f"{c.code} {c.description} · {money.format_usd(c.default_price_cents)}"
                                            f" a unit") for c in codes]
    providers = db.session.scalars(select(Provider).where(Provider.active.is_(True))
                                   .order_by(Provider.last_name, Provider.organization_name)).all()
    form.rendering_provider_id.choices = [(NONE, "None"), *((p.id, f"{p.display_name} · NPI {p.npi}")
                                                            for p in providers)]
    form.episode_id.choices = [(NONE, "None"), *((e.id, _episode_label(e)) for e in episodes)]
    form.coverage_id.choices = [(NONE, "Self-pay (the patient owes it)"), *(
        (c.id, f"{c.payer.name} · member {c.member_id} · from {c.start_date:%m/%d/%Y}"
               + (f" to {c.end_date:%m/%d/%Y}" if c.end_date else "")) for c in patient.coverages)]
    priced = None
    if form.validate_on_submit():
        hand = _hand_charge(patient, form)
        if not form.diagnosis_pointers.errors:
            try:
                if not form.post.data:  # "Show the price": check everything, post nothing
                    priced = charges.check_hand_charge(hand)[1]
                else:
                    charge = charges.post_hand_charge(hand, actor=_actor())
            except charges.HandChargeError as exc:
                _place(form, exc.problems)
            else:
                if form.post.data:
                    return _posted(patient, charge)
    elif form.is_submitted() and "csrf_token" not in form.errors:
        _check_the_rest(patient, form)  # every problem at once, not one round trip per field
    return render_template("staff/charges/charge_form.html", form=form, patient=patient, priced=priced,
                           episodes=episodes, format_diagnosis=charges.format_diagnosis
                           ), 400 if form.errors else 200


def _default_place_of_service(episodes: list[Episode]) -> str:
    location = episodes[0].program.location if episodes else None
    return location.place_of_service if location else ""


def _episode_label(episode: Episode) -> str:
    codes = ", ".join(f"{d.position}: {charges.format_diagnosis(d.code)}" for d in episode.diagnoses)
    return f"{episode.program.name} from {episode.admit_date:%m/%d/%Y} ({codes})"


def _hand_charge(patient: Patient, form: HandChargeForm) -> charges.HandCharge:
    """The charge the form describes; pointers that are not numbers get a field error and are left out."""
    pointers = _split(form.diagnosis_pointers.data)
    if any(not (p.isascii() and p.isdigit() and len(p) <= 2) for p in pointers):
        form.diagnosis_pointers.errors = ["Enter numbers from the episode's list: 1, 2."]
        pointers = []
    return charges.HandCharge(
        patient_id=patient.id, billing_code_id=_valid(form.billing_code_id), service_date=_valid(form.service_date),
        units=_valid(form.units), token=form.token.data or "", coverage_id=_valid(form.coverage_id) or None,
        episode_id=_valid(form.episode_id) or None, modifiers=_split(form.modifiers.data),
        diagnosis_pointers=[int(p) for p in pointers], revenue_code=(form.revenue_code.data or "").strip() or None,
        place_of_service=(form.place_of_service.data or "").strip(),
        rendering_provider_id=_valid(form.rendering_provider_id) or None)


def _valid(field):
    """A field's value once its own checks passed; None otherwise (an id past the list is never looked up)."""
    return None if field.errors else field.data


def _check_the_rest(patient: Patient, form: HandChargeForm) -> None:
    """The form's own checks failed: still tell the biller what the coding checks say about the other fields."""
    hand = _hand_charge(patient, form)
    flagged = {name for name, field in form._fields.items() if field.errors}
    try:
        charges.check_hand_charge(hand)
    except charges.HandChargeError as exc:
        _place(form, {name: message for name, message in exc.problems.items() if name not in flagged})


def _place(form: HandChargeForm, problems: dict[str, str]) -> None:
    for name, message in problems.items():
        target = form[name] if name in form._fields else form.billing_code_id
        target.errors = [*target.errors, message]


def _posted(patient: Patient, charge: Charge):
    audit.record("charge.posted", "charge", actor=current_user, object_id=charge.id, patient_id=patient.id,
                 account_id=patient.account_id,
                 detail={"code": charge.billing_code.code, "units": charge.units, "amount_cents": charge.amount_cents,
                         "review_status": charge.review_status}, **audit_context())
    held = " It waits in the charge review queue." if charge.review_status == "held" else ""
    flash(f"Charge posted: {charge.billing_code.code} × {charge.units}, {money.format_usd(charge.amount_cents)}."
          f"{held} To correct it, reverse it and post it again.", "info")
    return redirect(url_for(".patient", patient_id=patient.id))


# ---------------------------------------------------------------- the charge review queue


@bp.get("/review")
@permission_required("charges.post")
def review():
    form = ReviewFilterForm(request.args)
    form.patient.choices = [(NONE, "Any patient"), *((p.id, f"{p.last_name}, {p.first_name} · {p.mrn}")
                                                     for p in charges.held_patients())]
    form.code.choices = [(NONE, "Any code"), *((c.id, c.code) for c in charges.held_codes())]
    valid = form.validate()
    where = charges.HeldFilter(start=form.start.data, end=form.end.data, patient_id=form.patient.data or None,
                               billing_code_id=form.code.data or None) if valid else charges.HeldFilter()
    held = charges.held_charges(where)
    audit.record("charge_review.viewed", "charge", actor=current_user,
                 detail={"count": len(held), "patients": sorted({c.patient_id for c in held})}, **audit_context())
    return render_template("staff/charges/review.html", form=form, held=held, action_form=ActionForm(),
                           limit=charges.QUEUE_LIMIT), 200 if valid else 400


@bp.post("/review/release")
@permission_required("charges.post")
def release():
    form = ActionForm()
    # A row's own Release button sends "one"; the button under the table releases the ticked rows.
    chosen = [request.form["one"]] if "one" in request.form else request.form.getlist("charge_id")
    ids = []
    for raw in chosen[:charges.QUEUE_LIMIT]:
        try:
            ids.append(db_id(raw))
        except ValueError:
            continue
    if not form.validate_on_submit() or not ids:
        flash("Tick the charges to release.", "error")
        return redirect(url_for(".review"))
    released = ledger.release_charges(ids, actor=_actor())
    for charge in db.session.scalars(select(Charge).where(Charge.id.in_(released))):
        audit.record("charge.released", "charge", actor=current_user, object_id=charge.id,
                     patient_id=charge.patient_id, account_id=charge.account_id, **audit_context())
    skipped = len(set(ids)) - len(released)
    flash(f"Released {len(released)} charge(s)." + (f" {skipped} were already released." if skipped else ""), "info")
    return redirect(url_for(".review", **_filters_back()))


def _filters_back() -> dict:
    """The queue's filters as they were (ids and dates, never names), so a release keeps the biller's view."""
    keep = {}
    for name in ("start", "end", "patient", "code"):
        value = request.form.get(f"filter_{name}", "")
        if re.fullmatch(r"\d{1,10}|\d{4}-\d{2}-\d{2}", value):
            keep[name] = value
    return keep
