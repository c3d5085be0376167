"""Insurance payments posted by hand, one claim line at a time (paper EOB, payer portal, phone)."""
import uuid

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms import DateField, FieldList, FormField, HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from portal import audit, money, remittances
from portal.auth import permission_required
from portal.clock import facility_today
from portal.extensions import db
from portal.forms import Form, RowForm
from portal.models import Account, AdjudicatedLine, Claim, ClaimLine
from portal.payments import desk
from portal.web import audit_context

bp = Blueprint("staff_insurance", __name__, url_prefix="/staff/claims")


def _cents(field, *, required: bool) -> int | None:
    if not (field.data or "").strip():
        if required:
            raise ValidationError("Enter an amount like 125.00 (0 if nothing was paid).")
        return None
    try:
        cents = money.parse_cents(field.data)
    except ValueError as exc:
        raise ValidationError("Enter an amount like 125.00.") from exc
    if cents < 0:
        raise ValidationError("Enter an amount of zero or more.")
    return cents


class AdjustmentRow(RowForm):
    group = SelectField("Group", choices=[("", "—"), *((g, f"{g} {w}") for g, w in remittances.GROUPS.items())],
                        validators=[Optional()])
    carc = StringField("Reason code (CARC)", validators=[Optional(), Length(max=5)])
    rarc = StringField("Remark code (RARC)", validators=[Optional(), Length(max=8)])
    amount = StringField("Amount", validators=[Length(max=12)])

    def validate_amount(self, field):
        self.cents = _cents(field, required=False)
        if self.group.data and (self.cents is None or self.cents == 0 or not (self.carc.data or "").strip()):
            raise ValidationError("An adjustment needs a reason code and an amount above zero.")
        if self.cents and not self.group.data:
            raise ValidationError("Choose the adjustment group.")


class InsuranceLineForm(Form):
    paid = StringField("Paid by the payer", validators=[Length(max=12)])
    allowed = StringField("Allowed (optional; billed less CO/PI/OA when empty)", validators=[Length(max=12)])
    method = SelectField("Payment method", choices=[("eft", "EFT"), ("insurance_check", "Check"), ("other", "Other")])
    reference = StringField("Check or EFT trace number", validators=[Length(max=100)])
    received_on = DateField("Received on", validators=[DataRequired()])
    adjustments = FieldList(FormField(AdjustmentRow), min_entries=4, max_entries=4)
    token = HiddenField(validators=[DataRequired(), Length(max=64)])  # one posting per form shown

    def validate_paid(self, field):
        self.paid_cents = _cents(field, required=True)

    def validate_allowed(self, field):
        self.allowed_cents = _cents(field, required=False)


def _claim_line(line_id: int) -> tuple[Claim, ClaimLine]:
    line = db.session.get(ClaimLine, line_id) or abort(404)
    return line.claim, line


@bp.get("/accounts/<int:account_id>")
@permission_required("payments.post")
def account_claims(account_id: int):
    account = db.session.get(Account, account_id) or abort(404)
    claims = db.session.scalars(select(Claim).where(Claim.account_id == account.id).order_by(Claim.id.desc())).all()
    audit.record("claims.viewed", "account", actor=current_user, object_id=account.id, account_id=account.id,
                 **audit_context())
    return render_template("staff/insurance/claims.html", account=account, claims=claims)


@bp.route("/lines/<int:line_id>/insurance-payment", methods=["GET", "POST"])
@permission_required("payments.post")
def post_line(line_id: int):
    claim, line = _claim_line(line_id)
    form = InsuranceLineForm()
    if not form.is_submitted():
        form.token.data, form.received_on.data = uuid.uuid4().hex, facility_today()
        audit.record("claim_line.viewed", "claim_line", actor=current_user, object_id=line.id,
                     account_id=claim.account_id, patient_id=claim.patient_id, **audit_context())
    history = db.session.scalars(select(AdjudicatedLine).where(AdjudicatedLine.claim_line_id == line.id)
                                 .order_by(AdjudicatedLine.id)).all()
    page = {"claim": claim, "line": line, "history": history, "form": form}
    if not form.validate_on_submit():
        return render_template("staff/insurance/post_line.html", **page), 400 if form.is_submitted() else 200
    rows = [(r.group.data, r.carc.data, r.form.cents, r.rarc.data or None)
            for r in form.adjustments if r.group.data]
    def authorize(cents: int) -> None:  # CO/PI/OA write-offs and PR transfers: the poster's right and daily limit
        try:
            desk.authorize_adjustment(current_user, claim.account_id, cents)
        except desk.PostingError as exc:
            raise remittances.EraError(exc.message) from exc

    try:
        remittances.post_line_by_hand(line.id, paid_cents=form.paid_cents, adjustments=rows, method=form.method.data,
                              received_on=form.received_on.data, token=form.token.data,
                              reference=(form.reference.data or "").strip() or None, allowed_cents=form.allowed_cents,
                              actor=f"user:{current_user.id}", authorize=authorize)
    except remittances.EraError as exc:
        form.paid.errors.append(str(exc))
        return render_template("staff/insurance/post_line.html", **page), 400
    audit.record("claim_line.insurance_posted", "claim_line", actor=current_user, object_id=line.id,
                 account_id=claim.account_id, patient_id=claim.patient_id, **audit_context())
    flash(f"Insurance payment posted for line {line.line_number} of claim {claim.control_number}.", "info")
    return redirect(url_for(".account_claims", account_id=claim.account_id))
