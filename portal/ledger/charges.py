"""Charges: what a patient or their insurance owes for a service, posted one at a time or in batches."""
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.clock import facility_today
from portal.extensions import db
from portal.ledger.engine import UnitOfWork, fingerprint, require_positive
from portal.ledger.errors import CHARGE_BUCKETS, IdempotencyConflict, LedgerError
from portal.models import (
    BillingCode,
    Charge,
    Patient,
    Posting,
    utcnow,
)

# What a charge carries besides its money, for claims: who, where, how it is coded, and whether it may be billed.
CHARGE_DETAILS = ("clinician", "location", "minutes", "authorization_id", "episode_id", "modifiers", "revenue_code",
                  "place_of_service", "rendering_provider_id", "diagnosis_pointers", "review_status")


@dataclass(frozen=True)
class ChargeRequest:
    account_id: int
    patient_id: int
    billing_code_id: int
    service_date: date
    amount_cents: int
    key: str
    units: int = 1
    coverage_id: int | None = None
    responsibility: str = "insurance"
    source: str = "manual"
    clinician: str | None = None
    location: str | None = None
    minutes: int | None = None
    authorization_id: int | None = None
    episode_id: int | None = None
    modifiers: str | None = None  # up to four, comma-separated
    revenue_code: str | None = None
    place_of_service: str | None = None
    rendering_provider_id: int | None = None
    diagnosis_pointers: str | None = None
    review_status: str = "released"  # "held" waits in the charge review queue

    def fingerprint(self) -> str:
        return fingerprint(op="charge", account=self.account_id, patient=self.patient_id,
                           code=self.billing_code_id, date=self.service_date, amount=self.amount_cents,
                           units=self.units, coverage=self.coverage_id, resp=self.responsibility)


@dataclass
class ChargeBatch:
    """Charge ids by idempotency key (plain ids: the ORM objects are expired after the commit)."""

    created: dict[str, int] = field(default_factory=dict)
    replayed: dict[str, int] = field(default_factory=dict)  # the key was already posted: nothing new
    refused: list[tuple[ChargeRequest, str]] = field(default_factory=list)


def post_charge(account_id: int, *, patient_id: int, billing_code_id: int, service_date: date,
                amount_cents: int, key: str, actor: str, units: int = 1, coverage_id: int | None = None,
                responsibility: str = "insurance", source: str = "manual", **details) -> Charge:
    """Post a charge, owed by insurance (billed to coverage) or by the patient (self-pay).
    `details` are the CHARGE_DETAILS (coding, provider, episode, review status)."""
    if unknown := set(details) - set(CHARGE_DETAILS):
        raise LedgerError(f"unknown charge details: {', '.join(sorted(unknown))}")
    request = ChargeRequest(account_id, patient_id, billing_code_id, service_date, amount_cents, key, units,
                            coverage_id, responsibility, source, **details)
    batch = post_charges([request], actor=actor)
    if batch.refused:
        raise IdempotencyConflict(batch.refused[0][1])
    return db.session.get(Charge, batch.created.get(key) or batch.replayed[key])


def post_charges(requests: list[ChargeRequest], *, actor: str, admit=None) -> ChargeBatch:
    """Post many charges in one transaction, the accounts locked in id order.

    `admit(request)` runs under the locks for each charge not posted before and returns None to
    post it or a reason to refuse it (e.g. no authorization units left), so the check and the
    posting cannot be separated by another worker. A key posted before is a replay: nothing new.
    """
    for request in requests:
        require_positive(request.amount_cents)
        if request.review_status not in ("held", "released"):
            raise LedgerError("review_status must be held or released")
        if request.responsibility not in CHARGE_BUCKETS:
            raise LedgerError(f"responsibility must be one of {CHARGE_BUCKETS}")
    if len({r.key for r in requests}) != len(requests):
        raise LedgerError("two charges in one batch share an idempotency key")
    for attempt in range(2):
        try:
            return _post_charges(requests, actor, admit)
        except IntegrityError as exc:  # lost a race on a key: the second attempt replays it
            db.session.rollback()
            if attempt:
                raise LedgerError("charges could not be written") from exc
        except Exception:
            db.session.rollback()
            raise
    raise AssertionError("unreachable: the second attempt returns or raises")


def _post_charges(requests: list[ChargeRequest], actor: str, admit) -> ChargeBatch:
    uow = UnitOfWork({r.account_id for r in requests}, actor=actor)
    batch = ChargeBatch()
    done = {p.idempotency_key: p for p in db.session.scalars(
        select(Posting).where(Posting.idempotency_key.in_([r.key for r in requests])))}
    patients = dict(db.session.execute(
        select(Patient.id, Patient.account_id).where(Patient.id.in_({r.patient_id for r in requests}))).all())
    fresh, replayed = [], {}
    for request in requests:
        if patients.get(request.patient_id) != request.account_id:
            raise LedgerError(f"patient {request.patient_id} is not on account {request.account_id}")
        if (posting := done.get(request.key)) is not None:
            if posting.fingerprint != request.fingerprint():
                batch.refused.append(
                    (request, f"idempotency key {request.key!r} was already used for a different charge"))
            else:
                replayed[posting.id] = request.key
        elif admit is not None and (reason := admit(request)):
            batch.refused.append((request, reason))
        else:
            fresh.append(request)
    if replayed:
        batch.replayed = {replayed[posting_id]: charge_id for charge_id, posting_id in db.session.execute(
            select(Charge.id, Charge.posting_id).where(Charge.posting_id.in_(list(replayed))))}
    today = facility_today()
    levels = dict(db.session.execute(select(BillingCode.id, BillingCode.level_of_care).where(
        BillingCode.id.in_({r.billing_code_id for r in fresh}))).all()) if fresh else {}
    for request in fresh:
        # A new charge owes its whole amount in one bucket: the money rules hold by construction.
        owed_by_patient = request.responsibility == "patient"
        # Gross revenue in the general ledger is by level of care (a code of none: "other").
        posting_id = uow.posting(request.account_id, "charge", request.key, request.fingerprint(),
                                 gl_source=f"revenue:{levels.get(request.billing_code_id) or 'other'}")
        charge_id = uow.row(
            Charge, account_id=request.account_id, patient_id=request.patient_id, coverage_id=request.coverage_id,
            billing_code_id=request.billing_code_id, posting_id=posting_id, service_date=request.service_date,
            units=request.units, amount_cents=request.amount_cents, source=request.source, created_by=actor,
            insurance_balance_cents=0 if owed_by_patient else request.amount_cents,
            patient_balance_cents=request.amount_cents if owed_by_patient else 0,
            patient_responsible_since=today if owed_by_patient else None,
            **{name: getattr(request, name) for name in CHARGE_DETAILS},
        )
        uow.new_charges.add(charge_id)
        uow.entry(posting_id, request.responsibility, request.amount_cents, charge_id=charge_id)
        batch.created[request.key] = charge_id
    uow.commit()
    return batch


def release_charges(charge_ids, *, actor: str) -> list[int]:
    """Release held charges from the review queue so they can be billed; returns the ids released now.
    A charge already released (by someone else a moment ago) is left as it is. Flushes; the caller commits."""
    held = db.session.scalars(select(Charge).where(Charge.id.in_(list(charge_ids)), Charge.review_status == "held")
                              .order_by(Charge.id).with_for_update(of=Charge)).all()
    now = utcnow()
    for charge in held:
        charge.review_status, charge.released_by, charge.released_at = "released", actor, now
    db.session.flush()
    return [charge.id for charge in held]
