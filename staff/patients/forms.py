"""Patient, guarantor, coverage and merge forms: shapes and bounds here, the rules in portal.patients."""
from wtforms import BooleanField, DateField, EmailField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from portal import money
from portal.forms import Form
from portal.models import RELATIONSHIPS
from portal.patients import CoverageDetails, GuarantorDetails, PatientDetails
from portal.patients.coverages import PRIORITIES
from portal.patients.details import LANGUAGES

SEX_CHOICES = [("", "Not given"), ("F", "Female"), ("M", "Male"), ("U", "Unknown")]
LANGUAGE_CHOICES = list(LANGUAGES.items())
RELATIONSHIP_CHOICES = list(RELATIONSHIPS.items())
STATE = Regexp(r"^[A-Za-z]{2}$", message="Enter the two-letter state, like NJ.")
ZIP = Regexp(r"^\d{5}(-\d{4})?$", message="Enter a 5-digit ZIP (or ZIP+4).")
PHONE = Regexp(r"^[0-9()+.\- ]{7,32}$", message="Enter a phone number like 555-010-0199.")


def _text(label: str, size: int = 100, *, required: bool = False, extra=(), **kw):
    first = DataRequired(message=f"Enter the {label[0].lower()}{label[1:]}.") if required else Optional()
    return StringField(label, validators=[first, Length(max=size), *extra], **kw)


def _sex(label: str = "Sex"):
    return SelectField(label, choices=SEX_CHOICES, validators=[Optional()], default="")


class ContactFields(Form):
    address_line1 = _text("Street address", 200)
    address_line2 = _text("Apartment, suite (optional)", 200)
    city = _text("City")
    state = _text("State", 2, extra=[STATE])
    zip_code = _text("ZIP", 10, extra=[ZIP])
    phone = _text("Phone", 32, extra=[PHONE], render_kw={"inputmode": "tel"})
    email = EmailField("Email", validators=[Optional(), Length(max=254)])
    preferred_language = SelectField("Preferred language", choices=LANGUAGE_CHOICES, default="en")


class PatientFields(ContactFields):
    first_name = _text("Legal first name", required=True)
    middle_name = _text("Middle name")
    last_name = _text("Legal last name", required=True)
    preferred_name = _text("Preferred name", description="What the patient likes to be called, if not the first name.")
    date_of_birth = DateField("Date of birth", validators=[DataRequired(message="Enter the date of birth.")])
    sex = _sex()
    consent_email = BooleanField("May be contacted by email")
    consent_text = BooleanField("May be sent text messages")
    consent_voicemail = BooleanField("Voicemail messages may be left")

    def patient_details(self) -> PatientDetails:
        return PatientDetails(**{name: self[name].data or None for name in (
            "address_line1", "address_line2", "city", "state", "zip_code", "phone", "email", "middle_name",
            "preferred_name", "sex")}, first_name=self.first_name.data or "", last_name=self.last_name.data or "",
            date_of_birth=self.date_of_birth.data, preferred_language=self.preferred_language.data or "",
            consent_email=self.consent_email.data, consent_text=self.consent_text.data,
            consent_voicemail=self.consent_voicemail.data)


class PatientForm(PatientFields):
    relationship = SelectField("Relationship to the guarantor", choices=RELATIONSHIP_CHOICES, default="18",
                               description="Self when the patient is their own guarantor.")


class GuarantorForm(ContactFields):
    first_name = _text("Guarantor's first name", required=True)
    last_name = _text("Guarantor's last name", required=True)
    date_of_birth = DateField("Guarantor's date of birth", validators=[Optional()])
    sex = _sex("Guarantor's sex")

    def guarantor_details(self) -> GuarantorDetails:
        return GuarantorDetails(**{name: self[name].data or None for name in (
            "address_line1", "address_line2", "city", "state", "zip_code", "phone", "email", "sex")},
            first_name=self.first_name.data or "", last_name=self.last_name.data or "",
            date_of_birth=self.date_of_birth.data, preferred_language=self.preferred_language.data or "")


def _amount(label: str, **kw):
    return StringField(label, validators=[Optional(), Length(max=16)], default="0.00", **kw)


def _cents(field) -> int:
    return money.parse_cents(field.data) if (field.data or "").strip() else 0


class CoverageForm(Form):
    payer_plan = SelectField("Payer and plan", validators=[DataRequired(message="Choose the payer.")],
                             description="Only active payers are listed; each plan is listed under its payer.")
    member_id = _text("Member id", 80, required=True)
    group_number = _text("Group number", 80)
    coverage_start = DateField("Effective date", validators=[DataRequired(message="Enter the date it starts.")])
    priority = SelectField("Priority", coerce=int, choices=list(PRIORITIES.items()), default=1)
    coverage_end = DateField("End date", validators=[Optional()], description="Leave empty while it is in force.")
    in_network = BooleanField("In network", default=True)
    subscriber_relationship = SelectField("Subscriber (policy holder)", choices=RELATIONSHIP_CHOICES, default="18",
                                          description="Self when the patient holds the policy.")
    subscriber_first_name = _text("Subscriber's first name")
    subscriber_last_name = _text("Subscriber's last name")
    subscriber_date_of_birth = DateField("Subscriber's date of birth", validators=[Optional()])
    subscriber_sex = _sex("Subscriber's sex")
    deductible = _amount("Deductible")
    deductible_met = _amount("Deductible met so far")
    coinsurance = StringField("Coinsurance (%)", validators=[Optional(), Length(max=6)], default="0",
                              render_kw={"inputmode": "decimal"})
    copay = _amount("Copay")
    copay_per = SelectField("Copay is per", choices=[("day", "day"), ("visit", "visit")], default="day")
    oop_max = _amount("Out-of-pocket maximum", description="0 when the plan has none.")
    oop_met = _amount("Out-of-pocket met so far")

    def validate_coinsurance(self, field):
        try:
            self.coinsurance_bps = money.parse_cents(field.data or "0")  # a percent with 2 decimals is bps
        except ValueError:
            raise ValidationError("Enter a percent like 20 or 12.5.") from None
        if not 0 <= self.coinsurance_bps <= 10000:
            raise ValidationError("Coinsurance is from 0% to 100%.")

    def _check_amount(self, field):
        try:
            _cents(field)
        except ValueError:
            raise ValidationError("Enter an amount like 1500.00.") from None

    validate_deductible = validate_deductible_met = validate_copay = _check_amount
    validate_oop_max = validate_oop_met = _check_amount


def payer_plan_ids(value: str | None) -> tuple[int | None, int | None]:
    """The payer and plan a "payer:plan" choice names (plan 0: no particular plan)."""
    payer, _, plan = (value or "").partition(":")
    return (int(payer) if payer.isdigit() else None), (int(plan) if plan.isdigit() and plan != "0" else None)


def coverage_details(form: "CoverageForm | RegisterForm") -> CoverageDetails:
    """The coverage a form describes; registering asks only for the policy (a primary, the patient subscribing)."""
    payer_id, plan_id = payer_plan_ids(form.payer_plan.data)
    details = CoverageDetails(payer_id=payer_id, plan_id=plan_id, member_id=form.member_id.data or "",
                              group_number=form.group_number.data, start_date=form.coverage_start.data)
    if isinstance(form, CoverageForm):
        details.priority, details.end_date, details.in_network = (
            form.priority.data, form.coverage_end.data, form.in_network.data)
        details.subscriber_relationship = form.subscriber_relationship.data
        details.subscriber_first_name = form.subscriber_first_name.data
        details.subscriber_last_name = form.subscriber_last_name.data
        details.subscriber_date_of_birth = form.subscriber_date_of_birth.data
        details.subscriber_sex = form.subscriber_sex.data or None
        details.deductible_cents, details.deductible_met_cents = _cents(form.deductible), _cents(form.deductible_met)
        details.coinsurance_bps, details.copay_per = form.coinsurance_bps, form.copay_per.data
        details.copay_cents = _cents(form.copay)
        details.oop_max_cents, details.oop_met_cents = _cents(form.oop_max), _cents(form.oop_met)
    return details


class RegisterForm(PatientForm):
    mrn = _text("MRN", 32, extra=[Regexp(r"^[A-Za-z0-9\-]*$", message="Use letters, digits and dashes only.")],
                description="Leave empty and one is given: MRN followed by a number (MRN5012).")
    account_number = _text("Existing account number", 20,
                           description="To add this patient to a guarantor's account that already exists.")
    guarantor_first_name = _text("Guarantor's first name")
    guarantor_last_name = _text("Guarantor's last name")
    guarantor_date_of_birth = DateField("Guarantor's date of birth", validators=[Optional()])
    guarantor_sex = _sex("Guarantor's sex")
    guarantor_address_line1 = _text("Guarantor's street address", 200)
    guarantor_address_line2 = _text("Guarantor's apartment, suite", 200)
    guarantor_city = _text("Guarantor's city")
    guarantor_state = _text("Guarantor's state", 2, extra=[STATE])
    guarantor_zip_code = _text("Guarantor's ZIP", 10, extra=[ZIP])
    guarantor_phone = _text("Guarantor's phone", 32, extra=[PHONE])
    guarantor_email = EmailField("Guarantor's email", validators=[Optional(), Length(max=254)])
    payer_plan = SelectField("Payer and plan", validators=[Optional()])
    member_id = _text("Member id", 80)
    group_number = _text("Group number", 80)
    coverage_start = DateField("Effective date", validators=[Optional()])
    def wants_coverage(self) -> bool:
        """Insurance is optional at registration: added when any of its fields is filled in."""
        return any((self[name].data or "") for name in ("payer_plan", "member_id", "group_number")) or bool(
            self.coverage_start.data)

    create_anyway = BooleanField("I have checked the possible matches: this is a different person")

    def guarantor_details(self) -> GuarantorDetails | None:
        """The guarantor entered, or None when none of their fields were filled in."""
        if not any(self[name].data for name in self._fields if name.startswith("guarantor_")):
            return None
        names = ("address_line1", "address_line2", "city", "state", "zip_code", "phone", "email", "sex")
        return GuarantorDetails(**{name: self[f"guarantor_{name}"].data or None for name in names},
                                first_name=self.guarantor_first_name.data or "",
                                last_name=self.guarantor_last_name.data or "",
                                date_of_birth=self.guarantor_date_of_birth.data,
                                preferred_language=self.preferred_language.data or "en")


class EndCoverageForm(Form):
    end_date = DateField("Last day covered", validators=[DataRequired(message="Enter the last day covered.")])


class MergeForm(Form):
    duplicate_mrn = _text("MRN of the duplicate to merge into this patient", 32, required=True)
    confirm = BooleanField("I understand the duplicate's records move to this patient and it is hidden",
                           validators=[DataRequired(message="Tick the box to confirm the merge.")])
