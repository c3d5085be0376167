"""Charges."""
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.clock import facility_today
from portal.extensions import db
from portal.ledger.engine import _fingerprint, _Replay, _require_positive, lock_accounts
from portal.ledger.errors import CHARGE_BUCKETS, IdempotencyConflict, LedgerError
from portal.models import (
    Charge,
    LedgerEntry,
    Patient,
    Posting,
)

# ---------------------------------------------------------------- charges


CHARGE_DETAILS = ("clinician", "location", "minutes", "authorization_id")


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

    def fingerprint(self) -> str:
        return _fingerprint(op="charge", account=self.account_id, patient=self.patient_id,
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
                responsibility: str = "insurance", source: str = "manual") -> Charge:
    """Post a charge, owed by insurance (billed to coverage) or by the patient (self-pay)."""
    request = ChargeRequest(account_id, patient_id, billing_code_id, service_date, amount_cents, key, units,
                            coverage_id, responsibility, source)
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
        _require_positive(request.amount_cents)
        if request.responsibility not in CHARGE_BUCKETS:
            raise LedgerError(f"responsibility must be one of {CHARGE_BUCKETS}")
    if len({r.key for r in requests}) != len(requests):
        raise LedgerError("two charges in one batch share an idempotency key")
    for _attempt in range(2):
        try:
            return _post_charges(requests, actor, admit)
        except _Replay:
            continue
        except Exception:
            db.session.rollback()
            raise
    raise LedgerError("charges could not be written")


def _post_charges(requests: list[ChargeRequest], actor: str, admit) -> ChargeBatch:
    accounts = lock_accounts({r.account_id for r in requests})
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
                batch.refused.append((request, f"idempotency key {request.key!r} was already used for a different charge"))
            else:
                replayed[posting.id] = request.key
        elif admit is not None and (reason := admit(request)):
            batch.refused.append((request, reason))
        else:
            fresh.append(request)
    if replayed:
        batch.replayed = {replayed[posting_id]: charge_id for charge_id, posting_id in db.session.execute(
            select(Charge.id, Charge.posting_id).where(Charge.posting_id.in_(list(replayed))))}
    postings = [Posting(account_id=r.account_id, kind="charge", idempotency_key=r.key, fingerprint=r.fingerprint(),
                        actor=actor) for r in fresh]
    db.session.add_all(postings)
    db.session.flush()
    today = facility_today()
    charges = []
    for request, posting in zip(fresh, postings, strict=True):
        # A new charge owes its whole amount in one bucket: the money rules hold by construction.
        owed_by_patient = request.responsibility == "patient"
        charges.append(Charge(
            account_id=request.account_id, patient_id=request.patient_id, coverage_id=request.coverage_id,
            billing_code_id=request.billing_code_id, posting_id=posting.id, service_date=request.service_date,
            units=request.units, amount_cents=request.amount_cents, source=request.source, created_by=actor,
            insurance_balance_cents=0 if owed_by_patient else request.amount_cents,
            patient_balance_cents=request.amount_cents if owed_by_patient else 0,
            patient_responsible_since=today if owed_by_patient else None,
            **{name: getattr(request, name) for name in CHARGE_DETAILS},
        ))
    db.session.add_all(charges)
    db.session.flush()
    for request, posting, charge in zip(fresh, postings, charges, strict=True):
        batch.created[request.key] = charge.id
        db.session.add(LedgerEntry(posting_id=posting.id, account_id=request.account_id, charge_id=charge.id,
                                   bucket=request.responsibility, amount_cents=request.amount_cents))
        account = accounts[request.account_id]
        if request.responsibility == "patient":
            account.patient_balance_cents += request.amount_cents
        else:
            account.insurance_balance_cents += request.amount_cents
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise _Replay("batch") from exc
    return batch
