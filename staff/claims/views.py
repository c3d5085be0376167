"""Claims for billing staff: build claims from released charges, read the scrubber's findings, override a
warning with a reason, scrub again, send a payer's ready claims as an 837 file and download it."""
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal import audit, claims, facility, payers
from portal.auth import permission_required
from portal.extensions import db
from portal.models import CLAIM_STATUSES, STATUS_WORDS, Claim, ClaimBatch, ClaimIssue, Payer
from portal.payments import desk
from portal.web import audit_context
from staff.claims.forms import BuildForm, ClaimFileForm, FollowUpForm, OverrideForm, ScrubForm, SendForm

bp = Blueprint("staff_claims", __name__, url_prefix="/staff/claims")

RULE_TITLES = {rule.name: rule.title for rule in claims.RULES}
SCRUBBED = ("built", "held", "ready", "rejected")  # the statuses the scrubber runs on


def _actor() -> str:
    return f"user:{current_user.id}"


def _claim(claim_id: int) -> Claim:
    return db.session.get(Claim, claim_id) or abort(404)


def _who(claim: Claim) -> dict[str, str]:
    """The people behind the claim's "user:N" actors (history and overrides), by name."""
    return desk.actor_names({a for a in [*(s.actor for s in claim.history), *(i.overridden_by for i in claim.issues)]
                             if a})


def _build_form(**kwargs) -> BuildForm:
    form = BuildForm(**kwargs)
    form.payer_id.choices = [(0, "Every payer")] + [(p.id, p.name) for p in payers.all_payers()]
    form.program_id.choices = [(0, "Every program")] + [(p.id, p.name) for p in facility.all_programs()]
    return form


# ---------------------------------------------------------------- the list

def _list_page(build_form: BuildForm | None = None, send_form: SendForm | None = None, status: str | None = None):
    errors = (build_form is not None and build_form.errors) or (send_form is not None and send_form.errors)
    return render_template(
        "staff/claims/index.html", claims=claims.claims_with(status), status=status, statuses=CLAIM_STATUSES,
        words=STATUS_WORDS, counts=claims.count_by_status(), batches=claims.recent_batches(),
        ready=claims.ready_by_payer(), build_form=build_form or _build_form(formdata=None),
        send_form=send_form or SendForm(formdata=None)), 400 if errors else 200


@bp.get("/")
@permission_required("claims.view")
def index():
    status = request.args.get("status") or None
    if status is not None and status not in CLAIM_STATUSES:
        abort(400, description=f"There is no claim status called that. Choose one of: "
                               f"{', '.join(STATUS_WORDS[s] for s in CLAIM_STATUSES)}.")
    return _list_page(status=status)


@bp.post("/build")
@permission_required("claims.submit")
def build():
    form = _build_form()
    if not form.validate_on_submit():
        return _list_page(build_form=form)
    where = claims.ChargeFilter(payer_id=form.payer_id.data or None, program_id=form.program_id.data or None,
                                since=form.since.data, through=form.through.data)
    built = claims.build(where, actor=_actor())
    if not built:
        flash("No released charges wait to be billed for that choice.", "info")
        return redirect(url_for(".index"))
    ready = sum(1 for c in built if c.status == "ready")
    flash(f"Built {len(built)} claim{'' if len(built) == 1 else 's'}: {ready} ready, {len(built) - ready} held.",
          "info")
    return redirect(url_for(".index"))


@bp.post("/send")
@permission_required("claims.submit")
def send():
    form = SendForm()
    if not form.validate_on_submit():
        return _list_page(send_form=form)
    payer = db.session.get(Payer, int(form.payer_id.data)) or abort(404)
    try:
        result = claims.send(payer, actor=_actor())
    except claims.ClaimError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for(".index"))
    if not result.batches:
        flash(f"No claims to {payer.name} are ready to send.", "info")
    else:
        files = ", ".join(f"{b.filename} ({b.claim_count} claim{'' if b.claim_count == 1 else 's'})"
                          for b in result.batches)
        flash(f"Made {files}. Download the file and send it to {payer.name}.", "info")
    return redirect(url_for(".index"))


@bp.get("/batches/<int:batch_id>/file")
@permission_required("claims.view")
def download(batch_id: int):
    batch = db.session.get(ClaimBatch, batch_id) or abort(404)
    audit.record("claim_batch.downloaded", "claim_batch", actor=current_user, object_id=batch.id,
                 detail={"filename": batch.filename, "payer_id": batch.payer_id}, **audit_context())
    safe = "".join(c for c in batch.filename if c.isalnum() or c in "._-") or "claims.837"
    return Response(batch.content, mimetype="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="{safe}"'})


# ---------------------------------------------------------------- one claim

def _claim_page(claim: Claim, *, failed: ClaimIssue | None = None, failed_form: OverrideForm | None = None,
                problem: str | None = None):
    """The claim page; after a refused override, that issue's form shows its errors (and the page is a 400)."""
    forms = {i.id: OverrideForm(formdata=None, prefix=f"issue-{i.id}") for i in claim.issues}
    if failed is not None and failed_form is not None:
        forms[failed.id] = failed_form
    code = 400 if problem or (failed_form is not None and failed_form.errors) else 200
    return render_template("staff/claims/detail.html", claim=claim, words=STATUS_WORDS, titles=RULE_TITLES,
                           who=_who(claim), forms=forms, scrub_form=ScrubForm(formdata=None), problem=problem,
                           overridable=claim.status in ("held", "built"), follow_form=FollowUpForm(formdata=None),
                           replaceable=claim.status in claims.REPLACEABLE and claim.frequency_code != "8",
                           next_coverage=claims.next_coverage(claim) if claim.status in claims.ADJUDICATED
                           else None), code


@bp.get("/<int:claim_id>")
@permission_required("claims.view")
def detail(claim_id: int):
    claim = _claim(claim_id)
    audit.record("claim.viewed", "claim", actor=current_user, object_id=claim.id, account_id=claim.account_id,
                 patient_id=claim.patient_id, **audit_context())
    return _claim_page(claim)


@bp.post("/<int:claim_id>/scrub")
@permission_required("claims.submit")
def scrub(claim_id: int):
    claim = _claim(claim_id)
    form = ScrubForm()
    if not form.validate_on_submit():
        return _claim_page(claim, problem="The form had expired: scrub the claim again.")
    if claim.status not in SCRUBBED:
        flash(f"Claim {claim.control_number} is {STATUS_WORDS[claim.status].lower()}: only claims not yet sent "
              "are scrubbed.", "error")
        return redirect(url_for(".detail", claim_id=claim.id))
    claims.scrub([claim], actor=_actor())
    if claim.status == "ready":
        flash(f"Scrubbed claim {claim.control_number}: ready to send.", "info")
    else:
        flash(f"Scrubbed claim {claim.control_number}: held, with {len(claim.issues)} finding(s) to work.", "info")
    return redirect(url_for(".detail", claim_id=claim.id))


@bp.post("/issues/<int:issue_id>/override")
@permission_required("claims.submit")
def override(issue_id: int):
    issue = db.session.get(ClaimIssue, issue_id) or abort(404)
    claim = _claim(issue.claim_id)
    form = OverrideForm(prefix=f"issue-{issue.id}")
    if not form.validate_on_submit():
        return _claim_page(claim, failed=issue, failed_form=form)
    try:
        claims.override(issue, form.reason.data, actor=_actor(), **audit_context())
    except claims.ClaimError as error:
        db.session.rollback()
        return _claim_page(_claim(issue.claim_id), problem=str(error))
    flash(f"Warning overridden. Claim {claim.control_number} is {STATUS_WORDS[claim.status].lower()}.", "info")
    return redirect(url_for(".detail", claim_id=claim.id))


# ---------------------------------------------------------------- corrections and the next payer

@bp.post("/<int:claim_id>/replace")
@permission_required("claims.submit")
def replace(claim_id: int):
    return _follow_up(claim_id, "replace")


@bp.post("/<int:claim_id>/void")
@permission_required("claims.submit")
def void(claim_id: int):
    return _follow_up(claim_id, "void")


@bp.post("/<int:claim_id>/secondary")
@permission_required("claims.submit")
def secondary(claim_id: int):
    return _follow_up(claim_id, "secondary")


def _follow_up(claim_id: int, action: str):
    """A corrected claim (frequency 7), a void (8), or the claim to the next payer."""
    claim = _claim(claim_id)
    if not FollowUpForm().validate_on_submit():
        return _claim_page(claim, problem="The form had expired: try again.")
    try:
        if action == "secondary":
            made = claims.build_secondary(claim, actor=_actor())
        else:
            made = claims.replace(claim, actor=_actor(), void=action == "void")
    except claims.ClaimError as error:
        db.session.rollback()
        return _claim_page(_claim(claim_id), problem=str(error))
    words = {"replace": "Replacement", "void": "Void", "secondary": "Secondary"}[action]
    flash(f"{words} claim {made.control_number} built: {STATUS_WORDS[made.status].lower()}.", "info")
    return redirect(url_for(".detail", claim_id=made.id))


# ---------------------------------------------------------------- files from payers and other systems

@bp.route("/files", methods=["GET", "POST"])
@permission_required("claims.submit")
def files():
    """A 999 or 277CA acknowledgment of claims we sent, or an 837 of claims a previous system sent."""
    form = ClaimFileForm()
    outcome = None
    if form.validate_on_submit():
        content, name = form.file.data.read(), form.file.data.filename or "upload"
        try:
            if claims.is_claim_file(content):
                outcome = claims.import_837(content, name, actor=_actor()).summary()
            else:
                outcome = claims.import_acknowledgment(content, name, actor=_actor()).summary
        except claims.ClaimError as error:
            db.session.rollback()
            form.file.errors.append(f"Refused, nothing changed: {error}")
        else:
            flash(f"{name}: {outcome}", "info")
            return redirect(url_for(".files"))
    return render_template("staff/claims/files.html", form=form), 400 if form.errors else 200
