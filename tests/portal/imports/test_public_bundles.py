"""Public example bundles nobody on the team wrote, kept with the other public samples (shared/samples/fhir, beside
the repository, each file's source and licence in its SOURCES.md), as the 835 samples are: copies of public files
are kept there, not in this repository. Where that folder has not been provided the tests say so and pass over."""
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal import imports, ledger
from portal.extensions import db
from portal.models import ExternalId, Patient

SAMPLES = Path(__file__).resolve().parents[3] / ".." / "shared" / "samples" / "fhir"
BUNDLES = sorted(SAMPLES.glob("*.json")) if SAMPLES.is_dir() else []
ABSENT = pytest.mark.skipif(not BUNDLES, reason="the public FHIR bundles (shared/samples/fhir) are not on this machine")


@ABSENT
def test_each_public_bundle_has_its_source_and_licence_named():
    sources = (SAMPLES / "SOURCES.md").read_text()
    assert [p.name for p in BUNDLES if p.name not in sources] == []


@pytest.mark.parametrize("path", BUNDLES, ids=[p.name for p in BUNDLES])
def test_a_public_bundle_imports_and_a_second_import_adds_nothing(app, path, capsys):
    text = path.read_text(encoding="utf-8-sig")
    first = imports.import_bundle(text, actor="test")
    db.session.commit()
    assert first.errors == [], first.errors[:20]
    assert first.created["patients"] >= 1
    with capsys.disabled():
        print(f"\n{path.name}: {first.summary()}")
    patients = db.session.scalar(select(func.count()).select_from(Patient))
    keys = db.session.scalar(select(func.count()).select_from(ExternalId))
    second = imports.import_bundle(text, actor="test")
    db.session.commit()
    assert second.errors == [] and dict(second.created) == {}
    assert db.session.scalar(select(func.count()).select_from(Patient)) == patients
    assert db.session.scalar(select(func.count()).select_from(ExternalId)) == keys
    assert ledger.check_all()[1] == []
