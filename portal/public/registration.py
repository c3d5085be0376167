"""Guarantors create their own login from a statement, and add more accounts to it."""
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import EmailField, StringField
from wtforms.validators import DataRequired, Email, Length

from portal.auth import choose_password, patient_required, start_session
from portal.extensions import limiter
from portal.people import registration
from portal.public.views import NO_MATCH, PayLinkForm, _per_ip, find_statement, per_code_limit
from portal.web import audit_context

bp = Blueprint("registration", __name__)


class RegisterForm(PayLinkForm):
    full_name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=200)],
                            render_kw={"autocomplete": "name"})
    email = EmailField(_l("Your email"), validators=[DataRequired(), Length(max=254), Email(
        message=_l("Enter an email address, like name@example.org."))], render_kw={"autocomplete": "email"},
        description=_l("We send a link here to finish your login."))


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_per_ip, methods=["POST"])
@per_code_limit
def register():
    form = RegisterForm()
    if form.validate_on_submit():
        statement = find_statement(form)
        if statement is None:
            flash(str(NO_MATCH), "error")
            return render_template("register.html", form=form, sent=False), 404
        registration.start(statement, full_name=form.full_name.data, email=form.email.data, **audit_context())
        return render_template("register.html", form=form, sent=True)
    return render_template("register.html", form=form, sent=False), 400 if form.is_submitted() else 200


@bp.route("/register/finish/<token>", methods=["GET", "POST"])
@limiter.limit(_per_ip, methods=["POST"])
def finish(token: str):
    claims = registration.claims_for(token)
    if claims is None:
        return render_template("register_finish.html", form=None), 404

    def save(password: str):
        try:
            user = registration.finish(claims, password, **audit_context())
        except registration.LinkUsed:  # another tab or device finished with this link a moment ago
            return render_template("register_finish.html", form=None), 409
        start_session(user)
        flash(_("Your login is ready. This is your account."), "info")
        return redirect(url_for("patient.account", account_id=claims["account"]))

    return choose_password("register_finish.html", save, claims=claims)


@bp.route("/accounts/add", methods=["GET", "POST"])
@patient_required
@limiter.limit(_per_ip, methods=["POST"])
@per_code_limit
def add_account():
    form = PayLinkForm()
    if form.validate_on_submit():
        statement = find_statement(form)
        if statement is None:
            flash(str(NO_MATCH), "error")
            return render_template("patient/account_add.html", form=form), 404
        added = registration.add_account(current_user, statement, **audit_context())
        flash(_("The account is added to your login.") if added else _("That account is already on your login."),
              "info")
        return redirect(url_for("patient.account", account_id=statement.account_id))
    return render_template("patient/account_add.html", form=form), 400 if form.is_submitted() else 200
