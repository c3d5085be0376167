"""Patients and guarantors: registering, editing, coverages with the one-per-priority rule, duplicates and merging.

Owns: account and MRN numbering, patient and guarantor details, coverages, the duplicate check and the merge.
May import: models, audit, facility, clock, locking. Never views, the ledger or tasks.
"""
from portal.patients.coverages import CoverageDetails, end_coverage, save_coverage
from portal.patients.details import GuarantorDetails, PatientDetails, PatientError
from portal.patients.merge import merge
from portal.patients.numbers import number_patient, open_account
from portal.patients.registration import (
    find_duplicates,
    register,
    update_guarantor,
    update_patient,
)

__all__ = [
    "CoverageDetails",
    "GuarantorDetails",
    "PatientDetails",
    "PatientError",
    "end_coverage",
    "find_duplicates",
    "merge",
    "number_patient",
    "open_account",
    "register",
    "save_coverage",
    "update_guarantor",
    "update_patient",
]
