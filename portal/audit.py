"""Audit trail: who viewed or changed which patient's data, when and from where."""
from flask import has_request_context, request

from portal.extensions import db
from portal.models import AuditEvent, User


def record(action: str, object_type: str, *, actor: User | str, object_id=None, account_id: int | None = None,
           patient_id: int | None = None, detail: dict | None = None, commit: bool = True) -> AuditEvent:
    """Append an audit event. `actor` is the user, or a label such as 'task:statements' or 'cli'."""
    user_id = actor.id if isinstance(actor, User) else None
    label = f"user:{actor.id}" if isinstance(actor, User) else str(actor)
    ip, agent = None, None
    if has_request_context():
        ip = request.remote_addr
        agent = (request.user_agent.string or "")[:300]
    event = AuditEvent(
        user_id=user_id, actor=label, action=action, object_type=object_type,
        object_id=None if object_id is None else str(object_id), account_id=account_id,
        patient_id=patient_id, ip_address=ip, user_agent=agent, detail=detail,
    )
    db.session.add(event)
    if commit:
        db.session.commit()
    return event


def search(*, actor_email: str | None = None, action: str | None = None, account_id: int | None = None,
           patient_id: int | None = None, since=None, until=None, page: int = 1, per_page: int = 50):
    """Audit events, newest first, filtered; `since`/`until` are UTC-aware datetimes."""
    from sqlalchemy import func, select

    stmt = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if actor_email:
        stmt = stmt.join(User, User.id == AuditEvent.user_id).where(
            func.lower(User.email).contains(actor_email.strip().lower()))
    if action:
        stmt = stmt.where(AuditEvent.action.startswith(action.strip()))
    if account_id:
        stmt = stmt.where(AuditEvent.account_id == account_id)
    if patient_id:
        stmt = stmt.where(AuditEvent.patient_id == patient_id)
    if since:
        stmt = stmt.where(AuditEvent.at >= since)
    if until:
        stmt = stmt.where(AuditEvent.at < until)
    return db.paginate(stmt, page=page, per_page=per_page, error_out=False)
