"""The estimate form, shared by the public page and the admissions tool: shapes and bounds only.

Labels and messages are lazy: Spanish on a Spanish public page, English on staff pages."""
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from portal import estimates, money
from portal.estimates.config import LEVEL_NAMES
from portal.estimates.share import Benefits
from portal.forms import Form
from portal.models import LEVELS_OF_CARE

NETWORK_CHOICES = [("yes", _l("In network")), ("no", _l("Out of network")), ("", _l("I don't know"))]
BENEFIT_FIELDS = ("copay", "deductible", "coinsurance", "oop")


def _cents(field) -> int | None:
    if not (field.data or "").strip():
        return None
    try:
        cents = money.parse_cents(field.data)
    except ValueError:
        raise ValidationError(_("Enter an amount like 1500.00.")) from None
    if cents < 0:
        raise ValidationError(_("Enter an amount of zero or more."))
    return cents


class EstimateForm(Form):
    payer = SelectField(_l("Insurance company"), validators=[Optional()])
    level = SelectField(_l("Type of program"), choices=[(k, LEVEL_NAMES[k]) for k in LEVELS_OF_CARE if k != "other"])
    days = IntegerField(_l("Number of days or sessions"), default=20,
                        validators=[DataRequired(message=_l("Enter a number of days.")), NumberRange(min=1, max=366)],
                        render_kw={"inputmode": "numeric"})
    network = SelectField(_l("Is the program in your plan's network?"), choices=NETWORK_CHOICES, default="yes",
                          validators=[Optional()])
    copay = StringField(_l("Copay per day or visit"), validators=[Optional(), Length(max=12)],
                        render_kw={"inputmode": "decimal", "placeholder": _l("e.g. %(amount)s", amount="40.00")})
    deductible = StringField(_l("Deductible left to meet this year"), validators=[Optional(), Length(max=12)],
                             render_kw={"inputmode": "decimal", "placeholder": _l("e.g. %(amount)s", amount="500.00")})
    coinsurance = StringField(_l("Coinsurance (%)"), validators=[Optional(), Length(max=6)],
                              render_kw={"inputmode": "decimal", "placeholder": _l("e.g. %(amount)s", amount="20")})
    oop = StringField(_l("Out-of-pocket maximum left this year"), validators=[Optional(), Length(max=12)],
                      render_kw={"inputmode": "decimal", "placeholder": _l("e.g. %(amount)s", amount="3000.00")})
    copay_waives_deductible = BooleanField(_l("The copay replaces the deductible (deductible waived)"))

    def validate_copay(self, field):
        self.copay_cents = _cents(field)

    def validate_deductible(self, field):
        self.deductible_cents = _cents(field)

    def validate_oop(self, field):
        self.oop_cents = _cents(field)

    def validate_coinsurance(self, field):
        bps = _cents(field)  # "20" -> 2000 hundredths of a percent = basis points
        if bps is not None and bps > 10000:
            raise ValidationError(_("Enter a percentage from 0 to 100."))
        self.coinsurance_bps = bps

    def payer_id(self) -> int | None:
        return int(self.payer.data) if self.payer.data else None

    def benefits(self) -> Benefits | None:
        """The benefits entered, or None when none were (the estimate then uses what patients owed before)."""
        if all(getattr(self, f).data in (None, "") for f in BENEFIT_FIELDS):
            return None
        # Optional() stops the chain on an empty field, so an inline validator may not have run.
        def value(name):
            return getattr(self, name, None)

        return Benefits(in_network=self.network.data != "no", copay_cents=value("copay_cents") or 0,
                        copay_waives_deductible=bool(self.copay_waives_deductible.data),
                        deductible_remaining_cents=value("deductible_cents") or 0,
                        coinsurance_bps=value("coinsurance_bps") or 0, oop_remaining_cents=value("oop_cents"))


SELF_PAY = "self"  # the public form's "I don't have insurance" choice


class PublicEstimateForm(EstimateForm):
    """The prospect's form: the insurer is chosen on purpose (no insurance is a choice, not the default)."""
    payer = SelectField(_l("Insurance company"), validators=[
        DataRequired(message=_l("Choose your insurance company, or that you don't have insurance."))])

    def self_pay(self) -> bool:
        return self.payer.data == SELF_PAY

    def payer_id(self) -> int | None:
        return None if self.self_pay() else super().payer_id()


def single_email(_form, field) -> None:
    """A field that holds one email address (`a@b.org, c@d.org` is refused): the call-back form's and
    staff's lead form."""
    if (field.data or "").strip():
        try:
            estimates.lead_email(field.data)
        except estimates.EstimateError as error:
            raise ValidationError(str(error)) from None


class CallbackForm(Form):
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=200)],
                       render_kw={"autocomplete": "name"})
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=32)],
                        render_kw={"autocomplete": "tel", "inputmode": "tel"})
    email = StringField(_l("Email"), validators=[Optional(), Length(max=254)], render_kw={"autocomplete": "email"})
    # The same words as public.estimates.CONSENT_TEXT, kept with the lead as what the person agreed to.
    consent = BooleanField(_l("You may call, text or email me about this estimate and admission."),
                           validators=[DataRequired(message=_l("Tick the box so we may contact you."))])
    payer = HiddenField(validators=[Optional()])
    level = HiddenField(validators=[Optional()])

    def validate_email(self, field):
        if not field.data and not self.phone.data:
            raise ValidationError(_("Enter a phone number or an email address."))
        if field.data:
            single_email(self, field)
