"""Episodes (admissions): a patient's stay in a program, with its diagnoses in claim order."""
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.charges.codes import MAX_DIAGNOSES, CodingError, normalize_diagnosis, normalize_npi
from portal.extensions import db
from portal.models import Episode, EpisodeDiagnosis, Patient, Program


class EpisodeError(ValueError):
    """What is wrong, by form field name, so the form shows each problem beside its field."""

    def __init__(self, problems: dict[str, str]):
        super().__init__("; ".join(problems.values()))
        self.problems = problems


@dataclass
class EpisodeValues:
    program_id: int | None
    admit_date: date | None
    discharge_date: date | None = None
    diagnoses: list[str] = field(default_factory=list)  # as typed, principal first; blanks are skipped
    referring_provider_name: str | None = None
    referring_provider_npi: str | None = None


def episodes_for(patient_id: int) -> list[Episode]:
    return list(db.session.scalars(
        select(Episode).where(Episode.patient_id == patient_id).options(selectinload(Episode.diagnoses))
        .order_by(Episode.admit_date.desc(), Episode.id.desc())))


def create_episode(patient: Patient, values: EpisodeValues, *, actor: str) -> Episode:
    codes = _checked(values)
    episode = Episode(patient_id=patient.id, created_by=actor)
    _apply(episode, values, codes)
    db.session.add(episode)
    db.session.flush()
    return episode


def update_episode(episode: Episode, values: EpisodeValues) -> dict[str, list]:
    """Change the episode; returns what changed ({field: [old, new]}) for the audit trail."""
    codes = _checked(values)
    before = _snapshot(episode)
    if [d.code for d in episode.diagnoses] != codes:
        # Positions and codes are unique per episode: clear the old list before writing the new one.
        episode.diagnoses.clear()
        db.session.flush()
    _apply(episode, values, codes)
    db.session.flush()
    after = _snapshot(episode)
    return {name: [before[name], after[name]] for name in before if before[name] != after[name]}


def _checked(values: EpisodeValues) -> list[str]:
    problems: dict[str, str] = {}
    program = db.session.get(Program, values.program_id) if values.program_id else None
    if program is None or not program.active:
        problems["program_id"] = "Choose a program."
    if values.admit_date is None:
        problems["admit_date"] = "Enter the admission date."
    elif values.discharge_date is not None and values.discharge_date < values.admit_date:
        problems["discharge_date"] = "The discharge date cannot be before the admission date."
    codes: list[str] = []
    typed = [text.strip() for text in values.diagnoses if text and text.strip()]
    for text in typed:
        try:
            code = normalize_diagnosis(text)
        except CodingError as exc:
            problems.setdefault("diagnoses", str(exc))
            continue
        if code in codes:
            problems.setdefault("diagnoses", f"{text} is listed twice.")
        codes.append(code)
    if not typed:
        problems["diagnoses"] = "Enter at least the principal diagnosis."
    elif len(typed) > MAX_DIAGNOSES:
        problems["diagnoses"] = f"A claim carries at most {MAX_DIAGNOSES} diagnoses."
    if values.referring_provider_npi:
        try:
            values.referring_provider_npi = normalize_npi(values.referring_provider_npi)
        except CodingError as exc:
            problems["referring_provider_npi"] = str(exc)
        if not (values.referring_provider_name or "").strip():
            problems["referring_provider_name"] = "Name the referring provider whose NPI this is."
    if problems:
        raise EpisodeError(problems)
    return codes


def _apply(episode: Episode, values: EpisodeValues, codes: list[str]) -> None:
    episode.program_id, episode.admit_date = values.program_id, values.admit_date
    episode.discharge_date = values.discharge_date
    episode.referring_provider_name = (values.referring_provider_name or "").strip() or None
    episode.referring_provider_npi = values.referring_provider_npi or None
    if [d.code for d in episode.diagnoses] != codes:
        episode.diagnoses = [EpisodeDiagnosis(position=i, code=code) for i, code in enumerate(codes, start=1)]


def _snapshot(episode: Episode) -> dict:
    return {"program_id": episode.program_id, "admit_date": str(episode.admit_date),
            "discharge_date": str(episode.discharge_date) if episode.discharge_date else None,
            "diagnoses": [d.code for d in episode.diagnoses],
            "referring_provider_name": episode.referring_provider_name,
            "referring_provider_npi": episode.referring_provider_npi}
