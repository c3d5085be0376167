"""Merging a duplicate patient into the one kept: everything about the patient moves, the duplicate stays
(hidden, pointing at the one kept) for the audit trail.

Money rule: a charge belongs to the account that was billed, and the account's payments, statements and
balances are built on it. So a duplicate on the same account brings its charges and claims along (only which
of the account's patients they name changes: no balance moves), while a duplicate on another account can be
merged only if it has no charges or claims at all; otherwise the merge is refused and says why.
"""
from datetime import date
from typing import Any, cast

from sqlalchemy import CursorResult, exists, func, select, update
from sqlalchemy.orm import aliased

from portal import audit
from portal.extensions import db
from portal.locking import lock_rows
from portal.models import (
    Account,
    AdjudicatedLine,
    Authorization,
    Charge,
    Claim,
    ClinicalSession,
    Coverage,
    Episode,
    Estimate,
    ExternalId,
    GoodFaithEstimate,
    IopException,
    Lead,
    Patient,
)
from portal.patients.coverages import PRIORITIES
from portal.patients.details import PatientError

# Records that name a patient and simply follow the merge.
FOLLOWERS: tuple[Any, ...] = (ClinicalSession, Authorization, Episode, Lead, AdjudicatedLine)
# Records that also name the account: on a merge across accounts they move to the kept patient's account.
WITH_ACCOUNT: tuple[Any, ...] = (Estimate, GoodFaithEstimate)


def _count(statement) -> int:
    """Run an UPDATE; how many rows it changed."""
    return cast(CursorResult, db.session.execute(statement)).rowcount


def _same_policy(a: Coverage, b: Coverage) -> bool:
    squeeze = lambda text: "".join((text or "").lower().split())  # noqa: E731
    return a.payer_id == b.payer_id and a.priority == b.priority and squeeze(a.member_id) == squeeze(b.member_id)


def _overlap(a: Coverage, b: Coverage) -> bool:
    return (a.start_date <= (b.end_date or date.max)) and (b.start_date <= (a.end_date or date.max))


def merge(keep: Patient, duplicate: Patient, *, actor, ip: str | None = None,
          user_agent: str | None = None) -> dict[str, int]:
    """Merge `duplicate` into `keep`; returns how many records of each kind moved. Refuses (PatientError,
    nothing changed) when the two are one, either is already merged, coverages would clash, or money would
    have to change accounts."""
    if keep.id == duplicate.id:
        raise PatientError({"": "Choose two different patients."})
    lock_rows(Account, {keep.account_id, duplicate.account_id})
    locked = lock_rows(Patient, [keep.id, duplicate.id])
    keep, duplicate = locked[keep.id], locked[duplicate.id]
    for patient in (keep, duplicate):
        if patient.merged_into_id is not None:
            raise PatientError({"": f"MRN {patient.mrn} was already merged into another patient."})
    across = keep.account_id != duplicate.account_id
    if across:
        charges = db.session.scalar(select(func.count()).select_from(Charge).where(Charge.patient_id == duplicate.id))
        claims = db.session.scalar(select(func.count()).select_from(Claim).where(Claim.patient_id == duplicate.id))
        if charges or claims:
            raise PatientError({"": (
                f"Not merged: MRN {duplicate.mrn} has {charges} charge(s) and {claims} claim(s) on account "
                f"{duplicate.account.number}, and charges stay on the account that was billed (moving them would "
                f"change both accounts' balances). Patients on different accounts can be merged only when the one "
                f"merged away has no charges or claims.")})

    twins, moving = {}, []
    for coverage in duplicate.coverages:
        twin = next((c for c in keep.coverages if _same_policy(c, coverage) and _overlap(c, coverage)), None)
        clash = next((c for c in keep.coverages if c.priority == coverage.priority and _overlap(c, coverage)), None)
        if twin is not None:  # the same policy entered twice: what named the duplicate's copy names the kept one
            twins[coverage] = twin
        elif clash is not None:
            raise PatientError({"": (
                f"Not merged: both patients have a {PRIORITIES[coverage.priority].lower()} coverage on the same "
                f"dates ({clash.payer.name} member {clash.member_id}, and {coverage.payer.name} member "
                f"{coverage.member_id}). End or change one of them first.")})
        else:
            moving.append(coverage)

    moved: dict[str, int] = {"coverages": len(moving), "coverages_combined": len(twins)}
    for coverage, twin in twins.items():
        for naming in (Charge, Claim, Authorization):
            db.session.execute(update(naming).where(naming.coverage_id == coverage.id).values(coverage_id=twin.id))
        db.session.execute(update(ExternalId).where(ExternalId.resource_type == "coverage",
                                                    ExternalId.object_id == coverage.id).values(object_id=twin.id))
        db.session.delete(coverage)
    for coverage in moving:
        coverage.patient_id = keep.id
    db.session.flush()

    # Charges and claims only ever move within one account (checked above).
    for model in (Charge, Claim, *FOLLOWERS):
        moved[model.__tablename__] = _count(
            update(model).where(model.patient_id == duplicate.id).values(patient_id=keep.id))
    for estimate in WITH_ACCOUNT:
        moved[estimate.__tablename__] = _count(
            update(estimate).where(estimate.patient_id == duplicate.id)
            .values(patient_id=keep.id, account_id=keep.account_id))
    # An alert the kept patient already has for the same day and reason stays with the duplicate.
    kept_alert = aliased(IopException)
    clashing = exists().where(kept_alert.patient_id == keep.id, kept_alert.service_date == IopException.service_date,
                              kept_alert.reason == IopException.reason)
    moved[IopException.__tablename__] = _count(
        update(IopException).where(IopException.patient_id == duplicate.id, ~clashing).values(patient_id=keep.id))
    # A later import that names the duplicate's identifiers updates the kept patient.
    moved[ExternalId.__tablename__] = _count(
        update(ExternalId).where(ExternalId.resource_type == "patient", ExternalId.object_id == duplicate.id)
        .values(object_id=keep.id))
    duplicate.merged_into_id = keep.id
    moved = {name: count for name, count in moved.items() if count}
    audit.record("patient.merged", "patient", actor=actor, object_id=keep.id, patient_id=keep.id,
                 account_id=keep.account_id, detail={"merged_patient_id": duplicate.id, "merged_mrn": duplicate.mrn,
                                                     "from_account_id": duplicate.account_id, "moved": moved},
                 ip=ip, user_agent=user_agent)
    audit.record("patient.merged_away", "patient", actor=actor, object_id=duplicate.id, patient_id=duplicate.id,
                 account_id=duplicate.account_id, detail={"merged_into_id": keep.id}, ip=ip, user_agent=user_agent)
    db.session.flush()
    return moved
