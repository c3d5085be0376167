from datetime import date

import pytest

from portal.charges import EpisodeError, EpisodeValues, create_episode, update_episode
from tests.fixtures import charges, factories


def test_an_episode_keeps_its_diagnoses_in_claim_order(app):
    patient = factories.account().patients[0]
    program = charges.program()
    episode = create_episode(patient, EpisodeValues(program.id, date(2026, 9, 1), diagnoses=["F10.20", "f33.1"],
                                                    referring_provider_name="Dr. Lee",
                                                    referring_provider_npi=charges.VALID_NPI), actor="test")
    assert [(d.position, d.code) for d in episode.diagnoses] == [(1, "F1020"), (2, "F331")]
    changes = update_episode(episode, EpisodeValues(program.id, date(2026, 9, 1), date(2026, 10, 15),
                                                    diagnoses=["F33.1", "F10.20", "F41.1"],
                                                    referring_provider_name="Dr. Lee",
                                                    referring_provider_npi=charges.VALID_NPI))
    assert [(d.position, d.code) for d in episode.diagnoses] == [(1, "F331"), (2, "F1020"), (3, "F411")]
    assert changes["discharge_date"] == [None, "2026-10-15"]
    assert "referring_provider_npi" not in changes


def test_every_problem_is_named_by_its_field(app):
    patient = factories.account().patients[0]
    program = charges.program()
    with pytest.raises(EpisodeError) as caught:
        create_episode(patient, EpisodeValues(program.id, date(2026, 9, 1), date(2026, 8, 1),
                                              diagnoses=["F10", "F10.20"], referring_provider_npi="1234567890"),
                       actor="test")
    problems = caught.value.problems
    assert problems["discharge_date"].startswith("The discharge date cannot be before")
    assert "category" in problems["diagnoses"]
    assert "check digit" in problems["referring_provider_npi"]
    assert "referring_provider_name" in problems


def test_thirteen_diagnoses_or_a_repeat_are_refused(app):
    patient = factories.account().patients[0]
    program = charges.program()
    many = ["F10.20", "F11.20", "F12.20", "F13.20", "F14.20", "F15.20", "F16.20", "F18.20", "F19.20", "F32.1",
            "F33.1", "F41.1", "F43.10"]
    with pytest.raises(EpisodeError, match="at most 12"):
        create_episode(patient, EpisodeValues(program.id, date(2026, 9, 1), diagnoses=many), actor="test")
    with pytest.raises(EpisodeError, match="listed twice"):
        create_episode(patient, EpisodeValues(program.id, date(2026, 9, 1), diagnoses=["F10.20", "F1020"]),
                       actor="test")


def test_an_authorization_hangs_on_the_episode_its_first_day_falls_in(program):
    from portal import iop
    from tests.fixtures.charges import episode

    earlier = episode(program.patient, admit=date(2026, 6, 1))
    earlier.discharge_date = date(2026, 6, 30)
    current = episode(program.patient, admit=date(2026, 9, 20))
    auth = iop.save_authorization(patient=program.patient, coverage_id=program.coverage.id,
                                  billing_code_id=program.per_diem.id, start=date(2026, 11, 1),
                                  end=date(2026, 11, 30), units=5, actor="test")
    assert auth.episode_id == current.id
    june = iop.save_authorization(patient=program.patient, coverage_id=program.coverage.id,
                                  billing_code_id=program.per_diem.id, start=date(2026, 6, 15),
                                  end=date(2026, 6, 30), units=5, actor="test")
    assert june.episode_id == earlier.id
    assert program.auth.episode_id is None  # saved before any episode existed
