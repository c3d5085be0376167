"""Imports from an EHR: a FHIR R4 bundle (`fhir`) and a patients CSV (`patients_csv`), each whole or not at all.

Owns: reading and checking both formats, and the upserts they share (`records`: patients, guarantors, payers,
plans, coverages; `care`: providers, programs, episodes, diagnoses and the charges handed to the ledger).
May import: models, ledger, audit, facility, accounts. Never views or the CLI.
"""
from portal.imports.fhir import import_bundle
from portal.imports.patients_csv import import_patients
from portal.imports.records import ImportResult

__all__ = ["ImportResult", "import_bundle", "import_patients"]
