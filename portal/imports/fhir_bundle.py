"""Reading a FHIR bundle: the JSON, the Bundle envelope and each resource this import uses, validated with the
R4B models of `fhir.resources`; and the level-of-care rule for episodes (see `portal.imports.fhir`)."""
import json
import re
from dataclasses import dataclass
from typing import Any

import pydantic
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.chargeitem import ChargeItem
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.episodeofcare import EpisodeOfCare
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.relatedperson import RelatedPerson

from portal.imports.records import ImportResult, Problems

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"

MODELS = {model.__name__: model for model in (Patient, RelatedPerson, Coverage, Organization, Practitioner,
                                              EpisodeOfCare, Encounter, Condition, ChargeItem)}
BUNDLE_TYPES = ("collection", "transaction")
LEVEL_WORDS = (("intensive outpatient", "iop"), ("partial hosp", "php"), ("residential", "residential"),
               ("detox", "detox"), ("withdrawal management", "detox"), ("outpatient", "outpatient"))
LEVEL_CODES = {"iop": "iop", "php": "php"}
CLASS_LEVELS = {"AMB": "outpatient", "VR": "outpatient", "HH": "outpatient", "FLD": "outpatient"}
PROGRAM_NAMES = {"iop": "Intensive outpatient (IOP)", "php": "Partial hospitalization (PHP)",
                 "outpatient": "Outpatient", "residential": "Residential", "detox": "Detox", "other": "Other"}


@dataclass(eq=False)
class Entry:
    index: int
    type: str
    id: str | None
    full_url: str | None
    model: Any  # the validated R4B resource; None when it did not validate

    @property
    def label(self) -> str:
        return f"{self.type}/{self.id}" if self.id else f"{self.type} in entry[{self.index}]"

    def path(self, path: str) -> str:
        return f"entry[{self.index}].resource" + (f".{path}" if path else "")


def loc(loc) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def entries(text: str, problems: Problems, result: ImportResult) -> list[Entry]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        problems.add("Bundle", f"not JSON: {exc}")
        return []
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        problems.add("Bundle", "the file is not a FHIR Bundle (resourceType must be Bundle)")
        return []
    raw_entries = data.get("entry") or []
    if not isinstance(raw_entries, list):
        problems.add("Bundle", "entry: should be a list")
        return []
    envelope = {**data, "entry": [{k: v for k, v in e.items() if k != "resource"} if isinstance(e, dict) else e
                                  for e in raw_entries]}
    try:
        Bundle.model_validate(envelope)
    except pydantic.ValidationError as exc:
        for error in exc.errors():
            problems.add("Bundle", f"{loc(error['loc'])}: {message(error)}")
        return []
    if data.get("type") not in BUNDLE_TYPES:
        problems.add("Bundle", f"type: {data.get('type')!r}; expected collection or transaction")
        return []
    entries = []
    for index, raw in enumerate(raw_entries):
        resource = raw.get("resource")
        if not isinstance(resource, dict):
            result.skipped["entries without a resource"] += 1
            continue
        kind = resource.get("resourceType")
        model = MODELS.get(kind) if isinstance(kind, str) else None
        if model is None:
            result.skipped[str(kind)[:40]] += 1
            continue
        label = f"{kind}/{resource['id']}" if isinstance(resource.get("id"), str) else f"{kind} in entry[{index}]"
        try:
            parsed = model.model_validate(resource)
        except pydantic.ValidationError as exc:
            for error in exc.errors():
                problems.add(label, f"entry[{index}].resource.{loc(error['loc'])}: {message(error)}")
            parsed = None  # kept so references to it are not reported again as missing
        resource_id = resource.get("id") if isinstance(resource.get("id"), str) else None
        entries.append(Entry(index, kind, resource_id, raw.get("fullUrl"), parsed))
    if not entries and not result.errors:
        problems.add("Bundle", "no Patient, Coverage or other resource this import reads")
    return entries


def message(error: Any) -> str:
    return error["msg"].removeprefix("Value error, ")


def level_of_care(concepts, class_code: str | None) -> tuple[str, str]:
    """The level of care and program name a type (or service type) names, else the encounter class's level."""
    for concept in concepts:
        texts = [concept.text, *(t for c in (concept.coding or []) for t in (c.display, c.code))]
        for text in filter(None, texts):
            lowered = text.lower()
            level = next((LEVEL_CODES[w] for w in re.findall(r"[a-z]+", lowered) if w in LEVEL_CODES), None) or \
                next((lv for phrase, lv in LEVEL_WORDS if phrase in lowered), None)
            if level:
                name = concept.text or next((c.display for c in (concept.coding or []) if c.display), None)
                return level, (name or PROGRAM_NAMES[level]).strip()[:100]
    level = CLASS_LEVELS.get(class_code or "", "other")
    return level, PROGRAM_NAMES[level]

