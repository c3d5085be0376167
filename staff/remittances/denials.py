"""The denial worklist: denials grouped by reason and payer, each worked to the end with a note, a follow-up
date and its history, and an appeal letter to download."""
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal import audit, claims, remittances
from portal.auth import permission_required
from portal.clock import facility_today
from portal.extensions import db
from portal.forms import Form
from portal.models import DENIAL_STATE_WORDS, Denial
from portal.payments import desk
from portal.web import audit_context, db_id

bp = Blueprint("staff_denials", __name__, url_prefix="/staff/remittances/denials")

STATE_FILTERS = {"active": "Not settled", "all": "All", **DENIAL_STATE_WORDS}


class FilterForm(Form):
    """The worklist's filters, read from the query string."""

    class Meta:
        csrf = False

    state = SelectField("State", choices=list(STATE_FILTERS.items()), default="active", validators=[Optional()])
    payer = SelectField("Payer", choices=[], validate_choice=False, validators=[Optional()])
    reason = StringField("Reason code", validators=[Optional(), Length(max=8)])
    overdue = SelectField("Follow-up", choices=[("", "Any"), ("1", "Overdue")], validators=[Optional()])


class MoveForm(Form):
    state = SelectField("Mark as", choices=list(DENIAL_STATE_WORDS.items()),
                        validators=[DataRequired("Choose what happened to the denial.")])
    note = TextAreaField("Note", validators=[DataRequired("Say what was done about the denial."),
                                             Length(max=claims.denials.MAX_NOTE)])
    follow_up = DateField("Follow up on", validators=[Optional()])


class AppealTextForm(Form):
    appeal_text = TextAreaField("Why the payer should pay", validators=[
        DataRequired("Write why the payer should pay this service."), Length(max=claims.denials.MAX_APPEAL_TEXT)])


def _denial(denial_id: int) -> Denial:
    return db.session.get(Denial, denial_id) or abort(404)


@bp.get("")
@permission_required("claims.view")
def worklist():
    form = FilterForm(request.args)
    payers = remittances.payers()
    form.payer.choices = [("", "All payers"), *((str(p.id), p.name) for p in payers)]
    rows, problem = [], None
    if form.validate():
        try:
            rows = claims.list_denials(form.state.data or "active", payer_id=_payer_id(form.payer.data),
                                       reason=form.reason.data or None, overdue=form.overdue.data == "1")
        except claims.DenialError as exc:
            getattr(form, exc.field or "state").errors.append(exc.message)
    problem = bool(form.errors)
    audit.record("denials.viewed", "denial", actor=current_user, detail={"count": len(rows)}, **audit_context())
    page = render_template("staff/era/denials.html", form=form, groups=claims.grouped(rows), rows=rows,
                           by_reason=claims.counts_by_reason(rows), by_payer=claims.counts_by_payer(rows),
                           today=facility_today(), words=DENIAL_STATE_WORDS, d=claims.denials)
    return page, 400 if problem else 200


def _payer_id(value: str | None) -> int | None:
    try:
        return db_id(value) if value else None
    except ValueError:
        return None


def _detail(denial: Denial, move_form: MoveForm | None = None, text_form: AppealTextForm | None = None,
            status: int = 200):
    if move_form is None:
        move_form = MoveForm(formdata=None, follow_up=denial.follow_up_on)
    _allowed_choices(move_form, denial)
    text_form = text_form or AppealTextForm(formdata=None, appeal_text=denial.appeal_text)
    return render_template("staff/era/denial.html", denial=denial, move_form=move_form, text_form=text_form,
                           words=DENIAL_STATE_WORDS, d=claims.denials, today=facility_today(),
                           claim=claims.denials.claim_of(denial),
                           names=desk.actor_names({step.actor for step in denial.steps})), status


def _allowed_choices(form: MoveForm, denial: Denial) -> None:
    """Only the moves the denial's state allows are offered (a stale page's other choice is refused by the domain)."""
    allowed = claims.ALLOWED_MOVES[denial.state]
    form.state.choices = [(s, DENIAL_STATE_WORDS[s] + (" (note only)" if s == denial.state else ""))
                          for s in allowed] or [("", "Nothing more to do")]


@bp.get("/<int:denial_id>")
@permission_required("claims.view")
def detail(denial_id: int):
    denial = _denial(denial_id)
    claim = claims.denials.claim_of(denial)
    audit.record("denial.viewed", "denial", actor=current_user, object_id=denial.id,
                 patient_id=claim.patient_id if claim else None, account_id=claim.account_id if claim else None,
                 **audit_context())
    return _detail(denial)


@bp.post("/<int:denial_id>/move")
@permission_required("payments.post")
def move(denial_id: int):
    denial = _denial(denial_id)
    form = MoveForm()
    _allowed_choices(form, denial)
    form.state.validate_choice = False  # the domain says why a move is refused
    if not form.validate_on_submit():
        return _detail(denial, move_form=form, status=400)
    claim = claims.denials.claim_of(denial)

    def authorize(cents: int) -> None:  # a write-off or a move to the patient: the poster's right and daily limit
        try:
            desk.authorize_adjustment(current_user, claim.account_id, cents, field=None)
        except desk.PostingError as exc:
            raise claims.DenialError(exc.message, "state") from exc

    try:
        claims.move(denial, form.state.data, form.note.data, form.follow_up.data, actor=current_user,
                    authorize=authorize if claim is not None else None, **audit_context())
    except claims.DenialError as exc:
        db.session.rollback()
        denial = _denial(denial_id)
        getattr(form, exc.field or "state").errors.append(exc.message)
        return _detail(denial, move_form=form, status=400)
    flash(f"Denial marked {DENIAL_STATE_WORDS[denial.state].lower()}.", "info")
    return redirect(url_for(".detail", denial_id=denial.id))


@bp.post("/<int:denial_id>/appeal-text")
@permission_required("payments.post")
def appeal_text(denial_id: int):
    denial = _denial(denial_id)
    form = AppealTextForm()
    if not form.validate_on_submit():
        return _detail(denial, text_form=form, status=400)
    try:
        claims.save_appeal_text(denial, form.appeal_text.data, actor=current_user, **audit_context())
    except claims.DenialError as exc:
        form.appeal_text.errors.append(exc.message)
        return _detail(denial, text_form=form, status=400)
    flash("Appeal letter text saved.", "info")
    return redirect(url_for(".detail", denial_id=denial.id))


@bp.get("/<int:denial_id>/appeal.pdf")
@permission_required("claims.view")
def appeal_letter(denial_id: int):
    denial = _denial(denial_id)
    try:
        pdf = claims.appeal_letter_pdf(denial, actor=current_user, **audit_context())
    except claims.DenialError as exc:
        flash(exc.message, "error")
        return redirect(url_for(".detail", denial_id=denial.id))
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="appeal-denial-{denial.id}.pdf"'})
