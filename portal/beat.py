"""The beat scheduler Parity runs (`make beat`): Celery's own, with each due job sent once however many beat
processes run.

One beat process is the rule (see docs/deploy.md), but a second one appears in practice: a machine restarted
while its replacement is up, a unit copied to a second server. Jobs such as the statement run must not be sent
twice, so before sending, a beat takes the job's minute in Redis (SET NX, kept a day); whoever took it sends.
Without Redis (tasks run inline) there is nothing to share and every due job is sent.
"""
from datetime import datetime, timezone

import redis
from celery.beat import PersistentScheduler

LOCK_PREFIX = "parity:beat:"
LOCK_SECONDS = 24 * 3600


def slot_key(job_name: str, when: datetime) -> str:
    """The job's minute, in UTC so the key is the same on every machine and across daylight saving."""
    minute = when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M")
    return f"{LOCK_PREFIX}{job_name}:{minute}"


class OneBeatScheduler(PersistentScheduler):
    _redis = None

    def _client(self):
        url = self.app.conf.get("parity_redis_url")
        if url and self._redis is None:
            self._redis = redis.Redis.from_url(url)
        return self._redis

    def claim(self, job_name: str, when: datetime) -> bool:
        client = self._client()
        if client is None:
            return True
        return bool(client.set(slot_key(job_name, when), "sent", nx=True, ex=LOCK_SECONDS))

    def apply_async(self, entry, producer=None, advance=True, **kwargs):
        if not self.claim(entry.name, self.app.now()):
            if advance:
                self.reserve(entry)
            return None  # another beat sent this job for this minute
        return super().apply_async(entry, producer=producer, advance=advance, **kwargs)
