"""Admin: the facility's programs (levels of care), locations and providers."""
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from portal import facility
from portal.auth import permission_required
from portal.extensions import db
from portal.facility import PLACES_OF_SERVICE
from portal.models import Location, Program, Provider
from portal.web import audit_context
from staff.admin.setup_forms import LEVEL_LABELS, LocationForm, ProgramForm, ProviderForm

bp = Blueprint("staff_setup", __name__, url_prefix="/staff/admin")


def _found(model, record_id: int):
    record = db.session.get(model, record_id)
    if record is None:
        abort(404)
    return record


def _form_for(form_class, record):
    """The form filled from `record`; a new record's form has no "active" box (a new record is active)."""
    form = form_class(obj=record)
    if record is None:
        del form.active
    return form


def form_values(form) -> dict:
    """The form's fields by name, for the domain's save functions (the CSRF token is not a value)."""
    return {name: field.data for name, field in form._fields.items() if field.type != "CSRFTokenField"}


def show_refusal(form, exc) -> None:
    """Put a domain refusal on the field it names (or above the form), after undoing what was flushed."""
    db.session.rollback()
    field = form._fields.get(exc.field)
    (field.errors if field is not None else form.form_errors).append(str(exc))


def _save(form, save, record, *, title: str, back: str):
    """Validate, hand the values to the domain's `save`, and redirect to `back`; or re-render with field errors."""
    if form.validate_on_submit():
        try:
            saved = save(record, form_values(form), actor=current_user, **audit_context())
        except facility.FieldError as exc:
            show_refusal(form, exc)
        else:
            flash(f"Saved {getattr(saved, 'display_name', None) or saved.name}.", "info")
            return redirect(url_for(back))
    return render_template("staff/admin/setup_form.html", form=form, title=title,
                           back=url_for(back)), 400 if form.errors else 200


# ---------------------------------------------------------------- programs


def _program_form(record: Program | None) -> ProgramForm:
    form = _form_for(ProgramForm, record)
    # Inactive records stay choosable on the program that already points at them.
    keep = {record.location_id, record.billing_provider_id, record.rendering_provider_id} if record else set()
    form.location_id.choices = [(0, "None")] + [(loc.id, f"{loc.name} (POS {loc.place_of_service})")
                                                for loc in facility.all_locations() if loc.active or loc.id in keep]
    providers = [(0, "None")] + [(p.id, f"{p.display_name} (NPI {p.npi})") for p in facility.all_providers()
                                 if p.active or p.id in keep]
    form.billing_provider_id.choices = providers
    form.rendering_provider_id.choices = providers
    for choice in (form.location_id, form.billing_provider_id, form.rendering_provider_id):
        if choice.data is None:  # none chosen (wtforms leaves a record's None uncoerced)
            choice.data = 0
    return form


@bp.get("/programs")
@permission_required("admin.settings")
def programs():
    return render_template("staff/admin/programs.html", programs=facility.all_programs(), levels=LEVEL_LABELS)


@bp.route("/programs/new", methods=["GET", "POST"])
@permission_required("admin.settings")
def program_new():
    return _save(_program_form(None), facility.save_program, None, title="New program", back=".programs")


@bp.route("/programs/<int:program_id>", methods=["GET", "POST"])
@permission_required("admin.settings")
def program_edit(program_id: int):
    record = _found(Program, program_id)
    return _save(_program_form(record), facility.save_program, record, title=f"Program {record.name}",
                 back=".programs")


# ---------------------------------------------------------------- locations


@bp.get("/locations")
@permission_required("admin.settings")
def locations():
    return render_template("staff/admin/locations.html", locations=facility.all_locations(),
                           places=PLACES_OF_SERVICE)


@bp.route("/locations/new", methods=["GET", "POST"])
@permission_required("admin.settings")
def location_new():
    return _save(_form_for(LocationForm, None), facility.save_location, None, title="New location",
                 back=".locations")


@bp.route("/locations/<int:location_id>", methods=["GET", "POST"])
@permission_required("admin.settings")
def location_edit(location_id: int):
    record = _found(Location, location_id)
    return _save(_form_for(LocationForm, record), facility.save_location, record, title=f"Location {record.name}",
                 back=".locations")


# ---------------------------------------------------------------- providers


@bp.get("/providers")
@permission_required("admin.settings")
def providers():
    return render_template("staff/admin/providers.html", providers=facility.all_providers())


@bp.route("/providers/new", methods=["GET", "POST"])
@permission_required("admin.settings")
def provider_new():
    return _save(_form_for(ProviderForm, None), facility.save_provider, None, title="New provider",
                 back=".providers")


@bp.route("/providers/<int:provider_id>", methods=["GET", "POST"])
@permission_required("admin.settings")
def provider_edit(provider_id: int):
    record = _found(Provider, provider_id)
    return _save(_form_for(ProviderForm, record), facility.save_provider, record,
                 title=f"Provider {record.display_name}", back=".providers")
