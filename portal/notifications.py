"""In-app alerts for staff, and the mail that goes with them."""
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Notification, Role, User, utcnow


def role_members(role_name: str) -> list[User]:
    return list(db.session.scalars(
        select(User).join(Role, Role.id == User.role_id)
        .where(Role.name == role_name, User.active.is_(True), User.kind == "staff").order_by(User.id)
    ))


def notify(users: list[User], *, title: str, body: str, link: str | None = None) -> None:
    db.session.add_all(Notification(user_id=u.id, title=title, body=body, link=link) for u in users)


def unread_count(user: User) -> int:
    return db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)))


def for_user(user: User, limit: int = 100) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(Notification.user_id == user.id)
                                   .order_by(Notification.id.desc()).limit(limit)))


def mark_all_read(user: User) -> None:
    for note in db.session.scalars(select(Notification).where(
            Notification.user_id == user.id, Notification.read_at.is_(None))):
        note.read_at = utcnow()
    db.session.flush()
