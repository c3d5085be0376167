"""Remittances for billing staff: upload an 835, see what posted and what waits, work the queues."""
from flask import Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from portal import audit, remittances
from portal.auth import permission_required
from portal.extensions import db
from portal.models import (
    EraException,
    EraUpload,
    Remittance,
)
from portal.transaction import commit_before_outside_call
from portal.web import audit_context, db_id
from staff.remittances.forms import (
    MatchForm,
    NoteForm,
    UploadForm,
)

bp = Blueprint("staff_remittances", __name__, url_prefix="/staff/remittances")


def _actor() -> str:
    return f"user:{current_user.id}"


# ---------------------------------------------------------------- remittances

@bp.get("/")
@permission_required("claims.view")
def index():
    page = remittances.remittances(request.args.get("page", 1, type=db_id))
    return render_template("staff/era/index.html", page=page, uploads=remittances.recent_uploads(),
                           exceptions=remittances.open_exception_count())


@bp.get("/<int:remittance_id>")
@permission_required("claims.view")
def detail(remittance_id: int):
    remittance = db.session.get(Remittance, remittance_id) or abort(404)
    audit.record("remittance.viewed", "remittance", actor=current_user, object_id=remittance.id,
                 **audit_context())
    return render_template("staff/era/detail.html", remittance=remittance, describe=remittances.describe,
                           plb_words=remittances.plb_words, waiting=remittances.exceptions_by_claim(remittance.id),
                           underpaid=remittances.underpaid_lines(remittance))


@bp.get("/<int:remittance_id>/file")
@permission_required("claims.view")
def download(remittance_id: int):
    remittance = db.session.get(Remittance, remittance_id) or abort(404)
    audit.record("remittance.downloaded", "remittance", actor=current_user, object_id=remittance.id,
                 detail={"filename": remittance.filename}, **audit_context())
    safe = "".join(c for c in remittance.filename if c.isalnum() or c in "._-") or "remittance.835"
    return Response(remittance.content, mimetype="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="{safe}"'})


# ---------------------------------------------------------------- upload

@bp.url_value_preprocessor
def _upload_limit(endpoint, _values):
    """An 835 has its own, lower limit than the app's, refused with 413 before the body is read. This is the
    hook that runs before every `before_request` (the CSRF check reads the form): Werkzeug then refuses a
    declared length over the limit and counts a chunked body as it streams."""
    if endpoint != f"{bp.name}.upload":
        return
    limit = current_app.config["ERA_UPLOAD_MAX_BYTES"]
    request.max_content_length = limit
    if (request.content_length or 0) > limit:
        abort(413, description=f"That file is larger than {limit // (1024 * 1024)} MB, more than any 835 file "
                               "we take. Check that you chose the payer's 835 file.")


@bp.route("/upload", methods=["GET", "POST"])
@permission_required("payments.post")
def upload():
    from portal.tasks import era_import

    form = UploadForm()
    if form.validate_on_submit():
        data = form.file.data
        try:
            record = remittances.create_upload(data.read(), data.filename, actor=_actor(), **audit_context())
        except remittances.UploadError as error:
            db.session.rollback()
            form.file.errors.append(str(error))
        else:
            commit_before_outside_call()  # the worker reads the upload on its own connection
            era_import.delay(record.id)  # inline when no worker is configured
            return redirect(url_for(".upload_status", upload_id=record.id))
    return render_template("staff/era/upload.html", form=form), 400 if form.errors else 200


@bp.get("/uploads/<int:upload_id>")
@permission_required("payments.post")
def upload_status(upload_id: int):
    record = db.session.get(EraUpload, upload_id) or abort(404)
    return render_template("staff/era/upload_status.html", upload=record, status=remittances.status(record))


@bp.get("/uploads/<int:upload_id>/status")
@permission_required("payments.post")
def upload_status_json(upload_id: int):
    record = db.session.get(EraUpload, upload_id) or abort(404)
    return jsonify(remittances.status(record))


# ---------------------------------------------------------------- exception queue

@bp.get("/exceptions")
@permission_required("claims.view")
def exceptions():
    rows = remittances.open_exceptions()
    audit.record("era_exceptions.viewed", "era_exception", actor=current_user, detail={"count": len(rows)},
                 **audit_context())
    return render_template("staff/era/exceptions.html", exceptions=rows)


@bp.get("/exceptions/<int:era_exception_id>")
@permission_required("claims.view")
def exception(era_exception_id: int):
    found = db.session.get(EraException, era_exception_id) or abort(404)
    query = request.args.get("q", "").strip()
    claims = remittances.search_claims(query) if query else []
    if query:
        audit.record("claims.searched", "claim", actor=current_user, detail={"results": len(claims)},
                     **audit_context())
    return render_template("staff/era/exception.html", exc=found, query=query, claims=claims,
                           match_form=MatchForm(), note_form=NoteForm())


@bp.post("/exceptions/<int:era_exception_id>/match")
@permission_required("payments.post")
def match(era_exception_id: int):
    found = db.session.get(EraException, era_exception_id) or abort(404)
    form = MatchForm()
    line_id = form.claim_line_id.data or ""
    if not form.validate_on_submit() or not form.claim_id.data.isdigit() or not (line_id == "" or line_id.isdigit()):
        flash("Choose the claim this remittance pays.", "error")
        return redirect(url_for(".exception", era_exception_id=found.id))
    try:
        remittances.match_exception(found.id, int(form.claim_id.data), actor=_actor(),
                                 claim_line_id=int(line_id) if line_id else None, **audit_context())
    except remittances.EraError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for(".exception", era_exception_id=found.id))
    flash("Matched and posted.", "info")
    return redirect(url_for(".exceptions"))


@bp.post("/exceptions/<int:era_exception_id>/dismiss")
@permission_required("payments.post")
def dismiss(era_exception_id: int):
    found = db.session.get(EraException, era_exception_id) or abort(404)
    form = NoteForm()
    if not form.validate_on_submit():
        flash("Say why this is set aside.", "error")
        return redirect(url_for(".exception", era_exception_id=found.id))
    try:
        remittances.dismiss_exception(found.id, form.note.data, actor=_actor(), **audit_context())
    except remittances.EraError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for(".exception", era_exception_id=found.id))
    flash("Set aside with your note.", "info")
    return redirect(url_for(".exceptions"))
