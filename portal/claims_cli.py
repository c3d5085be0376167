"""`flask --app portal claims ...`: build, send and list claims, import acknowledgments; each failure exits
non-zero with one line."""
import os

import click
from flask.cli import AppGroup
from sqlalchemy import select

from portal import claims
from portal.cli_common import emit, read_file
from portal.extensions import db
from portal.models import CLAIM_STATUSES, Payer

claims_cli = AppGroup("claims", help="Claims out: build from charges, scrub, write 837 files, read their 999 and "
                                     "277CA acknowledgments.")



def _payer(text: str) -> Payer:
    text = text.replace("\x00", "").strip()
    found = db.session.scalar(select(Payer).where(
        (Payer.id == (int(text) if text.isdigit() and len(text) < 10 else -1)) | (Payer.x12_payer_id == text)
        | (Payer.name == text)).limit(1))
    if found is None:
        raise click.ClickException(f"no payer {text[:40]!r} (give its id, name or X12 payer id)")
    return found


def _claim_dict(claim) -> dict:
    return {"id": claim.id, "control_number": claim.control_number, "status": claim.status,
            "payer_id": claim.payer_id, "patient_id": claim.patient_id, "claim_type": claim.claim_type,
            "period_start": claim.period_start, "period_end": claim.period_end, "total_cents": claim.total_cents,
            "lines": len(claim.lines), "batch_id": claim.batch_id,
            "issues": [{"rule": i.rule, "severity": i.severity, "line": i.line_number, "message": i.message,
                        "overridden": i.overridden_at is not None} for i in claim.issues]}


@claims_cli.command("build")
@click.option("--payer", "payer_text", default=None, help="Only this payer (id, name or X12 payer id).")
@click.option("--through", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Only services up to this day.")
@click.option("--json", "as_json", is_flag=True)
def claims_build(payer_text, through, as_json):
    """Build claims from released, unbilled insurance charges, and secondary claims for what primaries left;
    scrub them all."""
    payer = _payer(payer_text) if payer_text else None
    built = claims.build(claims.ChargeFilter(payer_id=payer.id if payer else None,
                                             through=through.date() if through else None), actor="cli:claims-build")
    followers, refused = claims.build_secondaries(actor="cli:claims-build", payer_id=payer.id if payer else None)
    built += followers
    ready = sum(1 for c in built if c.status == "ready")
    text = [f"built {len(built)} claim(s): {ready} ready, {len(built) - ready} held by the scrubber",
            *(f"  not billed to the next payer: {reason}" for reason in refused)]
    emit(as_json, {"built": [_claim_dict(c) for c in built], "ready": ready, "held": len(built) - ready,
                    "secondary_refused": refused}, "\n".join(text))


@claims_cli.command("batch")
@click.option("--payer", "payer_text", required=True, help="The payer's id, name or X12 payer id.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True))
@click.option("--json", "as_json", is_flag=True)
def claims_batch(payer_text, out, as_json):
    """Write the payer's ready claims to one validated 837 file; they become sent."""
    payer = _payer(payer_text)
    try:
        result = claims.send(payer, actor="cli:claims-batch")
    except claims.ClaimError as exc:
        raise click.ClickException(str(exc)) from exc
    if not result.batches:
        raise click.ClickException(f"{payer.name} has no claims ready to send")
    if len(result.batches) > 1:
        raise click.ClickException(f"{payer.name} has both professional and institutional claims ready; "
                                   "send them from the claims page, one file each")
    batch = result.batches[0]
    try:
        with open(out, "w", encoding="ascii", newline="") as handle:
            handle.write(batch.content)
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror}") from exc
    emit(as_json, result.as_dict(), f"wrote {batch.claim_count} claim(s) to {out} (interchange {batch.id})")


@claims_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def claims_import(path, as_json):
    """Record the claims of an 837 another system sent, so their remittances match here."""
    content = read_file(path)
    try:
        result = claims.import_837(content, os.path.basename(path), actor="cli:claims-import")
    except claims.ClaimError as exc:
        raise click.ClickException(f"{path} refused, nothing imported: {exc}") from exc
    emit(as_json, result.as_dict(), result.summary())


@claims_cli.command("list")
@click.option("--status", type=click.Choice(CLAIM_STATUSES), default=None)
@click.option("--json", "as_json", is_flag=True)
def claims_list(status, as_json):
    """Claims, newest first."""
    found = claims.claims_with(status)
    lines = [f"{c.control_number:12} {c.status:15} {c.payer.name[:30]:30} {c.period_start or '':10} "
             f"{c.total_cents / 100:>12,.2f}" for c in found]
    emit(as_json, {"claims": [_claim_dict(c) for c in found]}, "\n".join(lines) or "No claims.")


@claims_cli.command("ack")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--json", "as_json", is_flag=True)
def claims_ack(path, as_json):
    """Import a 999 or 277CA acknowledgment of claims we sent (told apart by its ST01)."""
    content = read_file(path)
    try:
        result = claims.import_acknowledgment(content, os.path.basename(path), actor="cli:claims-ack")
    except claims.AcknowledgmentError as exc:
        raise click.ClickException(str(exc)) from exc
    lines = [result.summary] + [f"{o.control_number:20} {o.outcome:9} {o.message}" for o in result.outcomes
                                if o.outcome in ("rejected", "unmatched")]
    emit(as_json, result.as_dict(), "\n".join(lines))
