"""The details staff enter about a patient and a guarantor, and the checks every way in (form, import) shares."""
from dataclasses import dataclass, fields
from datetime import date

from email_validator import EmailNotValidError, validate_email

from portal.models import RELATIONSHIPS, SEXES

LANGUAGES = {"en": "English", "es": "Spanish"}
EARLIEST_BIRTH = date(1900, 1, 1)


class PatientError(ValueError):
    """Details that cannot be saved: each problem under the name of the field it is about ("" for the whole)."""

    def __init__(self, problems: dict[str, str]):
        super().__init__(" ".join(problems.values()))
        self.problems = problems


@dataclass
class Contact:
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    state: str | None = None
    zip_code: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass
class PatientDetails(Contact):
    first_name: str = ""
    last_name: str = ""
    date_of_birth: date | None = None
    middle_name: str | None = None
    preferred_name: str | None = None
    sex: str | None = None
    preferred_language: str = "en"
    consent_email: bool = False
    consent_text: bool = False
    consent_voicemail: bool = False


@dataclass
class GuarantorDetails(Contact):
    """The guarantor when they are not the patient."""

    first_name: str = ""
    last_name: str = ""
    date_of_birth: date | None = None
    sex: str | None = None
    preferred_language: str = "en"


def clean(details, today: date) -> dict[str, str]:
    """Trim the text fields in place (blank becomes None) and return the problems found, by field."""
    for f in fields(details):
        value = getattr(details, f.name)
        if isinstance(value, str):
            value = " ".join(value.split())
            setattr(details, f.name, value or (None if f.default is None else value))
    problems = {}
    if not details.first_name:
        problems["first_name"] = "Enter the first name."
    if not details.last_name:
        problems["last_name"] = "Enter the last name."
    if details.date_of_birth is None:
        if isinstance(details, PatientDetails):  # a guarantor's is asked for, but accounts made before had none
            problems["date_of_birth"] = "Enter the date of birth."
    elif problem := birth_date_problem(details.date_of_birth, today):
        problems["date_of_birth"] = problem
    if details.sex is not None and details.sex not in SEXES:
        problems["sex"] = "Choose F, M or U."
    if details.preferred_language not in LANGUAGES:
        problems["preferred_language"] = "Choose English or Spanish."
    if details.state is not None:
        details.state = details.state.upper()
        if not (len(details.state) == 2 and details.state.isalpha()):
            problems["state"] = "Enter the two-letter state, like NJ."
    if details.email is not None:
        try:
            details.email = validate_email(details.email, check_deliverability=False).normalized
        except EmailNotValidError:
            problems["email"] = "Enter one email address like name@example.com."
    return problems


def birth_date_problem(born: date, today: date) -> str | None:
    if born > today:
        return "The date of birth is in the future."
    if born < EARLIEST_BIRTH:
        return "Enter a date of birth from 1900 on."
    return None


def relationship_problem(code: str | None) -> str | None:
    return None if code in RELATIONSHIPS else "Choose how they are related."
