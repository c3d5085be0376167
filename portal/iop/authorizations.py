"""IOP settings, billing-code groups, authorizations and their units used."""
from datetime import date

from sqlalchemy import func, or_, select

from portal import facility
from portal.extensions import db
from portal.models import (
    Authorization,
    BillingCodeGroup,
    Charge,
    Coverage,
    Episode,
    IopSettings,
    Patient,
    Posting,
)

BATCH_SIZE = 500


class IopError(ValueError):
    """A request about IOP records that cannot be done, with a message fit to show."""


# ---------------------------------------------------------------- settings and codes


def settings() -> IopSettings:
    """This facility's engine settings: stored, or unsaved defaults naming the demo groups (reading never writes)."""
    found = facility.settings_row(IopSettings)
    if found.id is None:
        groups = {g.name: g.id for g in db.session.scalars(select(BillingCodeGroup))}
        found.documentation_group_id = groups.get("IOP documentation")
        found.billable_group_id = groups.get("IOP billable")
    return found


def group_code_ids(group_id: int | None) -> set[int]:
    if group_id is None:
        return set()
    group = db.session.get(BillingCodeGroup, group_id)
    return {c.id for c in group.codes} if group else set()


def units_used(authorization_ids) -> dict[int, int]:
    """Units used per authorization: its IOP charges that have not been reversed."""
    reversed_postings = select(Posting.reverses_posting_id).where(Posting.reverses_posting_id.is_not(None))
    rows = db.session.execute(
        select(Charge.authorization_id, func.count(Charge.id))
        .where(Charge.authorization_id.in_(list(authorization_ids)), Charge.posting_id.not_in(reversed_postings))
        .group_by(Charge.authorization_id)
    ).all()
    return {auth_id: int(count) for auth_id, count in rows}


# ---------------------------------------------------------------- authorizations


def save_authorization(*, patient: Patient, coverage_id: int, billing_code_id: int, start: date, end: date,
                       units: int, actor: str, number: str | None = None,
                       authorization: Authorization | None = None) -> Authorization:
    """Create or edit an authorization; one overlapping another of the patient's is refused."""
    if end < start:
        raise IopError("The end date is before the start date.")
    if units <= 0:
        raise IopError("Authorized units must be at least 1.")
    billable = group_code_ids(settings().billable_group_id)
    if billing_code_id not in billable:
        raise IopError("The code is not in the IOP billable group.")
    coverage = db.session.get(Coverage, coverage_id)
    if coverage is None or coverage.patient_id != patient.id:
        raise IopError("Choose one of the patient's coverages.")
    overlapping = db.session.scalars(
        select(Authorization).where(
            Authorization.patient_id == patient.id, Authorization.billing_code_id.in_(billable),
            Authorization.start_date <= end, Authorization.end_date >= start,
            Authorization.id != (authorization.id if authorization else -1),
        )
    ).first()
    if overlapping is not None:
        raise IopError(
            f"These dates overlap authorization {overlapping.number or '#' + str(overlapping.id)} "
            f"({overlapping.start_date:%m/%d/%Y}–{overlapping.end_date:%m/%d/%Y}); "
            "end that one first or choose other dates."
        )
    if authorization is not None and units < units_used([authorization.id]).get(authorization.id, 0):
        raise IopError("Fewer units than have already been billed on this authorization.")
    auth = authorization or Authorization(patient_id=patient.id, created_by=actor)
    auth.coverage_id, auth.billing_code_id, auth.number = coverage_id, billing_code_id, number
    auth.start_date, auth.end_date, auth.units_allotted = start, end, units
    auth.episode_id = _episode_on(patient.id, start)
    db.session.add(auth)
    db.session.flush()
    return auth


def _episode_on(patient_id: int, day: date) -> int | None:
    """The patient's episode whose stay covers `day` (the latest admission if several): the authorization hangs
    on it."""
    return db.session.scalar(select(Episode.id).where(
        Episode.patient_id == patient_id, Episode.admit_date <= day,
        or_(Episode.discharge_date.is_(None), Episode.discharge_date >= day))
        .order_by(Episode.admit_date.desc(), Episode.id.desc()).limit(1))
