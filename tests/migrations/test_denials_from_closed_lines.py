"""Upgrading a database with denied lines gives each its denial: an open line stays open, a line closed on the
old worklist takes the state its note names (appealed) or else written off, its close kept as a step."""
import sqlalchemy as sa
from flask_migrate import upgrade

from portal import create_app
from portal.extensions import db
from tests.conftest import make_config
from tests.migrations.test_round_trip import empty_database_url  # noqa: F401  (the fixture)

LINES = (  # sequence, denied, closed at, closed by, note
    (1, True, None, None, None),
    (2, True, "2026-11-05 10:00:00+00:00", "user:3", "Worked: rebilled with the authorization"),
    (3, True, "2026-11-06 10:00:00+00:00", "user:4", "Appealed: letter sent"),
    (4, False, None, None, None),
)


def test_denied_lines_become_denials_in_the_state_their_close_says(empty_database_url):  # noqa: F811
    app = create_app(make_config(empty_database_url))
    with app.app_context():
        upgrade(revision="7eaeffac03c8")
        with db.engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO remittances (id, content_hash, filename, content, payer_name, payer_identifier, "
                "trace_number, payment_cents, payment_method, status, claim_count, line_count, posted_line_count, "
                "denied_line_count, exception_count, posted_paid_cents, provider_adjustment_cents, imported_by, "
                "imported_at) VALUES (1, 'h', 'f.835', :content, 'Harbor', '1999', 'TRC9', 0, 'NON', 'posted', 1, 4, "
                "4, 3, 0, 0, 0, 'user:1', '2026-11-02 09:00:00+00:00')"), {"content": b"ISA"})
            connection.execute(sa.text(
                "INSERT INTO remittance_claims (id, remittance_id, sequence, control_number, status_code, "
                "charge_cents, paid_cents, patient_resp_cents, adjustments, remarks, posted) "
                "VALUES (1, 1, 1, 'C1', '4', 4000, 0, 0, '[]', '[]', :yes)"), {"yes": True})
            for sequence, denied, closed_at, closed_by, note in LINES:
                connection.execute(sa.text(
                    "INSERT INTO remittance_lines (remittance_claim_id, sequence, procedure_code, units, "
                    "charge_cents, paid_cents, adjustments, remarks, posted, denied, denial_codes, denial_closed_at, "
                    "denial_closed_by, denial_note) VALUES (1, :sequence, 'S9480', 1, 1000, 0, '[]', '[]', :yes, "
                    ":denied, 'CO-50', :closed_at, :closed_by, :note)"),
                    {"sequence": sequence, "yes": True, "denied": denied, "closed_at": closed_at,
                     "closed_by": closed_by, "note": note})
        upgrade()
        with db.engine.connect() as connection:
            states = connection.execute(sa.text(
                "SELECT rl.sequence, d.state FROM denials d JOIN remittance_lines rl ON rl.id = d.remittance_line_id "
                "ORDER BY rl.sequence")).all()
            steps = connection.execute(sa.text(
                "SELECT rl.sequence, s.state, s.actor, s.note FROM denial_steps s JOIN denials d ON d.id = s.denial_id "
                "JOIN remittance_lines rl ON rl.id = d.remittance_line_id ORDER BY rl.sequence, s.id")).all()
        assert [tuple(row) for row in states] == [(1, "open"), (2, "written_off"), (3, "appealed")]
        assert [tuple(row) for row in steps] == [
            (1, "open", "user:1", "Denied on remittance TRC9"),
            (2, "open", "user:1", "Denied on remittance TRC9"),
            (2, "written_off", "user:3", "Worked: rebilled with the authorization"),
            (3, "open", "user:1", "Denied on remittance TRC9"),
            (3, "appealed", "user:4", "Appealed: letter sent")]
        db.session.remove()
        db.engine.dispose()
