"""Every form of the app derives from `Form`: patients' sign-in forms are here, the others beside their views."""
from datetime import date, datetime

import wtforms
from flask import abort, has_request_context, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, StopValidation

# Integer columns are 32-bit: a larger number is refused on the field, never sent to the database.
INT_LIMIT = 2 ** 31 - 1


def refuse_nul(_form, field) -> None:
    """No field may hold a NUL byte (PostgreSQL cannot store or even compare it)."""
    if any(isinstance(raw, str) and "\x00" in raw for raw in (field.raw_data or ())):
        field.errors[:] = []  # whatever the field's own parsing said, this is the one thing to fix
        raise StopValidation(_("This contains a character that is not allowed (NUL)."))


def bounded_integer(_form, field) -> None:
    if isinstance(field.data, int) and not -INT_LIMIT <= field.data <= INT_LIMIT:
        raise StopValidation(_("Enter a smaller number."))


def record_id(_form, field) -> None:
    """A hidden field naming a record: digits, and a number an id can be."""
    text = str(field.data or "")
    if not (text.isascii() and text.isdigit() and len(text) <= 10 and 0 < int(text) <= INT_LIMIT):
        raise StopValidation(_("Choose one from the list."))


def _bind_field(_meta, form, unbound_field, options):
    field = unbound_field.bind(form=form, **options)
    extra = [refuse_nul, bounded_integer] if isinstance(field, IntegerField) else [refuse_nul]
    field.validators = [*extra, *field.validators]
    return field


class BirthDateField(StringField):
    """A date of birth typed as MM/DD/YYYY (a date picker starts at today and makes a birth date a long
    scroll, worst on a phone); YYYY-MM-DD is understood too. `data` is a date."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("description", _l("As MM/DD/YYYY, for example 04/27/1986."))
        kwargs.setdefault("render_kw", {"inputmode": "numeric", "placeholder": _l("MM/DD/YYYY"), "autocomplete": "off",
                                        "pattern": r"\d{1,2}/\d{1,2}/\d{4}|\d{4}-\d{2}-\d{2}"})
        super().__init__(label, validators, **kwargs)

    def _value(self) -> str:
        if isinstance(self.data, date):
            return f"{self.data:%m/%d/%Y}"
        return self.raw_data[0] if self.raw_data else ""

    def process_formdata(self, valuelist) -> None:
        text = (valuelist[0] if valuelist else "").strip()
        self.data = None
        if not text:
            return
        for layout in ("%m/%d/%Y", "%Y-%m-%d"):
            try:
                found = datetime.strptime(text, layout).date()
            except ValueError:
                continue
            if found.year < 1900:
                raise ValueError(_("Check the year: it is before 1900."))
            self.data = found
            return
        raise ValueError(_("Enter the date as MM/DD/YYYY."))


class Form(FlaskForm):
    """A FlaskForm whose every field refuses NUL bytes and whose integer fields are bounded, each with a field
    error: one place, whatever validators a form lists."""

    class Meta:
        bind_field = _bind_field

        def wrap_formdata(self, form, formdata):
            # Flask-WTF reads a JSON body as the form's fields: it must then be an object.
            if has_request_context() and request.is_json and not isinstance(request.get_json(silent=True), dict):
                abort(400, description=_("Send the form's fields as a JSON object."))
            return super().wrap_formdata(form, formdata)


class RowForm(wtforms.Form):
    """The same, for the rows of a FieldList(FormField(...)) (no CSRF token of their own)."""

    class Meta:
        bind_field = _bind_field


class LoginForm(Form):
    # No format check here: a sign-in only has to match an existing login.
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class ForgotPasswordForm(Form):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)],
                       description=_l("The email you sign in with."), render_kw={"autocomplete": "email"})


class NewPasswordForm(Form):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=12, max=200,
                             message=_l("Use 12 to 200 characters."))], render_kw={"autocomplete": "new-password"},
                             description=_l("At least 12 characters. A few unrelated words make a good one."))
    confirm = PasswordField(_l("New password again"), validators=[DataRequired(), EqualTo(
        "password", message=_l("The two passwords are not the same."))], render_kw={"autocomplete": "new-password"})


class TotpForm(Form):
    code = StringField(_l("Six-digit code"), validators=[DataRequired(), Length(min=6, max=7)],
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code"})
