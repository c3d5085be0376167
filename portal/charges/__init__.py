"""Episodes of care and the charges staff enter by hand, with the review queue that holds charges for release.

One package because they are one workflow: a hand charge points at its episode's diagnoses (the pointers are
positions in the episode's list), and the review queue holds hand charges and the IOP engine's alike. Patients,
coverages and providers are made elsewhere (registration and facility set-up); this package reads them.
Money still moves only in portal.ledger: a hand charge is posted, and a held one released, through it.

May import: models, extensions, clock, facility, ledger.
"""
from portal.charges.codes import (
    MAX_DIAGNOSES,
    CodingError,
    diagnosis_description,
    format_diagnosis,
    normalize_diagnosis,
    normalize_npi,
)
from portal.charges.episodes import EpisodeError, EpisodeValues, create_episode, episodes_for, update_episode
from portal.charges.manual import (
    HandCharge,
    HandChargeError,
    check_hand_charge,
    coverage_on,
    post_hand_charge,
    price_cents,
)
from portal.charges.review import QUEUE_LIMIT, HeldFilter, held_charges, held_codes, held_patients

__all__ = [
    "MAX_DIAGNOSES",
    "QUEUE_LIMIT",
    "CodingError",
    "EpisodeError",
    "EpisodeValues",
    "HandCharge",
    "HandChargeError",
    "HeldFilter",
    "check_hand_charge",
    "coverage_on",
    "create_episode",
    "diagnosis_description",
    "episodes_for",
    "format_diagnosis",
    "held_charges",
    "held_codes",
    "held_patients",
    "normalize_diagnosis",
    "normalize_npi",
    "post_hand_charge",
    "price_cents",
    "update_episode",
]
