"""A FHIR R4 Bundle (type collection or transaction) from an EHR, imported whole or not at all.

Each resource we use is validated with the R4B models of `fhir.resources` (R4B, 4.3, differs from R4, 4.0.1,
in none of the resources read here; the package's default models are R5, whose Coverage, Encounter and ChargeItem
changed shape). Other resource types (Observation, Immunization, Claim, ...) are passed over and counted, not
validated. References inside the bundle resolve by fullUrl (urn:uuid:...) or `Type/id`.

How resources become records:
- Patient -> patient. MRN: the identifier typed MR (v2-0203) when it fits (32 characters); otherwise a new
  patient is numbered MRN<5000 + id>. Name: the official (else usual, else first) name; given names after the
  first are the middle name; a nickname is the preferred name. gender -> sex (F, M, U); the home (else first)
  address, the first phone and email, the preferred (else first) language.
- RelatedPerson whose relationship includes GUAR (guarantor) -> the guarantor of its patient: the account holder.
  The patient's relationship to them (X12): spouse 01 (SPS, HUSB, WIFE, DOMPART), child 19 when they are a parent
  or guardian (PRN, MTH, FTH, NPRN, STPPRN, GUARD), else G8. Without one the patient is their own guarantor.
- Coverage -> coverage: payor[0] an Organization (the payer), subscriberId the member id, order the priority
  (1-3, default 1), period the dates (a start is needed), class plan and group, relationship (self 18, spouse 01,
  child 19, else G8), subscriber a RelatedPerson (name, birth date, sex). Status entered-in-error, and a payor
  that is a person (self-pay), are passed over.
- Organization referenced as a payor, or typed pay/ins -> payer (X12 payer id: the identifier typed NIIP);
  one typed prov with an NPI (http://hl7.org/fhir/sid/us-npi) -> the organization's provider record.
- Practitioner with an NPI -> individual provider; one without an NPI is passed over. An NPI failing its check
  digit refuses the bundle when a ChargeItem or Encounter names that provider, and is passed over (counted) when
  nothing does.
- EpisodeOfCare, and Encounter not part of an EpisodeOfCare in the bundle -> episode (admit and discharge from
  period; an Encounter's participant typed REF, a Practitioner, is the referring provider). Its program: the
  first type (EpisodeOfCare) or serviceType/type (Encounter) whose code, display or text names a level of care
  (the word IOP or PHP, or the phrase intensive outpatient, partial hosp(italization), residential, detox,
  withdrawal management, outpatient) gives the level and the program's name (its text, else display); failing
  that the encounter class does (AMB, VR, HH, FLD: outpatient; any other: other) with the level's own program name
  ("Outpatient", ...). A program is matched by name, or created with that level.
- Condition with an ICD-10-CM coding (http://hl7.org/fhir/sid/icd-10-cm; a billable code, checked with
  simple_icd_10_cm) -> a diagnosis of the episode of its encounter (or the patient's only episode in the bundle);
  other Conditions are passed over.
- ChargeItem with status billable or billed -> a charge, posted through the ledger under the key
  `fhir:<system>|<value>` of its first identifier (else `fhir:<fullUrl>`), so a second import replays it: its code
  must be a billing code, quantity the units, priceOverride (USD) the amount, else the fee schedule's price.

Every record is matched on the identifiers an earlier import stored (ExternalId, by resource type, system and
value; a resource without identifiers by its fullUrl, else Type/id), so a second import updates, never duplicates.
"""
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import simple_icd_10_cm
from sqlalchemy import select

from portal import ledger
from portal.extensions import db
from portal.facility.providers import npi_is_valid
from portal.imports import care
from portal.imports.fhir_bundle import NPI_SYSTEM, PROGRAM_NAMES, Entry, entries, level_of_care
from portal.imports.records import (
    CoverageIn,
    GuarantorIn,
    ImportResult,
    PatientIn,
    PayerIn,
    Person,
    Problems,
    bulk_work,
    save_people,
)
from portal.models import BillingCode

ICD10CM_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
# Identifiers never kept as match keys: government numbers are not ours to store.
PRIVATE_IDENTIFIER_TYPES = {"SS", "DL", "PPN", "SB"}
PRIVATE_SYSTEMS = {"http://hl7.org/fhir/sid/us-ssn"}
SEX = {"female": "F", "male": "M", "other": "U", "unknown": "U"}
SPOUSE = {"SPS", "HUSB", "WIFE", "DOMPART"}
PARENT = {"PRN", "MTH", "FTH", "NPRN", "STPPRN", "GUARD"}
SUBSCRIBER_RELATIONSHIP = {"self": "18", "spouse": "01", "child": "19"}
MAX_UNITS = 9999
MAX_CENTS = 10_000_000_00  # ten million dollars: more is a typing error, not a charge
TYPE_ID = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


def import_bundle(text: str, *, actor: str) -> ImportResult:
    """Import a bundle whole; any problem refuses it and lists every problem with its resource and path."""
    result = ImportResult()
    with bulk_work(result):
        _import(text, actor, result)
    return result


def _import(text: str, actor: str, result: ImportResult) -> ImportResult:
    problems = Problems(result.errors)
    found = entries(text, problems, result)
    if not found:
        return result
    reading = _Reading(found, problems, result)
    reading.map()
    if result.errors:
        return result
    ext = save_people(reading.patients, reading.coverages, result, actor=actor, source="fhir")
    if ext is None:
        return result.refuse()
    checked = care.check_care(reading.providers, reading.episodes, reading.diagnoses, reading.charges, problems)
    if not result.errors:
        care.save_care(reading.providers, reading.episodes, reading.diagnoses, ext, result, actor=actor)
    requests = care.charge_requests(reading.charges, checked["codes"], problems) if not result.errors else []
    if result.errors:
        return result.refuse()
    ext.write()
    db.session.flush()
    if requests:
        # The ledger commits the import with the charges (taking its locks first); everything was checked above.
        batch = ledger.post_charges(requests, actor=actor)
        result.charges_posted, result.charges_replayed = len(batch.created), len(batch.replayed)
    return result


class _Reading:
    """The bundle's resources turned into the importers' records, with every problem noted."""

    def __init__(self, entries: list[Entry], problems: Problems, result: ImportResult):
        self.entries, self.problems, self.result = entries, problems, result
        self.by_url = {e.full_url: e for e in entries if e.full_url}
        self.by_type_id = {f"{e.type}/{e.id}": e for e in entries if e.id}
        self.patients: list[PatientIn] = []
        self.coverages: list[CoverageIn] = []
        self.providers: list[care.ProviderIn] = []
        self.episodes: list[care.EpisodeIn] = []
        self.diagnoses: list[care.DiagnosisIn] = []
        self.charges: list[care.ChargeIn] = []
        self.made: dict[int, Any] = {}  # id(entry) -> its record
        self.failed: set[int] = set()  # entries refused on their own: what points at them says nothing more
        self.bad_npi: dict[int, str] = {}  # providers whose NPI fails its check digit, refused when used

    # -- helpers

    def note(self, entry: Entry, path: str, message: str) -> None:
        self.problems.add(entry.label, f"{entry.path(path)}: {message}")

    def checked(self, entry: Entry, path: str, check, *args):
        """A value through one of `Problems`' checks, its problems noted at the entry's path."""
        scratch = Problems([])
        value = check(scratch, "", path, *args)
        for error in scratch.errors:  # ": <path>: message" or ": <path> 'value' ...": the path is said once
            self.note(entry, path, error.removeprefix(": ").removeprefix(path).removeprefix(": ").strip())
        return value

    def text(self, entry: Entry, path: str, value, limit: str) -> str | None:
        return self.checked(entry, path, Problems.text, value, limit)

    def day(self, entry: Entry, path: str, value) -> date | None:
        """A FHIR date or dateTime as a date (a dateTime's own local date); a partial date is a problem."""
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if value is not None:
            self.note(entry, path, f"{value!r} is not a whole date")
        return None

    def find(self, target: str | None) -> Entry | None:
        found = self.by_url.get(target or "")
        if found is None and target and (match := TYPE_ID.search(target)):
            found = self.by_type_id.get(f"{match.group(1)}/{match.group(2)}")
        return found

    def resolve(self, entry: Entry, reference, path: str, types: tuple[str, ...]) -> Entry | None:
        target = getattr(reference, "reference", None) if reference is not None else None
        if not target:
            self.note(entry, path, "no reference")
            return None
        found = self.find(target)
        if found is None:
            self.note(entry, path, "reference not found in bundle")
            return None
        if id(found) in self.bad_npi:  # a provider with a wrong NPI matters once something points at it
            self.note(found, "identifier", f"NPI {self.bad_npi.pop(id(found))} fails the NPI check digit")
            self.failed.add(id(found))
        if found.model is None or id(found) in self.failed:
            return None  # its own problems are listed already
        if found.type not in types:
            self.note(entry, path, f"should point at a {' or '.join(types)}, not a {found.type}")
            return None
        return found

    def keys(self, entry: Entry, identifiers) -> list[tuple[str, str]]:
        keys = []
        for n, identifier in enumerate(identifiers or []):
            codes = {c.code for c in (identifier.type.coding or [])} if identifier.type else set()
            if not identifier.system or not identifier.value or codes & PRIVATE_IDENTIFIER_TYPES \
                    or identifier.system in PRIVATE_SYSTEMS:
                continue
            system = self.text(entry, f"identifier[{n}].system", identifier.system, "key")
            value = self.text(entry, f"identifier[{n}].value", identifier.value, "key")
            if system and value:
                keys.append((system, value))
        if not keys:
            fallback = ("urn:fhir:fullUrl", entry.full_url) if entry.full_url else \
                ("urn:fhir:id", f"{entry.type}/{entry.id}") if entry.id else None
            if fallback and len(fallback[1]) <= 255 and "\x00" not in fallback[1]:
                keys.append(fallback)
        return keys

    def person(self, entry: Entry, resource, into: Person) -> None:
        names = resource.name or []
        name = next((n for use in ("official", "usual") for n in names if n.use == use), names[0] if names else None)
        if name is None or not name.family or not name.given:
            self.note(entry, "name", "a family and a given name are needed")
        else:
            index = names.index(name)
            into.last_name = self.text(entry, f"name[{index}].family", name.family, "last_name")
            into.first_name = self.text(entry, f"name[{index}].given[0]", name.given[0], "first_name")
            if isinstance(into, PatientIn):
                if len(name.given) > 1:
                    into.middle_name = self.text(entry, f"name[{index}].given", " ".join(name.given[1:]),
                                                 "middle_name")
                nickname = next((n for n in names if n.use == "nickname" and n.given), None)
                if nickname is not None:
                    into.preferred_name = self.text(entry, "name", nickname.given[0], "preferred_name")
        birth = resource.birthDate
        if birth is not None and not isinstance(birth, date):
            self.note(entry, "birthDate", f"{birth!r} is not a whole date")
        else:
            into.date_of_birth = birth
        if resource.gender is not None:
            into.sex = SEX.get(resource.gender)
            if into.sex is None:
                self.note(entry, "gender", f"{resource.gender!r} is not male, female, other or unknown")
        addresses = resource.address or []
        address = next((a for a in addresses if a.use == "home"), addresses[0] if addresses else None)
        if address is not None:
            at = f"address[{addresses.index(address)}]"
            lines = address.line or []
            into.address_line1 = self.text(entry, f"{at}.line[0]", lines[0] if lines else None, "address_line1")
            into.address_line2 = self.text(entry, f"{at}.line[1]", lines[1] if len(lines) > 1 else None,
                                           "address_line2")
            into.city = self.text(entry, f"{at}.city", address.city, "city")
            into.state = self.checked(entry, f"{at}.state", Problems.state, address.state)
            into.zip_code = self.text(entry, f"{at}.postalCode", address.postalCode, "zip_code")
        for n, telecom in enumerate(resource.telecom or []):
            if telecom.system == "phone" and into.phone is None:
                into.phone = self.text(entry, f"telecom[{n}].value", telecom.value, "phone")
            elif telecom.system == "email" and into.email is None:
                into.email = self.checked(entry, f"telecom[{n}].value", Problems.email, telecom.value)
        languages = resource.communication or []
        language = next((c for c in languages if getattr(c, "preferred", False)), languages[0] if languages else None)
        if language is not None and language.language.coding:
            code = language.language.coding[0].code
            into.preferred_language = self.text(entry, "communication.language", code, "preferred_language")

    # -- resources

    def map(self) -> None:
        payor_targets = set()
        for entry in self.of("Coverage"):
            for reference in entry.model.payor or []:
                if (target := self.find(reference.reference)) is not None:
                    payor_targets.add(id(target))
        for entry in self.of("Organization"):
            self.organization(entry, id(entry) in payor_targets)
        for entry in self.of("Practitioner"):
            self.practitioner(entry)
        for entry in self.of("Patient"):
            self.patient(entry)
        for entry in self.of("RelatedPerson"):
            self.related_person(entry)
        for entry in self.of("Coverage"):
            self.coverage(entry)
        for entry in self.of("EpisodeOfCare"):
            self.episode(entry, entry.model.patient, entry.model.type or [], None, "patient")
        for entry in self.of("Encounter"):
            self.encounter(entry)
        for entry in self.of("Condition"):
            self.condition(entry)
        billing_codes = set(db.session.scalars(select(BillingCode.code)))
        for entry in self.of("ChargeItem"):
            self.charge_item(entry, billing_codes)
        if self.bad_npi:
            self.result.skipped["provider whose NPI fails its check digit, used by nothing here"] += len(self.bad_npi)

    def of(self, kind: str) -> list[Entry]:
        return [e for e in self.entries if e.type == kind and e.model is not None]

    def organization(self, entry: Entry, is_payor: bool) -> None:
        org = entry.model
        types = {c.code for t in (org.type or []) for c in (t.coding or [])}
        npi = next((i.value for i in (org.identifier or []) if i.system == NPI_SYSTEM and i.value), None)
        if is_payor or types & {"pay", "ins"}:
            x12 = next((i.value for i in (org.identifier or []) if i.type and any(
                c.code == "NIIP" for c in (i.type.coding or []))), None)
            phone = next((t.value for t in (org.telecom or []) if t.system == "phone"), None)
            self.made[id(entry)] = PayerIn(
                entry.label, self.text(entry, "name", org.name, "payer_name"), keys=self.keys(entry, org.identifier),
                x12_payer_id=self.text(entry, "identifier", x12, "x12_payer_id"),
                phone=self.text(entry, "telecom", phone, "phone"))
        elif "prov" in types and npi:
            if not npi_is_valid(npi):
                self.bad_npi[id(entry)] = npi
                return
            provider = care.ProviderIn(entry.label, npi, kind="organization",
                                       organization_name=self.text(entry, "name", org.name, "payer_name"))
            if provider.organization_name is None:
                self.note(entry, "name", "a provider organization needs a name")
            self.providers.append(provider)
            self.made[id(entry)] = provider
        else:
            self.result.skipped["Organization (neither payer nor provider with an NPI)"] += 1

    def practitioner(self, entry: Entry) -> None:
        npi = next((i.value for i in (entry.model.identifier or []) if i.system == NPI_SYSTEM and i.value), None)
        if npi is None:
            self.result.skipped["Practitioner without an NPI"] += 1
            return
        if not npi_is_valid(npi):
            self.bad_npi[id(entry)] = npi
            return
        person = Person()
        self.person(entry, entry.model, person)
        provider = care.ProviderIn(entry.label, npi, first_name=person.first_name, last_name=person.last_name)
        self.providers.append(provider)
        self.made[id(entry)] = provider

    def patient(self, entry: Entry) -> None:
        resource = entry.model
        mrn = next((i.value for i in (resource.identifier or []) if i.value and i.type and any(
            c.code == "MR" for c in (i.type.coding or []))), None)
        incoming = PatientIn(where=entry.label, keys=self.keys(entry, resource.identifier))
        if mrn is not None and len(mrn) <= 32:
            incoming.mrn = self.text(entry, "identifier", mrn, "mrn")
        self.person(entry, resource, incoming)
        if incoming.date_of_birth is None and resource.birthDate is None:
            self.note(entry, "birthDate", "a birth date is needed")
        self.patients.append(incoming)
        self.made[id(entry)] = incoming

    def related_person(self, entry: Entry) -> None:
        resource = entry.model
        codes = {c.code for r in (resource.relationship or []) for c in (r.coding or [])}
        person = GuarantorIn(where=entry.label, keys=self.keys(entry, resource.identifier))
        self.person(entry, resource, person)
        self.made[id(entry)] = person
        if "GUAR" not in codes:
            return  # a subscriber or a contact: read where a Coverage names it
        target = self.resolve(entry, resource.patient, "patient", ("Patient",))
        if target is None:
            return
        patient = self.made[id(target)]
        if patient.guarantor is not None:
            self.note(entry, "relationship", f"{target.label} already has a guarantor ({patient.guarantor.where})")
            return
        patient.guarantor = person
        patient.relationship_to_guarantor = "01" if codes & SPOUSE else "19" if codes & PARENT else "G8"

    def coverage(self, entry: Entry) -> None:
        resource = entry.model
        if resource.status == "entered-in-error":
            self.result.skipped["Coverage entered in error"] += 1
            return
        first_payor = (resource.payor or [None])[0]
        if (paid_by := self.find(getattr(first_payor, "reference", None))) and paid_by.type != "Organization":
            self.result.skipped["Coverage paid by a person (self-pay)"] += 1
            return
        patient = self.resolve(entry, resource.beneficiary, "beneficiary", ("Patient",))
        payor = self.resolve(entry, first_payor, "payor[0]", ("Organization",))
        member_id = resource.subscriberId or next((i.value for i in (resource.identifier or []) if i.type and any(
            c.code == "MB" for c in (i.type.coding or []))), None)
        member_id = self.text(entry, "subscriberId", member_id, "member_id")
        if member_id is None:
            self.note(entry, "subscriberId", "a member id is needed")
        start = self.day(entry, "period.start", resource.period.start if resource.period else None)
        end = self.day(entry, "period.end", resource.period.end if resource.period else None)
        if start is None and not (resource.period and resource.period.start):
            self.note(entry, "period.start", "a start date is needed")
        priority = resource.order or 1
        if not 1 <= priority <= 3:
            self.note(entry, "order", f"{priority} is not 1, 2 or 3")
        plan = group = None
        for n, item in enumerate(resource.class_fhir or []):
            kinds = {c.code for c in (item.type.coding or [])}
            if "plan" in kinds:
                plan = self.text(entry, f"class[{n}].name", item.name or item.value, "plan_name")
            elif "group" in kinds:
                group = self.text(entry, f"class[{n}].value", item.value, "group_number")
        relationship = next((c.code for c in (resource.relationship.coding or [])), None) \
            if resource.relationship else None
        subscriber = None
        if resource.subscriber is not None:
            target = self.resolve(entry, resource.subscriber, "subscriber", ("Patient", "RelatedPerson"))
            if target is not None and target.type == "RelatedPerson":
                subscriber = self.made[id(target)]
            if target is not None and target.type == "Patient" and patient is not None and target is not patient:
                self.note(entry, "subscriber", "a subscriber who is another patient should be a RelatedPerson")
        code = SUBSCRIBER_RELATIONSHIP.get(relationship or "", "G8" if subscriber else "18")
        if patient is None or payor is None or member_id is None or start is None or not 1 <= priority <= 3:
            return
        payer = self.made.get(id(payor))
        if not isinstance(payer, PayerIn):
            self.note(entry, "payor[0]", f"{payor.label} is not a payer")
            return
        self.coverages.append(CoverageIn(
            entry.label, self.made[id(patient)], payer, member_id, start, keys=self.keys(entry, resource.identifier),
            plan_name=plan, group_number=group, priority=priority, end_date=end,
            subscriber_relationship=code, subscriber=subscriber))

    def episode(self, entry: Entry, patient_ref, concepts, class_code: str | None, path: str) -> None:
        resource = entry.model
        if resource.status == "entered-in-error":
            self.result.skipped[f"{entry.type} entered in error"] += 1
            return
        patient = self.resolve(entry, patient_ref, path, ("Patient",))
        start = self.day(entry, "period.start", resource.period.start if resource.period else None)
        end = self.day(entry, "period.end", resource.period.end if resource.period else None)
        if start is None and not (resource.period and resource.period.start):
            self.note(entry, "period.start", "an admit date is needed")
        level, program = level_of_care(concepts, class_code)
        program = self.text(entry, "type", program, "first_name") or PROGRAM_NAMES[level]
        if patient is None or start is None:
            return
        episode = care.EpisodeIn(entry.label, self.made[id(patient)], level, program, start, end,
                                 keys=self.keys(entry, resource.identifier), referring=self.referrer(entry))
        self.episodes.append(episode)
        self.made[id(entry)] = episode

    def referrer(self, entry: Entry) -> care.ProviderIn | None:
        """An Encounter's participant typed REF (referrer): a Practitioner of the bundle, with its NPI."""
        for n, participant in enumerate(getattr(entry.model, "participant", None) or []):
            codes = {c.code for t in (participant.type or []) for c in (t.coding or [])}
            if "REF" in codes and participant.individual is not None:
                path = f"participant[{n}].individual"
                target = self.resolve(entry, participant.individual, path, ("Practitioner",))
                if target is not None and target.type == "Practitioner" and id(target) not in self.made:
                    self.note(entry, path, f"{target.label} has no NPI")
                return self.made.get(id(target)) if target is not None else None
        return None

    def encounter(self, entry: Entry) -> None:
        resource = entry.model
        for reference in resource.episodeOfCare or []:
            target = self.find(reference.reference)
            if target is not None and target.type == "EpisodeOfCare":
                if id(target) in self.made:
                    self.made[id(entry)] = self.made[id(target)]  # a visit of that episode
                return
        concepts = ([resource.serviceType] if resource.serviceType else []) + list(resource.type or [])
        self.episode(entry, resource.subject, concepts, resource.class_fhir.code, "subject")

    def condition(self, entry: Entry) -> None:
        resource = entry.model
        codings = [(n, c) for n, c in enumerate(resource.code.coding or []) if c.system == ICD10CM_SYSTEM] \
            if resource.code else []
        status = {c.code for c in (resource.verificationStatus.coding or [])} if resource.verificationStatus else set()
        if not codings or status & {"entered-in-error", "refuted"}:
            self.result.skipped["Condition (no ICD-10-CM code, or refuted)"] += 1
            return
        n, coding = codings[0]
        code = (coding.code or "").strip().upper()
        if not simple_icd_10_cm.is_valid_item(code) or not simple_icd_10_cm.is_leaf(code):
            self.note(entry, f"code.coding[{n}].code", f"{code!r} is not a billable ICD-10-CM code")
            return
        patient = self.resolve(entry, resource.subject, "subject", ("Patient",))
        episode = None
        if resource.encounter is not None:
            target = self.resolve(entry, resource.encounter, "encounter", ("Encounter",))
            episode = self.made.get(id(target)) if target is not None else None
        elif patient is not None:
            theirs = [e for e in self.episodes if e.patient is self.made[id(patient)]]
            episode = theirs[0] if len(theirs) == 1 else None
        if patient is None or (resource.encounter is not None and episode is None):
            return
        if episode is None:
            self.result.skipped["Condition without an episode"] += 1
            return
        self.diagnoses.append(care.DiagnosisIn(entry.label, episode, code.replace(".", "")))

    def charge_item(self, entry: Entry, billing_codes: set[str]) -> None:
        resource = entry.model
        if resource.status not in ("billable", "billed"):
            self.result.skipped[f"ChargeItem {resource.status}"] += 1
            return
        patient = self.resolve(entry, resource.subject, "subject", ("Patient",))
        codes = [(c.code or "").strip().upper() for c in (resource.code.coding or [])]
        code = next((c for c in codes if c in billing_codes), codes[0] if codes else None)
        if not code:
            self.note(entry, "code", "a billing code is needed")
        raw_when = resource.occurrenceDateTime or (
            resource.occurrencePeriod.start if resource.occurrencePeriod else None)
        when = self.day(entry, "occurrenceDateTime", raw_when)
        if raw_when is None:
            self.note(entry, "occurrenceDateTime", "a date of service is needed")
        units = self.whole(entry, "quantity.value", resource.quantity.value if resource.quantity else 1, MAX_UNITS)
        amount = None
        if resource.priceOverride is not None:
            if resource.priceOverride.currency not in (None, "USD"):
                self.note(entry, "priceOverride.currency", "only USD is taken")
            amount = self.cents(entry, "priceOverride.value", resource.priceOverride.value)
        episode = None
        if resource.context is not None:
            target = self.resolve(entry, resource.context, "context", ("Encounter", "EpisodeOfCare"))
            episode = self.made.get(id(target)) if target is not None else None
        rendering = None
        if resource.performer:
            target = self.resolve(entry, resource.performer[0].actor, "performer[0].actor", ("Practitioner",))
            rendering = self.made.get(id(target)) if target is not None else None
            if target is not None and rendering is None:
                self.note(entry, "performer[0].actor", f"{target.label} has no NPI")
        identifier = next((i for i in (resource.identifier or []) if i.system and i.value), None)
        key = f"fhir:{identifier.system}|{identifier.value}" if identifier else \
            f"fhir:{entry.full_url}" if entry.full_url else f"fhir:ChargeItem/{entry.id}" if entry.id else None
        if key is None or len(key) > 200 or "\x00" in key:
            self.note(entry, "identifier", "an identifier (200 characters at most) or a fullUrl is needed")
        if patient is None or not code or when is None or units is None or key is None or len(key) > 200:
            return
        if resource.priceOverride is not None and amount is None:
            return
        self.charges.append(care.ChargeIn(entry.label, key, self.made[id(patient)], code, when, units, amount,
                                          episode, rendering))

    def whole(self, entry: Entry, path: str, value, most: int) -> int | None:
        try:
            number = Decimal(value)
        except (InvalidOperation, TypeError, ValueError):
            number = Decimal("NaN")
        if not number.is_finite() or number != number.to_integral_value() or not 1 <= number <= most:
            self.note(entry, path, f"should be a whole number from 1 to {most}")
            return None
        return int(number)

    def cents(self, entry: Entry, path: str, value) -> int | None:
        try:
            cents = Decimal(value) * 100
        except (InvalidOperation, TypeError, ValueError):
            cents = Decimal("NaN")
        if not cents.is_finite() or cents != cents.to_integral_value() or not 0 < cents <= MAX_CENTS:
            self.note(entry, path, "should be an amount in dollars and cents above zero")
            return None
        return int(cents)
