"""What the facility's setup records share: a refusal naming its field, and applying checked values."""
from portal.extensions import db


class FieldError(ValueError):
    """A value the record cannot take; `field` names the form field to show it on."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def text(values: dict, name: str, *, required: str | None = None) -> str | None:
    """The stripped text, None when empty; `required` is the message when it must be there."""
    value = (values.get(name) or "").strip() or None
    if value is None and required:
        raise FieldError(name, required)
    return value


def apply(record, values: dict) -> dict:
    """Set each value that differs on `record`; the changes as {field: [old, new]} for the audit trail."""
    changes = {}
    for name, new in values.items():
        old = getattr(record, name)
        if old != new:
            changes[name] = [old, new]
            setattr(record, name, new)
    return changes


def taken(model, record, **where) -> bool:
    """Whether another row of `model` (not `record`) already has these values."""
    query = db.select(model.id).filter_by(**where)
    if record.id is not None:
        query = query.where(model.id != record.id)
    return db.session.scalar(query.limit(1)) is not None
