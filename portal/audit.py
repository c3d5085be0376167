"""Audit trail: who viewed or changed which patient's data, when and from where."""
from portal.extensions import db
from portal.models import AuditEvent, User


def record(action: str, object_type: str, *, actor: User | str, object_id=None, account_id: int | None = None,
           patient_id: int | None = None, detail: dict | None = None, ip: str | None = None,
           user_agent: str | None = None) -> AuditEvent:
    """Append an audit event; the caller's transaction keeps it (the request, task or command commits).

    `actor` is the user, or a label such as 'task:statements' or 'cli'. `ip` and `user_agent` come from the
    web edge (`web.audit_context()`); tasks and commands have neither. Recording never commits.
    """
    user_id = actor.id if isinstance(actor, User) else None
    label = f"user:{actor.id}" if isinstance(actor, User) else str(actor)
    event = AuditEvent(
        user_id=user_id, actor=label, action=action, object_type=object_type,
        object_id=None if object_id is None else str(object_id), account_id=account_id,
        patient_id=patient_id, ip_address=ip, user_agent=None if user_agent is None else user_agent[:300],
        detail=detail,
    )
    db.session.add(event)
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
