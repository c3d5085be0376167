"""Checks on the codes a claim carries: ICD-10-CM diagnoses and NPIs, each refused with a sentence a biller reads."""
import simple_icd_10_cm as icd

from portal.facility import FieldError, check_npi

MAX_DIAGNOSES = 12  # what an 837P carries in HI


class CodingError(ValueError):
    pass


def normalize_diagnosis(text: str) -> str:
    """An ICD-10-CM code as stored (upper case, no dot: F1020), or CodingError unless it is billable: a real code
    with no codes under it (F10 is a category; F10.20 is billable)."""
    code = (text or "").strip().upper().replace(".", "")
    if not code.isascii() or not code.isalnum() or not 3 <= len(code) <= 7 or not icd.is_valid_item(code):
        raise CodingError(f"{text.strip()[:12]} is not an ICD-10-CM code.")
    if not icd.is_leaf(code):
        raise CodingError(f"{icd.add_dot(code)} is a category, not a billable code: choose a more specific one.")
    return code


def format_diagnosis(code: str) -> str:
    """F1020 as people write it: F10.20."""
    return icd.add_dot(code) if icd.is_valid_item(code) else code


def diagnosis_description(code: str) -> str:
    return icd.get_description(code) if icd.is_valid_item(code) else ""


def normalize_npi(text: str) -> str:
    """Ten digits whose last is the NPI check digit (the providers' own check), or CodingError."""
    try:
        return check_npi(text)
    except FieldError as exc:
        raise CodingError(str(exc)) from exc
