"""Patient logins kept briefly in memory, so a page view needs no database round trip to know who asks.

Flask-Login loads the signed-in user on every request. For patients, whose pages are mostly frozen
statements, that load (and the check of which accounts they may see) cost more than the page itself.
A patient login and its account list are kept here for at most PATIENT_IDENTITY_SECONDS (default 10),
so a deactivation or a new account link reaches every worker process within that bound. Staff logins
are never cached: their permissions and two-factor state must apply on the next request.
"""
import threading
import time
from dataclasses import dataclass

from sqlalchemy import inspect
from sqlalchemy.orm import make_transient_to_detached

from portal.models import User


@dataclass(frozen=True)
class PatientIdentity:
    user: User  # a detached copy that is never attached to a session: callers merge it
    account_ids: frozenset[int]
    expires_at: float


class IdentityCache:
    def __init__(self, max_entries: int = 20000):
        self._entries: dict[int, PatientIdentity] = {}
        self._lock = threading.Lock()
        self._max_entries = max_entries
        self.clock = time.monotonic

    def get(self, user_id: int) -> PatientIdentity | None:
        entry = self._entries.get(user_id)
        if entry is None or entry.expires_at < self.clock():
            return None
        return entry

    def remember(self, user: User, account_ids, seconds: int) -> PatientIdentity:
        entry = PatientIdentity(_detached_copy(user), frozenset(account_ids), self.clock() + seconds)
        with self._lock:
            if len(self._entries) >= self._max_entries:
                self._entries.clear()  # simpler than LRU bookkeeping; refilled on demand
            self._entries[user.id] = entry
        return entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _detached_copy(user: User) -> User:
    """The login's columns in a fresh instance: the live one stays with its request's session."""
    copy = User(**{attr.key: getattr(user, attr.key) for attr in inspect(User).column_attrs})
    make_transient_to_detached(copy)
    return copy


patients = IdentityCache()
