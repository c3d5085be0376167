"""Patients, guarantors and coverages from a CSV file (`flask --app portal import patients FILE.csv`).

A header row names the columns, in any order; UTF-8 (a byte-order mark is fine). Dates are YYYY-MM-DD.

Patient (required: mrn, first_name, last_name, date_of_birth): middle_name, preferred_name, sex (F, M or U),
address_line1, address_line2, city, state (two letters or the state's name), zip_code, phone, email,
preferred_language (e.g. en, es).

Guarantor (who gets the statements; empty = the patient themself): guarantor_relationship (the patient's
relationship to them: self, spouse, child, other, or the X12 codes 18, 01, 19, G8), guarantor_id (the other
system's id for the guarantor: rows with the same id share one account), guarantor_first_name,
guarantor_last_name, guarantor_date_of_birth, guarantor_sex, guarantor_address_line1, guarantor_address_line2,
guarantor_city, guarantor_state, guarantor_zip_code, guarantor_phone, guarantor_email.

Coverage (optional; given a member_id or a payer, it needs member_id, a payer and coverage_start): payer_x12_id or
payer_name (a payer not on file is created; its name is then needed), plan_name (created under the payer when
new), member_id, group_number, coverage_priority (1, 2, 3 or primary, secondary, tertiary; default 1),
coverage_start, coverage_end, subscriber_relationship (as guarantor_relationship; default self),
subscriber_first_name, subscriber_last_name, subscriber_date_of_birth, subscriber_sex.

A patient with two coverages takes two rows with the same MRN (the second may leave the patient's columns empty).
The MRN is the key: importing the file again updates those patients, and a coverage with the same payer and
member id, instead of adding them twice. Any bad row refuses the whole file, every problem listed by line.
"""
import csv
import io
from datetime import date

from portal.extensions import db
from portal.imports.records import (
    CoverageIn,
    GuarantorIn,
    ImportResult,
    PatientIn,
    PayerIn,
    Person,
    Problems,
    bulk_work,
    save_people,
)

PATIENT = ("mrn", "first_name", "last_name", "date_of_birth", "middle_name", "preferred_name", "sex",
           "address_line1", "address_line2", "city", "state", "zip_code", "phone", "email", "preferred_language")
GUARANTOR = ("guarantor_relationship", "guarantor_id", "guarantor_first_name", "guarantor_last_name",
             "guarantor_date_of_birth", "guarantor_sex", "guarantor_address_line1", "guarantor_address_line2",
             "guarantor_city", "guarantor_state", "guarantor_zip_code", "guarantor_phone", "guarantor_email")
COVERAGE = ("payer_x12_id", "payer_name", "plan_name", "member_id", "group_number", "coverage_priority",
            "coverage_start", "coverage_end", "subscriber_relationship", "subscriber_first_name",
            "subscriber_last_name", "subscriber_date_of_birth", "subscriber_sex")
COLUMNS = PATIENT + GUARANTOR + COVERAGE
REQUIRED = ("mrn", "first_name", "last_name", "date_of_birth")
RELATIONSHIPS = {"self": "18", "18": "18", "spouse": "01", "01": "01", "child": "19", "19": "19", "other": "G8",
                 "g8": "G8"}
PRIORITIES = {"1": 1, "2": 2, "3": 3, "primary": 1, "secondary": 2, "tertiary": 3}
SEXES = {"f": "F", "m": "M", "u": "U", "female": "F", "male": "M", "unknown": "U"}
PERSON_COLUMNS = ("first_name", "last_name", "date_of_birth", "sex", "address_line1", "address_line2", "city",
                  "state", "zip_code", "phone", "email")


def import_patients(text: str, *, actor: str) -> ImportResult:
    """Import a file whole; any bad row refuses it and lists every problem by line."""
    result = ImportResult()
    with bulk_work(result):
        _import(text, actor, result)
    return result


def _import(text: str, actor: str, result: ImportResult) -> ImportResult:
    problems = Problems(result.errors)
    rows = _rows(text, problems)
    if result.errors:
        return result
    patients: dict[str, PatientIn] = {}
    guarantors: dict[str, GuarantorIn] = {}
    payers: dict[str, PayerIn] = {}
    coverages = []
    for line, row in rows:
        where = f"line {line}"
        first = patients.get(row.get("mrn", ""))
        patient = _patient(where, row, problems, required=first is None)
        if patient is None:
            continue
        if first is not None:
            if any(getattr(patient, name) not in (None, getattr(first, name)) for name in PERSON_COLUMNS):
                problems.add(where, f"MRN {patient.mrn} repeats {first.where} with other details")
            patient = first
        else:
            patients[patient.mrn] = patient
            _guarantor(where, row, patient, guarantors, problems)
        if coverage := _coverage(where, row, patient, payers, problems):
            coverages.append(coverage)
    if not rows and not result.errors:
        problems.add("line 2", "the file has no rows")
    if result.errors:
        return result
    if save_people(list(patients.values()), coverages, result, actor=actor, source="csv") is None:
        return result.refuse()
    db.session.flush()
    return result


def _rows(text: str, problems: Problems) -> list[tuple[int, dict]]:
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        problems.add("line 1", f"not a CSV header: {exc}")
        return []
    header = [name.strip().lower() for name in header]
    reader.fieldnames = header
    if missing := [c for c in REQUIRED if c not in header]:
        problems.add("line 1", f"missing column(s) {', '.join(missing)} (see the import section of the README)")
    if unknown := [c for c in header if c not in COLUMNS]:
        problems.add("line 1", f"unknown column(s) {', '.join(unknown[:10])}")
    if len(set(header)) != len(header):
        problems.add("line 1", "a column is named twice")
    if problems.errors:
        return []
    rows = []
    try:
        for row in reader:
            if None in row:
                problems.add(f"line {reader.line_num}", "more cells than the header has columns")
                continue
            rows.append((reader.line_num, {k: (v or "").strip() for k, v in row.items()}))
    except csv.Error as exc:
        problems.add(f"line {reader.line_num}", f"cannot be read as CSV: {exc}")
    return rows


def _day(where: str, label: str, value: str, problems: Problems) -> date | None:
    if not value:
        return None
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        problems.add(where, f"{label} {value[:20]!r} is not a date like 2026-10-01")
        return None


def _sex(where: str, label: str, value: str, problems: Problems) -> str | None:
    if not value:
        return None
    if value.lower() not in SEXES:
        problems.add(where, f"{label} {value[:20]!r} should be F, M or U")
    return SEXES.get(value.lower())


def _person(where: str, row: dict, prefix: str, into: Person, problems: Problems) -> None:
    for name in ("first_name", "last_name", "address_line1", "address_line2", "city", "zip_code", "phone",
                 "preferred_language", "middle_name", "preferred_name"):
        if hasattr(into, name) and prefix + name in row:
            setattr(into, name, problems.text(where, prefix + name, row[prefix + name], name))
    into.date_of_birth = _day(where, prefix + "date_of_birth", row.get(prefix + "date_of_birth", ""), problems)
    into.sex = _sex(where, prefix + "sex", row.get(prefix + "sex", ""), problems)
    into.state = problems.state(where, prefix + "state", row.get(prefix + "state") or None)
    into.email = problems.email(where, prefix + "email", row.get(prefix + "email") or None)


def _patient(where: str, row: dict, problems: Problems, *, required: bool) -> PatientIn | None:
    """The row's patient; a further row of the same MRN (another coverage) may leave its columns empty."""
    before = len(problems.errors)
    patient = PatientIn(where=where)
    patient.mrn = problems.text(where, "mrn", row.get("mrn"))
    _person(where, row, "", patient, problems)
    for name in REQUIRED if required else ("mrn",):
        if not row.get(name):
            problems.add(where, f"{name} is empty")
    return patient if len(problems.errors) == before else None


def _relationship(where: str, label: str, value: str, problems: Problems) -> str:
    code = RELATIONSHIPS.get((value or "self").lower())
    if code is None:
        problems.add(where, f"{label} {value[:20]!r} should be self, spouse, child or other")
    return code or "18"


def _guarantor(where: str, row: dict, patient: PatientIn, guarantors: dict, problems: Problems) -> None:
    code = _relationship(where, "guarantor_relationship", row.get("guarantor_relationship", ""), problems)
    named = any(row.get(c) for c in GUARANTOR[1:])
    if code == "18" and not named:
        return  # the patient is their own guarantor
    if code == "18":
        problems.add(where, "guarantor columns are filled but guarantor_relationship is self")
        return
    key = problems.text(where, "guarantor_id", row.get("guarantor_id"), "key")
    guarantor = guarantors.get(key) if key else None
    if guarantor is None:
        guarantor = GuarantorIn(where=where, keys=[("csv:guarantor", key)] if key else [])
        _person(where, row, "guarantor_", guarantor, problems)
        if not guarantor.first_name or not guarantor.last_name:
            problems.add(where, "a guarantor other than the patient needs guarantor_first_name and "
                                "guarantor_last_name")
        if key:
            guarantors[key] = guarantor
    patient.guarantor, patient.relationship_to_guarantor = guarantor, code


def _coverage(where: str, row: dict, patient: PatientIn, payers: dict, problems: Problems) -> CoverageIn | None:
    x12 = problems.text(where, "payer_x12_id", row.get("payer_x12_id"), "x12_payer_id")
    name = problems.text(where, "payer_name", row.get("payer_name"))
    member_id = problems.text(where, "member_id", row.get("member_id"))
    if not (x12 or name or member_id or row.get("coverage_start")):
        return None
    before = len(problems.errors)
    if not member_id:
        problems.add(where, "member_id is empty")
    if not (x12 or name):
        problems.add(where, "payer_x12_id or payer_name is needed")
    start = _day(where, "coverage_start", row.get("coverage_start", ""), problems)
    if start is None and not row.get("coverage_start"):
        problems.add(where, "coverage_start is empty")
    end = _day(where, "coverage_end", row.get("coverage_end", ""), problems)
    priority = PRIORITIES.get((row.get("coverage_priority") or "1").lower())
    if priority is None:
        problems.add(where, f"coverage_priority {row['coverage_priority'][:20]!r} should be 1, 2 or 3")
    relationship = _relationship(where, "subscriber_relationship", row.get("subscriber_relationship", ""), problems)
    subscriber = None
    if relationship != "18":
        subscriber = Person()
        _person(where, row, "subscriber_", subscriber, problems)
    plan = problems.text(where, "plan_name", row.get("plan_name"))
    group = problems.text(where, "group_number", row.get("group_number"))
    if len(problems.errors) > before:
        return None
    same = (x12 or name).lower()
    payer = payers.setdefault(same, PayerIn(where, name, x12_payer_id=x12))
    return CoverageIn(where, patient, payer, member_id, start, plan_name=plan, group_number=group,
                      priority=priority, end_date=end, subscriber_relationship=relationship, subscriber=subscriber)
