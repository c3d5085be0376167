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

from portal.models import User
from portal.people import users


@dataclass(frozen=True, eq=False)
class SignedInPatient:
    """A patient login as the patient pages use it: plain values, shared safely between threads.

    It is what `current_user` is for a cached patient; the pages read only these fields.
    """

    id: int
    email: str
    full_name: str
    account_ids: frozenset[int]
    password_fingerprint: str
    expires_at: float

    kind = "patient"
    is_staff = False
    is_active = True  # only active logins are cached
    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        return str(self.id)

    def can(self, permission: str) -> bool:
        return False


class IdentityCache:
    def __init__(self, max_entries: int = 20000):
        self._entries: dict[int, SignedInPatient] = {}
        self._lock = threading.Lock()
        self._max_entries = max_entries
        self.clock = time.monotonic

    def get(self, user_id: int) -> SignedInPatient | None:
        entry = self._entries.get(user_id)
        if entry is None or entry.expires_at < self.clock():
            return None
        return entry

    def remember(self, user: User, account_ids, seconds: int) -> SignedInPatient:
        entry = SignedInPatient(user.id, user.email, user.full_name, frozenset(account_ids),
                                users.password_fingerprint(user), self.clock() + seconds)
        with self._lock:
            if len(self._entries) >= self._max_entries:
                self._entries.clear()  # simpler than LRU bookkeeping; refilled on demand
            self._entries[user.id] = entry
        return entry

    def forget(self, user_id: int) -> None:
        with self._lock:
            self._entries.pop(user_id, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


patients = IdentityCache()
