"""What an EHR says about care, as plain records, and how they land: providers (by NPI), programs (by name),
episodes with their diagnoses, and charges posted through the ledger under the EHR's own key, so a second
import replays them. Checked in batches like `records`; nothing is written while there is a problem.
"""
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from portal import facility, ledger
from portal.extensions import db
from portal.imports.records import CHUNK, ExternalIds, ImportResult, Key, PatientIn, Problems, by_ids, external_ids
from portal.models import BillingCode, Coverage, Episode, EpisodeDiagnosis, Posting, Program, Provider

MAX_DIAGNOSES = 12  # an episode's list, as claims point into it


@dataclass(eq=False)
class ProviderIn:
    where: str
    npi: str
    kind: str = "individual"
    first_name: str | None = None
    last_name: str | None = None
    organization_name: str | None = None
    row: Provider | None = None


@dataclass(eq=False)
class EpisodeIn:
    where: str
    patient: PatientIn
    level_of_care: str
    program_name: str
    admit_date: date
    discharge_date: date | None = None
    keys: list[Key] = field(default_factory=list)
    referring: ProviderIn | None = None
    row: Episode | None = None
    known: dict[Key, int] = field(default_factory=dict)


@dataclass(eq=False)
class DiagnosisIn:
    where: str
    episode: EpisodeIn
    code: str  # without the dot


@dataclass(eq=False)
class ChargeIn:
    where: str
    key: str
    patient: PatientIn
    code: str
    service_date: date
    units: int = 1
    amount_cents: int | None = None  # None: the fee schedule's price times the units
    episode: EpisodeIn | None = None
    rendering: ProviderIn | None = None
    modifiers: str | None = None


def check_care(providers: list[ProviderIn], episodes: list[EpisodeIn], diagnoses: list[DiagnosisIn],
               charges: list[ChargeIn], problems: Problems) -> dict:
    """Match providers, programs and episodes, and check the charges' codes and prices; what `save_care` needs."""
    npis = sorted({p.npi for p in providers})
    rows = {}
    for start in range(0, len(npis), CHUNK):
        rows.update({p.npi: p for p in db.session.scalars(select(Provider).where(
            Provider.npi.in_(npis[start:start + CHUNK])))})
    for provider in providers:
        provider.row = rows.get(provider.npi)
        if provider.row is not None and provider.row.kind != provider.kind:
            problems.add(provider.where, f"NPI {provider.npi} is already a provider of another kind")
    known = external_ids("episode", {k for e in episodes for k in e.keys})
    episode_rows = by_ids(Episode, known.values())
    for episode in episodes:
        if episode.discharge_date and episode.discharge_date < episode.admit_date:
            problems.add(episode.where, "ends before it starts")
        ids = {known[k] for k in episode.keys if k in known}
        episode.row = episode_rows.get(min(ids)) if ids else None
        episode.known = known
        if episode.row is not None and episode.patient.row is not None and \
                episode.row.patient_id != episode.patient.row.id:
            problems.add(episode.where, "an earlier import gave this episode to another patient")
    per_episode: dict[int, int] = {}
    for diagnosis in diagnoses:
        per_episode[id(diagnosis.episode)] = per_episode.get(id(diagnosis.episode), 0) + 1
        if per_episode[id(diagnosis.episode)] == MAX_DIAGNOSES + 1:
            problems.add(diagnosis.where, f"more than {MAX_DIAGNOSES} diagnoses for {diagnosis.episode.where}")
    codes = {c.code: c for c in db.session.scalars(select(BillingCode).where(
        BillingCode.code.in_({c.code for c in charges})))} if charges else {}
    for charge in charges:
        code = codes.get(charge.code)
        if code is None:
            problems.add(charge.where, f"code {charge.code} is not one of the facility's billing codes")
        elif charge.amount_cents is None and code.default_price_cents <= 0:
            problems.add(charge.where, f"code {charge.code} has no fee schedule price; give a priceOverride")
    return {"codes": codes}


def save_care(providers: list[ProviderIn], episodes: list[EpisodeIn], diagnoses: list[DiagnosisIn],
              ext: ExternalIds, result: ImportResult, *, actor: str) -> None:
    facility_id = facility.saved().id
    for provider in providers:
        names = {"first_name": provider.first_name, "last_name": provider.last_name,
                 "organization_name": provider.organization_name}
        if provider.row is None:
            provider.row = Provider(facility_id=facility_id, kind=provider.kind, npi=provider.npi, **names)
            db.session.add(provider.row)
            result.created["providers"] += 1
        else:
            changed = False
            for name, value in names.items():
                if value is not None and getattr(provider.row, name) != value:
                    setattr(provider.row, name, value)
                    changed = True
            (result.updated if changed else result.unchanged)["providers"] += 1
    programs = {p.name.lower(): p for p in db.session.scalars(select(Program))}
    for episode in episodes:
        if episode.program_name.lower() not in programs:
            program = Program(facility_id=facility_id, name=episode.program_name, level_of_care=episode.level_of_care)
            programs[episode.program_name.lower()] = program
            db.session.add(program)
            result.created["programs"] += 1
    db.session.flush()
    for episode in episodes:
        values: dict[str, object] = dict(
            patient_id=episode.patient.row.id, program_id=programs[episode.program_name.lower()].id,
            admit_date=episode.admit_date, discharge_date=episode.discharge_date,
            referring_provider_name=episode.referring.row.display_name if episode.referring else None,
            referring_provider_npi=episode.referring.npi if episode.referring else None)
        if episode.row is None:
            episode.row = Episode(created_by=actor, **values)
            db.session.add(episode.row)
            result.created["episodes"] += 1
        else:
            changed = any(getattr(episode.row, k) != v for k, v in values.items())
            for name, new in values.items():
                setattr(episode.row, name, new)
            (result.updated if changed else result.unchanged)["episodes"] += 1
        ext.remember("episode", episode.keys, episode.known, episode.row)
    db.session.flush()
    _save_diagnoses(diagnoses, result)


def _save_diagnoses(diagnoses: list[DiagnosisIn], result: ImportResult) -> None:
    """A code new to its episode goes at the end of the list; one already there stays where it is."""
    episode_ids = sorted({d.episode.row.id for d in diagnoses})
    on_file: dict[int, dict[str, int]] = {}
    for start in range(0, len(episode_ids), CHUNK):
        for row in db.session.scalars(select(EpisodeDiagnosis).where(
                EpisodeDiagnosis.episode_id.in_(episode_ids[start:start + CHUNK]))):
            on_file.setdefault(row.episode_id, {})[row.code] = row.position
    for diagnosis in diagnoses:
        codes = on_file.setdefault(diagnosis.episode.row.id, {})
        if diagnosis.code in codes:
            result.unchanged["diagnoses"] += 1
            continue
        position = max(codes.values(), default=0) + 1
        if position > MAX_DIAGNOSES:
            result.errors.append(f"{diagnosis.where}: {diagnosis.episode.where} already has {MAX_DIAGNOSES} "
                                 "diagnoses")
            continue
        codes[diagnosis.code] = position
        db.session.add(EpisodeDiagnosis(episode_id=diagnosis.episode.row.id, position=position, code=diagnosis.code))
        result.created["diagnoses"] += 1
    db.session.flush()


def charge_requests(charges: list[ChargeIn], codes: dict, problems: Problems) -> list[ledger.ChargeRequest]:
    """The ledger's requests for the charges; a key posted before for a different charge is a problem (a charge
    is corrected by reversal, never by importing it again)."""
    patient_ids = sorted({c.patient.row.id for c in charges})
    coverages: dict[int, list[Coverage]] = {}
    for start in range(0, len(patient_ids), CHUNK):
        for row in db.session.scalars(select(Coverage).where(Coverage.patient_id.in_(
                patient_ids[start:start + CHUNK]), Coverage.priority == 1)):
            coverages.setdefault(row.patient_id, []).append(row)
    held = "held" if facility.current().charge_review else "released"
    requests = []
    for charge in charges:
        code = codes[charge.code]
        primary = next((c for c in coverages.get(charge.patient.row.id, []) if c.active_on(charge.service_date)), None)
        amount = charge.amount_cents if charge.amount_cents is not None else code.default_price_cents * charge.units
        requests.append(ledger.ChargeRequest(
            account_id=charge.patient.row.account_id, patient_id=charge.patient.row.id, billing_code_id=code.id,
            service_date=charge.service_date, amount_cents=amount, key=charge.key, units=charge.units,
            coverage_id=primary.id if primary else None, responsibility="insurance" if primary else "patient",
            source="import", episode_id=charge.episode.row.id if charge.episode else None,
            rendering_provider_id=charge.rendering.row.id if charge.rendering else None,
            modifiers=charge.modifiers, revenue_code=code.revenue_code, review_status=held))
    posted = {}
    keys = [r.key for r in requests]
    for start in range(0, len(keys), CHUNK):
        posted.update(dict(db.session.execute(select(Posting.idempotency_key, Posting.fingerprint).where(
            Posting.idempotency_key.in_(keys[start:start + CHUNK]))).all()))
    for charge, request in zip(charges, requests):
        if request.key in posted and posted[request.key] != request.fingerprint():
            problems.add(charge.where, "was imported before with other details; reverse the charge in Parity "
                                       "instead of changing it in the EHR")
    return requests

