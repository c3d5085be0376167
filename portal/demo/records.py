"""The demo facility that `make run` serves. Idempotent: a second run adds nothing."""
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select

from portal import facility, iop, ledger, statements
from portal.demo import bank_deposits, collection_cases, deposit_batch, era_files, payment_history, underpayment_scan
from portal.extensions import db
from portal.models import (
    Account,
    AccountAccess,
    BillingCode,
    BillingCodeGroup,
    Claim,
    ClaimLine,
    Coverage,
    InsurancePlan,
    Patient,
    Payer,
    Statement,
    User,
)
from portal.people import users

ACTOR = "cli:seed-demo"
DEMO_DOMAIN = "demo.example.org"


@dataclass
class Login:
    email: str
    password: str
    side: str
    role: str
    totp_secret: str | None = None


@dataclass
class StatementDetails:
    """What pay by link and creating a login ask, for a demo account that has no login yet."""

    account: str
    code: str
    date_of_birth: str
    zip_code: str


@dataclass
class DemoResult:
    created: bool
    logins: list[Login] = field(default_factory=list)
    statement: StatementDetails | None = None


def staff_password(role: str) -> str:
    return f"demo-{role}-password"


PATIENT_LOGINS = (("morgan", "Morgan Rivera", "A-10001"), ("casey", "Casey Brooks", "A-10002"))


def seed(today: date) -> DemoResult:
    fac = facility.saved()  # seeding stores the facility
    created = db.session.scalar(select(Account).where(Account.number == "A-10001")) is None
    roles = users.ensure_default_roles()
    if created:
        fac.neutral_name = "Parity Health Services"
        fac.npi, fac.tin, fac.phone = "1234567893", "123456789", "555-0100"
        fac.address_line1, fac.city, fac.state, fac.zip_code = "100 Main Street", "Springfield", "NJ", "07081"
        fac.remit_address = "Parity Health Services\nPO Box 1000\nSpringfield, NJ 07081"
        _seed_records(fac.id, today)
        _seed_setup()
        _seed_iop(today)
        payment_history.seed(today)
        era_files.seed(today, actor=ACTOR)
        underpayment_scan.seed(today, actor=ACTOR)
        for account in db.session.scalars(select(Account).order_by(Account.id)).all():
            statements.issue(account, today, actor=ACTOR)
        deposit_batch.seed(today, list(db.session.scalars(select(Account).order_by(Account.id))), actor=ACTOR)
        collection_cases.seed(today, actor=ACTOR)
        bank_deposits.seed(today, fac.id, actor=ACTOR)
    logins = []
    for role in roles:
        email = f"{role}@{DEMO_DOMAIN}"
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            secret = users.new_totp_secret() if role in ("admin", "biller") else None
            user = users.create_user(email=email, full_name=f"Demo {role.title()}", password=staff_password(role),
                                     kind="staff", role_name=role, actor=ACTOR, totp_secret=secret)
        logins.append(Login(email, staff_password(role), "staff", role, user.totp_secret))
    for handle, name, account_number in PATIENT_LOGINS:
        email = f"{handle}@{DEMO_DOMAIN}"
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            user = users.create_user(email=email, full_name=name, password=f"demo-{handle}-password",
                                     kind="patient", actor=ACTOR)
            account = db.session.scalar(select(Account).where(Account.number == account_number))
            db.session.add(AccountAccess(user_id=user.id, account_id=account.id))
        logins.append(Login(email, f"demo-{handle}-password", "patient", "patient"))
    db.session.flush()
    return DemoResult(created, logins, _statement_without_login())


def _statement_without_login() -> StatementDetails | None:
    found = db.session.execute(
        select(Statement, Account.number).join(Account, Account.id == Statement.account_id)
        .where(Account.number.not_in([number for _, _, number in PATIENT_LOGINS]))
        .order_by(Statement.amount_due_cents.desc(), Statement.id).limit(1)).first()
    if found is None:
        return None
    statement, number = found
    patient = db.session.scalar(select(Patient).where(Patient.account_id == statement.account_id,
                                                      Patient.zip_code.is_not(None)).order_by(Patient.id))
    return StatementDetails(number, statement.code, patient.date_of_birth.isoformat(), patient.zip_code[:5])


def _seed_records(facility_id: int, today: date) -> None:
    payers = {
        "harbor": Payer(name="Blue Harbor Health", x12_payer_id="BHH01", payer_type="commercial"),
        "summit": Payer(name="Summit Mutual", x12_payer_id="SMM02", payer_type="commercial"),
        "state": Payer(name="State Medicaid Plan", x12_payer_id="SMP03", payer_type="medicaid"),
    }
    db.session.add_all(payers.values())
    plans = {
        "harbor": InsurancePlan(payer=payers["harbor"], name="Harbor PPO"),
        "summit": InsurancePlan(payer=payers["summit"], name="Summit Choice HMO"),
    }
    db.session.add_all(plans.values())
    codes = {
        "S9480": BillingCode(code="S9480", description="Intensive outpatient psychiatric services, per diem",
                             revenue_code="0905", kind="billable", level_of_care="iop",
                             default_price_cents=95000),
        "H0015": BillingCode(code="H0015", description="Alcohol and/or drug services; intensive outpatient",
                             revenue_code="0906", kind="billable", level_of_care="iop",
                             default_price_cents=85000),
        "90853": BillingCode(code="90853", description="Group psychotherapy", kind="documentation",
                             minutes=60, default_price_cents=0),
        "90837": BillingCode(code="90837", description="Psychotherapy, 60 minutes", kind="documentation",
                             minutes=60, default_price_cents=0),
        "90791": BillingCode(code="90791", description="Psychiatric diagnostic evaluation", kind="billable",
                             level_of_care="outpatient", default_price_cents=35000),
    }
    db.session.add_all(codes.values())
    db.session.add_all([
        BillingCodeGroup(name="IOP billable", purpose="billable", codes=[codes["S9480"], codes["H0015"]]),
        BillingCodeGroup(name="IOP documentation", purpose="documentation",
                         codes=[codes["90853"], codes["90837"]]),
    ])
    db.session.flush()

    people: list[tuple[str, str, str | None, list[tuple]]] = [
        # account, guarantor, email, patients: (mrn, first, last, dob, payer key or None)
        ("A-10001", "Morgan Rivera", f"morgan@{DEMO_DOMAIN}",
         [("MRN1001", "Morgan", "Rivera", date(1988, 4, 12), "harbor")]),
        ("A-10002", "Casey Brooks", f"casey@{DEMO_DOMAIN}", [
            ("MRN1002", "Jordan", "Brooks", date(2007, 9, 3), "summit"),
            ("MRN1003", "Avery", "Brooks", date(2009, 1, 22), "summit"),
        ]),
        ("A-10003", "Taylor Nguyen", None, [("MRN1004", "Taylor", "Nguyen", date(1979, 11, 30), "state")]),
        ("A-10004", "Riley Patel", None, [("MRN1005", "Riley", "Patel", date(1995, 6, 18), None)]),
        ("A-10005", "Jamie Okafor", None, [("MRN1006", "Jamie", "Okafor", date(1990, 2, 7), "harbor")]),
    ]
    for number, guarantor, email, patients in people:
        account = Account(facility_id=facility_id, number=number, guarantor_name=guarantor, email=email,
                          address_line1="1 Elm Street", city="Springfield", state="NJ", zip_code="07081",
                          statement_day=(int(number[-1]) * 5) % 28 + 1)
        db.session.add(account)
        db.session.flush()
        for mrn, first, last, dob, payer_key in patients:
            patient = Patient(account=account, mrn=mrn, first_name=first, last_name=last, date_of_birth=dob,
                              zip_code="07081", part2=payer_key == "state")
            db.session.add(patient)
            db.session.flush()
            coverage = None
            if payer_key:
                coverage = Coverage(
                    patient=patient, payer=payers[payer_key], plan=plans.get(payer_key), member_id=f"M{mrn[3:]}X",
                    priority=1, start_date=date(today.year - 1, 1, 1), deductible_cents=150000,
                    deductible_met_cents=50000, coinsurance_bps=2000, copay_cents=0, oop_max_cents=600000,
                    oop_met_cents=50000, in_network=payer_key != "summit",
                )
                db.session.add(coverage)
            db.session.flush()
            _seed_episode(account, patient, coverage, codes, today)


def _seed_setup() -> None:
    """Where and by whom the demo's care is given and billed: two locations, the organization and two
    clinicians (made-up NPIs with valid check digits), and two programs."""
    main = facility.save_location(None, {"name": "Main campus", "place_of_service": "57",
                                         "address_line1": "100 Main Street", "city": "Springfield",
                                         "state": "NJ", "zip_code": "07081"}, actor=ACTOR)
    facility.save_location(None, {"name": "Telehealth (patient's home)", "place_of_service": "10"}, actor=ACTOR)
    organization = facility.save_provider(None, {"kind": "organization", "organization_name": "Parity Health Services",
                                                 "npi": "1234567893", "tin": "123456789",
                                                 "taxonomy_code": "261QR0405X"}, actor=ACTOR)
    ortiz = facility.save_provider(None, {"kind": "individual", "first_name": "Sam", "last_name": "Ortiz",
                                          "credentials": "MD", "npi": "1987654328",
                                          "taxonomy_code": "2084P0800X"}, actor=ACTOR)
    facility.save_provider(None, {"kind": "individual", "first_name": "Ana", "last_name": "Reyes",
                                  "credentials": "LCSW", "npi": "1500000009", "taxonomy_code": "1041C0700X"},
                           actor=ACTOR)
    for name, level in (("Adult IOP", "iop"), ("Day PHP", "php")):
        facility.save_program(None, {"name": name, "level_of_care": level, "location_id": main.id,
                                     "billing_provider_id": organization.id, "rendering_provider_id": ortiz.id},
                              actor=ACTOR)


def _seed_episode(account: Account, patient: Patient, coverage: Coverage | None, codes, today: date) -> None:
    """Five IOP days a few weeks back: some adjudicated with patient responsibility, some pending."""
    code = codes["H0015"] if patient.part2 else codes["S9480"]
    first_day = today - timedelta(days=45)
    charges = []
    for n in range(5):
        day = first_day + timedelta(days=n * 2)
        charges.append(ledger.post_charge(
            account.id, patient_id=patient.id, billing_code_id=code.id, service_date=day,
            amount_cents=code.default_price_cents, coverage_id=coverage.id if coverage else None,
            responsibility="insurance" if coverage else "patient", source="demo",
            key=f"demo:charge:{patient.mrn}:{n}", actor=ACTOR,
        ))
    if coverage is None:
        ledger.post_payment(account.id, amount_cents=50000, method="cash", key=f"demo:payment:{patient.mrn}",
                            actor=ACTOR, received_on=today - timedelta(days=20))
        return
    claim = Claim(control_number=f"PC{patient.mrn[3:]}{first_day:%y%m%d}", account_id=account.id,
                  patient_id=patient.id, coverage_id=coverage.id, payer_id=coverage.payer_id,
                  submitted_on=first_day + timedelta(days=12), total_cents=sum(c.amount_cents for c in charges))
    claim.lines = [
        ClaimLine(line_number=i + 1, charge_id=c.id, procedure_code=code.code, revenue_code=code.revenue_code,
                  service_date=c.service_date, units=1, charge_cents=c.amount_cents)
        for i, c in enumerate(charges)
    ]
    db.session.add(claim)
    db.session.flush()
    # The payer has adjudicated the first three days: contractual write-off, payment, coinsurance.
    allowed = 65000
    adjudicated = charges[:3]
    paid_each = allowed - allowed * 20 // 100
    for c in adjudicated:
        ledger.post_adjustment(c.id, amount_cents=c.amount_cents - allowed, kind="contractual", bucket="insurance",
                               group_code="CO", carc="45", key=f"demo:co45:{c.id}", actor=ACTOR)
        ledger.transfer(c.id, amount_cents=allowed - paid_each, to_bucket="patient", reason="coinsurance",
                        carc="2", key=f"demo:pr2:{c.id}", actor=ACTOR)
    ledger.post_payment(account.id, amount_cents=paid_each * len(adjudicated), method="eft", source="insurance",
                        payer_id=coverage.payer_id, reference=f"EFT{claim.control_number}",
                        allocate_to=[(c.id, paid_each) for c in adjudicated],
                        key=f"demo:era:{claim.control_number}", actor=ACTOR, received_on=today - timedelta(days=15))
    if patient.mrn == "MRN1001":
        ledger.post_payment(account.id, amount_cents=10000, method="card", key="demo:payment:MRN1001",
                            actor=ACTOR, received_on=today - timedelta(days=7), reference="pi_demo_MRN1001")


def _seed_iop(today: date) -> None:
    """Two weeks of attendance: most days bill; some show each kind of exception for the review page."""
    config = facility.save_settings(iop.settings())  # seeding writes the settings it tunes
    config.default_clinician, config.default_location = "Dr. Sam Ortiz", "Main campus"
    codes = {c.code: c for c in db.session.scalars(select(BillingCode))}
    patients = {p.mrn: p for p in db.session.scalars(select(Patient))}
    start = today - timedelta(days=16)
    auths = {  # MRN: (code, first day, units); MRN1005 is self-pay, MRN1006 has none
        "MRN1001": ("S9480", start, 20),
        "MRN1002": ("S9480", start, 4),
        "MRN1003": ("S9480", start, 20),
        "MRN1004": ("H0015", start, 20),
    }
    for mrn, (code, first, units) in auths.items():
        patient = patients[mrn]
        iop.save_authorization(patient=patient, coverage_id=patient.coverages[0].id,
                               billing_code_id=codes[code].id, start=first, end=first + timedelta(days=60),
                               units=units, actor=ACTOR, number=f"AUTH-{mrn[3:]}")
    for offset in range(14):
        day = start + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for mrn, patient in patients.items():
            short_day = mrn == "MRN1003" and offset % 4 == 0  # left early: below the threshold
            iop.record_session(patient=patient, service_date=day, billing_code_id=codes["90853"].id,
                               minutes=60 if short_day else 120, units=1 if short_day else 2,
                               clinician="Dr. Sam Ortiz", signed=True, actor=ACTOR, source="demo")
            iop.record_session(patient=patient, service_date=day, billing_code_id=codes["90837"].id,
                               minutes=60, units=1, clinician="Dr. Ana Reyes", signed=offset < 12, actor=ACTOR,
                               source="demo")
    db.session.flush()
    for offset in range(14):
        iop.run(today, actor=ACTOR, only_date=start + timedelta(days=offset))
