"""The soak with faults, short: a dozen guarantors paying through two real web servers while one server and
one worker are killed and started again; the end state must hold every invariant (bench/soak.py says which).

PostgreSQL only (the servers and workers share one database). Redis is the soak's own database
(SOAK_REDIS_URL, default 7), emptied at the start. With CI=true a missing Redis fails the run instead of
skipping it.
"""
import json
import time

import pytest
import redis

from bench import soak
from tests.conftest import CI

pytestmark = pytest.mark.postgres

@pytest.fixture
def soak_redis():
    try:
        redis.Redis.from_url(soak.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        message = f"Redis is not reachable at {soak.REDIS_URL}: {exc}"
        if CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return soak.REDIS_URL


def test_short_soak_with_a_server_and_a_worker_killed_keeps_every_invariant(soak_redis):
    started = time.monotonic()
    report = soak.Soak(soak.Sizes.short(), redis_url=soak_redis, keep_logs=False).run()
    failed = {name: check for name, check in report["invariants"].items() if not check["ok"]}
    summary = json.dumps({"failed": failed, "counts": report["counts"], "faults": report["faults"],
                          "driver_problems": report["driver_problems"],
                          "tracebacks": report["tracebacks_in_logs"]}, indent=1, default=str)
    assert not failed, summary
    # The faults really happened, and the work really was done through them.
    assert [f["what"] for f in report["faults"]] == ["SIGKILL", "restarted"], summary
    counts = report["counts"]
    assert counts["payment_intents_succeeded"] >= counts["guarantors"], summary
    assert counts["refunds_posted"] == counts["refunds_asked"] > 0, summary
    assert counts["plan_charges_succeeded"] == counts["plan_installments_due"], summary
    assert counts["statements_today"] > 0 and counts["insurance_payments"] == soak.Sizes.short().claims, summary
    assert counts["deliveries_accepted"] == 4 * counts["events"], summary  # twice to each server
    print(f"short soak: {time.monotonic() - started:.0f} s")
