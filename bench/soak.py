"""Soak test with faults: the whole installation under load, one web server and one worker killed mid-run.

Starts a fresh PostgreSQL database, the local Stripe emulator, two gunicorn servers on loopback ports, two
Celery workers and one beat, all from the repository's own entry points (gunicorn.conf.py, portal.worker) with
one shared environment. Then, at once: guarantors pay (signed in, or by the code on their statement; some with
3-D Secure, some clicking Pay twice so both servers get the request), every Stripe event is delivered twice to
each server in shuffled order (also while a server is down: refused deliveries are tried again, as Stripe
does), billers import 835 files and refund card payments (some forms sent twice), the plan charging and the
statement run are started twice each. Mid-run one worker and one web server (its whole process group) get
SIGKILL and are started again; the drivers go on against the other server meanwhile.

At the end, after the workers drained and the recovery jobs ran, the invariants are read straight from the
database, the emulator and Redis: each succeeded PaymentIntent and each refund has exactly one ledger posting,
nothing was charged, paid, stated or plan-charged twice, no card attempt or refund is left pending, no Celery
task is left unacknowledged, and `flask ledger check` is clean. Prints a JSON report: requests per route (count,
throughput, p95), the counts, the faults injected and each invariant.

    .venv/bin/python -m bench.soak [--guarantors 50] [--plans 10] [--claims 24] [--era-files 4] [--refunds 10]

Needs PostgreSQL (SOAK_POSTGRES_URL, else TEST_DATABASE_URL when it is PostgreSQL, else the local server) and
Redis (SOAK_REDIS_URL, default database 7: the soak empties it, so give it a database of its own).
tests/soak/test_soak_short.py runs the same code with small numbers.
"""
import argparse
import hashlib
import hmac
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import pyotp
import redis
import requests
import sqlalchemy as sa

from bench.proxy import free_port, wait_listening

ROOT = Path(__file__).resolve().parent.parent


def _postgres_base() -> str:
    test_url = os.environ.get("TEST_DATABASE_URL", "")
    return (os.environ.get("SOAK_POSTGRES_URL") or (test_url if test_url.startswith("postgresql") else None)
            or "postgresql+psycopg://postgres@127.0.0.1:5432/test")


REDIS_URL = os.environ.get("SOAK_REDIS_URL", "redis://127.0.0.1:6379/7")
SECRET_KEY_STRIPE, PUBLISHABLE_KEY, WEBHOOK_SECRET = "sk_test_soak", "pk_test_soak", "whsec_soak"
PASSWORD = "soak correct horse battery"
CARD_OK, CARD_3DS = "4242424242424242", "4000002500003155"
PAYER_EIN = "1999999999"
ZIP = "07081"
CELERY_QUEUE = "celery"
# The Redis transport keeps a task a worker took, until acknowledged, here (kombu's names).
UNACKED_HASH, UNACKED_INDEX = "unacked", "unacked_index"
PLAN_CLAIM_SECONDS = 10


@dataclass
class Sizes:
    """How much the soak does; `short()` is the form CI runs."""
    guarantors: int = 50
    plans: int = 10
    claims: int = 24
    era_files: int = 4
    refunds: int = 10
    web_workers: int = 2  # gunicorn worker processes per server
    web_threads: int = 4
    drivers: int = 10  # client threads paying at once
    down_seconds: float = 4.0  # how long the killed server and worker stay down
    settle_timeout: float = 300.0  # how long the end waits for webhooks, tasks and uploads to settle

    @classmethod
    def short(cls) -> "Sizes":
        return cls(guarantors=12, plans=3, claims=6, era_files=2, refunds=4, web_workers=1, web_threads=4,
                   drivers=6, down_seconds=3.0, settle_timeout=240.0)


# ---------------------------------------------------------------- figures per route


class RouteStats:
    """Each request's route (ids replaced by <id>), status and time; summarised as count, rate and p95."""

    ID = re.compile(r"/\d+(?=/|$)")

    def __init__(self):
        self._lock = threading.Lock()
        self._times: dict[str, list[float]] = defaultdict(list)
        self._statuses: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.server_errors: list[dict] = []
        self.started = time.monotonic()

    def record(self, method: str, path: str, status: int | str, seconds: float, body: str = "") -> None:
        """A request answered (status an int: its time counts) or not (a connection error: only counted)."""
        route = f"{method} {self.ID.sub('/<id>', path.split('?')[0])}"
        with self._lock:
            if isinstance(status, int):
                self._times[route].append(seconds)
            self._statuses[route][str(status)] += 1
            if isinstance(status, int) and status >= 500:
                self.server_errors.append({"route": route, "status": status, "body": body[:300]})

    def summary(self, seconds: float | None = None) -> dict:
        """Per route; the rate is over `seconds` (the driving phase), else since the start."""
        elapsed = max(seconds or time.monotonic() - self.started, 1e-9)
        with self._lock:
            return {route: {"route_is_emulator": " emulator " in f" {route} ", "count": len(self._times[route]),
                            "per_second": round(len(self._times[route]) / elapsed, 2),
                            "p95_ms": round(_percentile(self._times[route], 95) * 1000, 1),
                            "statuses": dict(statuses)}
                    for route, statuses in sorted(self._statuses.items())}


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(pct / 100 * len(ordered)) - 1)]


# ---------------------------------------------------------------- the processes


class Cluster:
    """The installation: database, emulator, two web servers, two workers, one beat; each process in its own
    process group so a SIGKILL takes its children with it."""

    def __init__(self, sizes: Sizes, redis_url: str = REDIS_URL, postgres_base: str | None = None):
        self.sizes = sizes
        self.redis_url = redis_url
        self.postgres_base = postgres_base or _postgres_base()
        self.folder = Path(tempfile.mkdtemp(prefix="parity-soak-"))
        self.database = f"soak_{uuid.uuid4().hex[:10]}"
        self.database_url = sa.engine.make_url(self.postgres_base).set(database=self.database).render_as_string(
            hide_password=False)
        self.emulator_port = free_port()
        self.emulator = f"http://127.0.0.1:{self.emulator_port}"
        self.web_ports = [free_port(), free_port()]
        self.bases = [f"http://127.0.0.1:{port}" for port in self.web_ports]
        self.processes: dict[str, subprocess.Popen] = {}
        # Which web servers the load balancer sends people to: a server leaves when it dies and comes back once
        # its /readyz answers (a restarted gunicorn accepts connections well before its app is loaded).
        self.in_rotation = [False, False]
        self._logs: list = []

    # -- environment

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "GUNICORN_", "PARITY_"))}
        documents, outbox = self.folder / "documents", self.folder / "outbox"
        documents.mkdir(exist_ok=True)
        outbox.mkdir(exist_ok=True)
        env.update(
            PARITY_ENV="development", CARD_PAYMENTS="true", LOG_FORMAT="text",
            DATABASE_URL=self.database_url, REDIS_URL=self.redis_url,
            SECRET_KEY="soak-" + self.database, SESSION_COOKIE_SECURE="false", MAIL_OUTBOX=str(outbox),
            DOCUMENT_STORE=str(documents), STRIPE_API_BASE=self.emulator, STRIPE_SECRET_KEY=SECRET_KEY_STRIPE,
            STRIPE_PUBLISHABLE_KEY=PUBLISHABLE_KEY, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET, BASE_URL=self.bases[0],
            PARITY_INSTANCE=str(self.folder / "instance"), WEB_CONCURRENCY=str(self.sizes.web_workers),
            GUNICORN_THREADS=str(self.sizes.web_threads), GUNICORN_LOG_LEVEL="warning",
            # Every client of the soak comes from one loopback address: the per-address limits that guard sign-in
            # and pay by link would refuse the second guarantor. (Per-account and per-code limits stay.)
            LOGIN_RATE_LIMIT="100000 per minute", PAY_LINK_IP_LIMIT="100000 per minute",
            PAY_LINK_CODE_LIMIT="1000 per hour", PYTHONUNBUFFERED="1",
            # A plan charge left by the killed worker is resumed once its claim lapses: seconds here, not minutes.
            PLAN_CLAIM_SECONDS=str(PLAN_CLAIM_SECONDS))
        return env

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "ab")  # noqa: SIM115  (kept open for the process's life)
        self._logs.append(log)
        process = subprocess.Popen(argv, cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes[name] = process
        return process

    def _run(self, argv: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(argv, cwd=ROOT, env=self.env(), capture_output=True, text=True, timeout=timeout)

    # -- the parts

    def create_database(self) -> None:
        engine = sa.create_engine(self.postgres_base, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{self.database}"'))
        engine.dispose()

    def drop_database(self) -> None:
        engine = sa.create_engine(self.postgres_base, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
        engine.dispose()

    def start_emulator(self) -> None:
        emulator = self._spawn("emulator", [sys.executable, "-m", "portal.stripe_emulator",
                                            "--port", str(self.emulator_port)])
        if not wait_listening(self.emulator_port, emulator, 30):
            raise RuntimeError("the Stripe emulator did not start")

    def release(self) -> None:
        """The release step, as a deploy runs it."""
        done = self._run([sys.executable, "-m", "flask", "--app", "portal", "db", "upgrade"])
        if done.returncode:
            raise RuntimeError(f"flask db upgrade failed: {done.stderr[-2000:]}")

    def start_web(self, index: int, *, wait: bool = True) -> None:
        port = self.web_ports[index]
        self._spawn(f"web{index}", [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
                                    "--bind", f"127.0.0.1:{port}", "portal.wsgi:app"])
        if wait:
            self.wait_web(index)

    def wait_web(self, index: int) -> None:
        """Until /readyz answers ok; then the server is in the rotation."""
        process = self.processes[f"web{index}"]
        deadline = time.time() + 120
        while time.time() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"web server {index} exited: {self.tail(f'web{index}')}")
            try:
                if requests.get(f"{self.bases[index]}/readyz", timeout=2).status_code == 200:
                    self.in_rotation[index] = True
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"web server {index} was not ready in 120 s: {self.tail(f'web{index}')}")

    def start_worker(self, index: int) -> None:
        self._spawn(f"worker{index}", [sys.executable, "-m", "celery", "-A", "portal.worker", "worker",
                                       "--loglevel", "INFO", "-c", "1", "-n", f"soak{index}@%h",
                                       "--without-gossip", "--without-mingle"])

    def start_beat(self) -> None:
        self._spawn("beat", [sys.executable, "-m", "celery", "-A", "portal.worker", "beat", "--loglevel", "INFO",
                             "-s", str(self.folder / "celerybeat-schedule")])

    def kill(self, name: str) -> None:
        """SIGKILL the process and every process of its group (gunicorn's or Celery's children too)."""
        process = self.processes[name]
        if name.startswith("web"):
            self.in_rotation[int(name[3:])] = False
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(10)

    def wait_workers(self, celery_app, names: list[str], timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            answered = celery_app.control.ping(timeout=1.0) or []
            seen = {name for reply in answered for name in reply}
            if all(any(s.startswith(n + "@") for s in seen) for n in names):
                return
            time.sleep(0.5)
        raise RuntimeError(f"workers {names} did not answer in {timeout} s: {self.tail('worker0')}")

    def ledger_check(self) -> dict:
        done = self._run([sys.executable, "-m", "flask", "--app", "portal", "ledger", "check", "--json"])
        try:
            payload = json.loads(done.stdout)
        except ValueError:
            payload = {"output": done.stdout[-2000:], "error": done.stderr[-2000:]}
        return {"exit_status": done.returncode, **payload}

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.folder / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def tracebacks(self) -> dict:
        """Tracebacks each process logged (a 500, a task that raised), with the last line of the first."""
        found = {}
        for path in sorted(self.folder.glob("*.log")):
            lines = path.read_text(errors="replace").splitlines()
            starts = [i for i, line in enumerate(lines) if line.startswith("Traceback")]
            if starts:
                first = next((line for line in lines[starts[0] + 1:] if line and not line.startswith(" ")), "")
                found[path.stem] = {"count": len(starts), "first": first[:300]}
        return found

    def stop(self) -> None:
        for name in list(self.processes):
            if self.processes[name].poll() is None:
                self.kill(name)
        for log in self._logs:
            log.close()


# ---------------------------------------------------------------- the records the soak works on


@dataclass
class Guarantor:
    account_id: int
    email: str
    code: str  # the statement code printed on the statement mailed before the soak
    date_of_birth: date
    by_link: bool
    three_ds: bool
    double_click: bool
    save_card: bool
    amount: str
    outcome: str = "not run"
    payment_id: int | None = None


@dataclass
class StaffLogin:
    email: str
    totp_secret: str


@dataclass
class Seeded:
    today: date
    guarantors: list[Guarantor]
    staff: list[StaffLogin]
    era_files: list[bytes]
    plan_installments: int
    claims: int


def seed(app, sizes: Sizes) -> Seeded:
    """Facility, guarantors with a patient balance, a login and a statement; plan accounts with a saved card and
    an installment due today; insured accounts with submitted claims and the 835 files that pay them; billers."""
    from portal import ledger, statements
    from portal.clock import facility_today
    from portal.extensions import db
    from portal.models import (
        Account,
        AccountAccess,
        BillingCode,
        Claim,
        ClaimLine,
        Coverage,
        Facility,
        Patient,
        Payer,
        PaymentPlan,
        PlanInstallment,
        SavedCard,
    )
    from portal.payments import gateway
    from portal.people import users
    from portal.remittances import x12

    with app.app_context():
        today = facility_today()
        users.ensure_default_roles()
        facility = Facility(name="Soak Health", neutral_name="Soak Health", statement_descriptor="SOAK HEALTH")
        code = BillingCode(code="S9480", description="Per diem", revenue_code="0905", kind="billable",
                           default_price_cents=90000)
        payer = Payer(name="Soak Payer", x12_payer_id=PAYER_EIN, payer_type="commercial")
        db.session.add_all([facility, code, payer])
        db.session.commit()

        def new_account(prefix: str, n: int) -> tuple[Account, Patient]:
            account = Account(facility_id=facility.id, number=f"{prefix}{n:04d}", guarantor_name=f"Soak {prefix}{n}",
                              email=f"{prefix.lower()}{n}@soak.example.org", zip_code=ZIP, statement_day=today.day)
            patient = Patient(account=account, mrn=f"{prefix}M{n:05d}", first_name="Soak", last_name=f"{prefix}{n}",
                              date_of_birth=date(1980, 1, 1) + timedelta(days=n), zip_code=ZIP)
            db.session.add_all([account, patient])
            db.session.flush()
            return account, patient

        guarantors = []
        for n in range(sizes.guarantors):
            account, patient = new_account("G", n)
            ledger.post_charge(account.id, patient_id=patient.id, billing_code_id=code.id,
                               service_date=today - timedelta(days=45), amount_cents=60000, responsibility="patient",
                               key=f"soak:charge:{n}", actor="soak")
            user = users.create_user(email=f"guarantor{n}@soak.example.org", full_name=account.guarantor_name,
                                     password=PASSWORD, kind="patient", actor="soak")
            db.session.add(AccountAccess(user_id=user.id, account_id=account.id))
            db.session.commit()
            statement, why = statements.issue(account, today - timedelta(days=30), actor="soak")
            assert statement is not None, why
            db.session.commit()
            guarantors.append(Guarantor(
                account.id, user.email, statement.code, patient.date_of_birth, by_link=n % 2 == 1,
                three_ds=n % 3 == 0, double_click=n % 5 == 0, save_card=n % 4 == 0, amount=f"{50 + n}.{n % 100:02d}"))

        installments = 0
        client = gateway._client()
        for n in range(sizes.plans):
            account, patient = new_account("P", n)
            ledger.post_charge(account.id, patient_id=patient.id, billing_code_id=code.id,
                               service_date=today - timedelta(days=45), amount_cents=90000, responsibility="patient",
                               key=f"soak:plan-charge:{n}", actor="soak")
            account.stripe_customer_id = gateway.create_customer(account.id)
            method = client.v1.payment_methods.create(params={
                "type": "card", "card": {"number": CARD_OK, "exp_month": 12, "exp_year": 2031, "cvc": "123"}}).id
            client.v1.payment_methods.attach(method, params={"customer": account.stripe_customer_id})
            card = SavedCard(account_id=account.id, payment_method_id=method, brand="visa", last4="4242",
                             exp_month=12, exp_year=2031)
            db.session.add(card)
            db.session.flush()
            plan = PaymentPlan(account_id=account.id, status="active", balance_cents=90000, down_payment_cents=0,
                               months=3, first_due_date=today, saved_card_id=card.id, created_by="soak")
            db.session.add(plan)
            db.session.flush()
            for k in range(3):
                due = today + timedelta(days=30 * k)
                db.session.add(PlanInstallment(plan_id=plan.id, sequence=k + 1, due_date=due, amount_cents=30000,
                                               status="scheduled", failures=0, next_attempt_on=due))
            installments += 1  # one is due today
            db.session.commit()

        service_day = today - timedelta(days=40)
        claim_payments = []
        for n in range(sizes.claims):
            account, patient = new_account("I", n)
            coverage = Coverage(patient=patient, payer=payer, member_id=f"SM{n}", start_date=date(2020, 1, 1))
            db.session.add(coverage)
            db.session.flush()
            charge = ledger.post_charge(account.id, patient_id=patient.id, billing_code_id=code.id,
                                        service_date=service_day, amount_cents=90000, coverage_id=coverage.id,
                                        responsibility="insurance", key=f"soak:claim-charge:{n}", actor="soak")
            control = f"SK{n:07d}"
            claim = Claim(control_number=control, account_id=account.id, patient_id=patient.id,
                          coverage_id=coverage.id, payer_id=payer.id, status="submitted", total_cents=90000)
            claim.lines.append(ClaimLine(line_number=1, charge_id=charge.id, procedure_code="S9480",
                                         revenue_code="0905", service_date=service_day, units=1, charge_cents=90000))
            db.session.add(claim)
            db.session.commit()
            line = x12.Line(1, "S9480", None, None, 90000, 52000, 1, service_day, adjustments=[
                x12.Cas("CO", "45", 25000), x12.Cas("PR", "1", 10000), x12.Cas("PR", "2", 3000)])
            claim_payments.append(x12.ClaimPayment(0, control, "1", 90000, 52000, 13000, f"PCN{n}", 0,
                                                   patient_name="SOAK PATIENT", member_id=f"SM{n}", lines=[line]))
        files = []
        per_file = max(1, math.ceil(len(claim_payments) / max(sizes.era_files, 1)))
        for k in range(sizes.era_files):
            chunk = claim_payments[k * per_file:(k + 1) * per_file]
            if not chunk:
                break
            for seq, item in enumerate(chunk, 1):
                item.sequence = seq
            files.append(x12.write(x12.Remit(52000 * len(chunk), "C", "ACH", today - timedelta(days=2),
                                             f"SOAKTRACE{k:04d}", PAYER_EIN, "SOAK PAYER", None, None, chunk)))

        staff = []
        for n in range(len(files) + 3):  # one login per biller session: a TOTP code is taken once
            secret = pyotp.random_base32()
            users.create_user(email=f"biller{n}@soak.example.org", full_name=f"Biller {n}", password=PASSWORD,
                              kind="staff", role_name="biller", actor="soak", totp_secret=secret)
            staff.append(StaffLogin(f"biller{n}@soak.example.org", secret))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return Seeded(today, guarantors, staff, files, installments, len(claim_payments))


# ---------------------------------------------------------------- clients


class Unavailable(Exception):
    """Neither server answered."""


class Browser:
    """One person's browser: a cookie session that works on either server (same SECRET_KEY, cookie sessions);
    a request that cannot reach its server goes to the other one, as a load balancer would send it."""

    CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')

    def __init__(self, cluster: Cluster, stats: RouteStats, prefer: int = 0):
        self.session = requests.Session()
        self.cluster, self.bases, self.stats, self.prefer = cluster, cluster.bases, stats, prefer
        self.failovers = 0

    def _server(self, attempt: int, server: int | None) -> int:
        """The server named (a request sent to each server on purpose), else the preferred one while it is in
        the rotation; after a failure, the other one."""
        if server is not None:
            return server if attempt % 2 == 0 else 1 - server
        chosen = self.prefer if self.cluster.in_rotation[self.prefer] else 1 - self.prefer
        return chosen if attempt % 2 == 0 else 1 - chosen

    def request(self, method: str, path: str, *, server: int | None = None, tries: int = 40, **kwargs):
        """A failed connection, or an answer that never came (the server died, or is swamped), is sent again,
        to the other server first: every step the soak takes is safe to repeat (attempt ids, form tokens)."""
        kwargs.setdefault("timeout", 60)
        kwargs.setdefault("allow_redirects", False)
        for attempt in range(tries):
            base = self.bases[self._server(attempt, server)]
            start = time.monotonic()
            try:
                response = self.session.request(method, base + path, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                failure = "timeout" if isinstance(exc, requests.Timeout) else "connection error"
                self.stats.record(method, path, failure, time.monotonic() - start)
                self.failovers += 1
                time.sleep(0.25 * (attempt // 2))
                continue
            self.stats.record(method, path, response.status_code, time.monotonic() - start,
                              response.text if response.status_code >= 500 else "")
            if response.status_code in (502, 503, 504):
                time.sleep(0.5)
                continue
            return response
        raise Unavailable(f"{method} {path}")

    def csrf(self, path: str) -> str:
        page = self.request("GET", path)
        match = self.CSRF.search(page.text)
        if not match:
            raise AssertionError(f"no CSRF token on {path} ({page.status_code})")
        return match.group(1) or match.group(2)

    def post_json(self, path: str, body: dict, csrf: str, **kwargs) -> tuple[int, dict]:
        response = self.request("POST", path, json=body, headers={"X-CSRFToken": csrf}, **kwargs)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, {"status": "error", "body": response.text[:300]}

    def staff_login(self, login: StaffLogin) -> None:
        """Password, then the TOTP code. A code is taken once: if the answer to the first try was lost (its
        server died), the next code is typed, as a person would after waiting for it."""
        token = self.csrf("/staff/login")
        response = self.request("POST", "/staff/login", data={"csrf_token": token, "email": login.email,
                                                              "password": PASSWORD})
        if response.status_code != 302:
            raise AssertionError(f"staff sign-in refused {login.email}: {response.status_code}")
        totp = pyotp.TOTP(login.totp_secret)
        for _try in range(3):
            token = self.csrf("/staff/login/totp")
            response = self.request("POST", "/staff/login/totp", data={"csrf_token": token, "code": totp.now()})
            if response.status_code == 302 and "/staff/login" not in response.headers["Location"]:
                return
            time.sleep(totp.interval - time.time() % totp.interval + 0.5)
        raise AssertionError(f"TOTP refused three times for {login.email}: {response.status_code}")


class Emulator:
    """What Stripe.js does in the browser, and the API lists the checks read, over HTTP to the emulator."""

    def __init__(self, base: str, stats: RouteStats):
        self.base, self.stats = base, stats

    def _call(self, method: str, path: str, route: str, **kwargs) -> dict:
        start = time.monotonic()
        response = requests.request(method, self.base + path, timeout=30, **kwargs)  # many threads: no shared session
        self.stats.record(method, f"emulator {route}", response.status_code, time.monotonic() - start)
        response.raise_for_status()
        return response.json()

    def save_card(self, setup_client_secret: str, number: str, customer_kept: bool) -> str:
        """confirmCardSetup; the card is attached to the customer when the SetupIntent was made for one (the
        emulator does not attach it itself)."""
        setup_id = setup_client_secret.split("_secret_")[0]
        body = {"key": PUBLISHABLE_KEY, "use_stripe_sdk": True, "client_secret": setup_client_secret,
                "payment_method_data": {"type": "card", "card": {"number": number, "exp_month": "12",
                                                                  "exp_year": "2031", "cvc": "123"},
                                        "billing_details": {"address": {"postal_code": ZIP}}}}
        path = f"/v1/setup_intents/{setup_id}/confirm"
        result = self._call("POST", path, "confirm setup", json=body)
        if result["status"] == "requires_action":
            result = self._call("POST", path, "confirm setup",
                                json={"key": PUBLISHABLE_KEY, "use_stripe_sdk": True,
                                      "client_secret": setup_client_secret})
        if customer_kept and result.get("customer"):
            self._call("POST", f"/v1/payment_methods/{result['payment_method']}/attach", "attach",
                       data={"customer": result["customer"]}, headers=self._auth())
        return result["payment_method"]

    def authenticate(self, payment_client_secret: str) -> dict:
        intent_id = payment_client_secret.split("_secret_")[0]
        return self._call("POST", f"/v1/payment_intents/{intent_id}/_authenticate?success=true", "3-D Secure",
                          json={"key": PUBLISHABLE_KEY, "client_secret": payment_client_secret})

    def _auth(self) -> dict:
        return {"Authorization": f"Bearer {SECRET_KEY_STRIPE}"}

    def list_all(self, kind: str) -> list[dict]:
        """Every object of a kind (lists are oldest first, 100 a page)."""
        found, after = [], None
        while True:
            query = f"/v1/{kind}?limit=100" + (f"&starting_after={after}" if after else "")
            page = self._call("GET", query, f"list {kind}", headers=self._auth())
            found += page["data"]
            if not page.get("has_more") or not page["data"]:
                return found
            after = page["data"][-1]["id"]


# ---------------------------------------------------------------- webhooks as Stripe sends them


def sign(payload: bytes, secret: str = WEBHOOK_SECRET) -> str:
    stamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


class WebhookSender:
    """Every event the emulator made, delivered twice to each server, in shuffled order; a delivery that fails
    (server down, 5xx) is tried again later, as Stripe retries."""

    def __init__(self, emulator: Emulator, bases: list[str], stats: RouteStats):
        self.emulator, self.bases, self.stats = emulator, bases, stats
        self.seen: set[str] = set()
        self.pending: list[tuple[str, int, bytes]] = []  # (event id, server, body)
        self.delivered = 0
        self.refused = 0
        self.by_status: dict[str, int] = defaultdict(int)
        self._random = random.Random(7)

    def collect(self) -> int:
        new = 0
        for event in self.emulator.list_all("events"):
            if event["id"] in self.seen:
                continue
            self.seen.add(event["id"])
            body = json.dumps(event).encode()
            self.pending += [(event["id"], server, body) for server in (0, 1) for _ in range(2)]
            new += 1
        self._random.shuffle(self.pending)
        return new

    def deliver_some(self, limit: int = 40) -> None:
        batch, self.pending = self.pending[:limit], self.pending[limit:]
        for event_id, server, body in batch:
            path = "/webhooks/stripe"
            start = time.monotonic()
            try:
                response = requests.post(self.bases[server] + path, data=body, timeout=30, headers={
                    "Stripe-Signature": sign(body), "Content-Type": "application/json"})
            except requests.RequestException as exc:  # refused, or no answer in time: Stripe tries again
                failure = "timeout" if isinstance(exc, requests.Timeout) else "connection error"
                self.stats.record("POST", path, failure, time.monotonic() - start)
                self.refused += 1
                self.pending.append((event_id, server, body))
                continue
            self.stats.record("POST", path, response.status_code, time.monotonic() - start,
                              response.text if response.status_code >= 500 else "")
            self.by_status[str(response.status_code)] += 1
            if response.status_code >= 300:
                self.refused += 1
                if response.status_code >= 500:
                    self.pending.append((event_id, server, body))
                continue
            self.delivered += 1


# ---------------------------------------------------------------- what the people do


class Soak:
    def __init__(self, sizes: Sizes, *, redis_url: str = REDIS_URL, postgres_base: str | None = None,
                 keep: bool = False, keep_logs: bool = True):
        self.sizes = sizes
        self.cluster = Cluster(sizes, redis_url, postgres_base)
        self.stats = RouteStats()
        self.emulator = Emulator(self.cluster.emulator, self.stats)
        self.keep, self.keep_logs = keep, keep_logs
        self.faults: list[dict] = []
        self.problems: list[str] = []  # driver-side surprises (refused forms, unexpected answers)
        self.paid_payments: list[tuple[int, int, int]] = []  # (account id, payment id, amount cents) to refund
        self.refunds_asked = 0
        self.uploads: list[int] = []
        self._lock = threading.Lock()
        self._progress = 0
        self._halfway = threading.Event()
        self._stop_webhooks = threading.Event()
        self.app = None

    # -- setup

    def start(self) -> None:
        cluster = self.cluster
        redis.Redis.from_url(cluster.redis_url).flushdb()  # the soak's own database: no task of another run
        cluster.create_database()
        cluster.start_emulator()
        cluster.release()
        self.app = self._app()
        self.seeded = seed(self.app, self.sizes)
        for index in (0, 1):
            cluster.start_worker(index)
        cluster.start_beat()
        for index in (0, 1):
            cluster.start_web(index, wait=False)
        for index in (0, 1):
            cluster.wait_web(index)
        cluster.wait_workers(self.celery, ["soak0", "soak1"])
        self.stats.started = time.monotonic()

    def _app(self):
        """A Parity app in this process on the soak's database, for seeding and for sending tasks."""
        from portal import create_app
        from portal.config import DevConfig

        config = DevConfig()
        for key, value in {
            "SQLALCHEMY_DATABASE_URI": self.cluster.database_url, "REDIS_URL": self.cluster.redis_url,
            "RATELIMIT_STORAGE_URI": self.cluster.redis_url, "STRIPE_API_BASE": self.cluster.emulator,
            "STRIPE_SECRET_KEY": SECRET_KEY_STRIPE, "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "MAIL_SERVER": None,
            "MAIL_OUTBOX": str(self.cluster.folder / "outbox"),
            "DOCUMENT_STORE": str(self.cluster.folder / "documents"), "SECRET_KEY": "soak-seed",
            "CARD_PAYMENTS": True, "LOG_FORMAT": "text",  # text: this process's own logging is left as it is
        }.items():
            setattr(config, key, value)
        return create_app(config)

    @property
    def celery(self):
        return self.app.extensions["celery"]

    def stop(self) -> None:
        self.cluster.stop()
        if self.app is not None:
            from portal.extensions import db

            with self.app.app_context():
                db.session.remove()
                db.engine.dispose()
        if not self.keep:
            self.cluster.drop_database()
        if not self.keep_logs:
            shutil.rmtree(self.cluster.folder, ignore_errors=True)

    # -- drivers

    def _done_one(self) -> None:
        with self._lock:
            self._progress += 1
            if self._progress >= max(1, len(self.seeded.guarantors) * 0.3):
                self._halfway.set()

    def pay(self, who: Guarantor, index: int) -> None:
        # Signed-in payers and payers by link both start on either server (as a load balancer spreads them).
        browser = Browser(self.cluster, self.stats, prefer=(index // 2) % 2)
        try:
            self._pay(browser, who)
        except Unavailable as exc:
            who.outcome = f"unavailable: {exc}"
        except Exception as exc:  # the report names it; the soak goes on
            who.outcome = f"error: {type(exc).__name__}: {exc}"[:300]
        finally:
            self._done_one()

    def _pay(self, browser: Browser, who: Guarantor) -> None:
        if who.by_link:
            token = browser.csrf("/pay")
            found = browser.request("POST", "/pay", data={
                "csrf_token": token, "code": who.code, "date_of_birth": f"{who.date_of_birth:%m/%d/%Y}",
                "zip_code": ZIP})
            if found.status_code != 302:
                raise AssertionError(f"pay by link refused the statement details: {found.status_code}")
            base, page = "/pay/statement", "/pay/statement"
        else:
            token = browser.csrf("/login")
            signed_in = browser.request("POST", "/login", data={"csrf_token": token, "email": who.email,
                                                                "password": PASSWORD})
            if signed_in.status_code != 302:
                raise AssertionError(f"sign-in refused: {signed_in.status_code}")
            base = page = f"/accounts/{who.account_id}/pay"
        csrf = browser.csrf(page)
        save = who.save_card and not who.by_link
        status, started = browser.post_json(f"{base}/start", {"token": uuid.uuid4().hex, "amount": who.amount,
                                                               "save_card": save}, csrf)
        if status != 200:
            raise AssertionError(f"start refused ({status}): {started}")
        method = self.emulator.save_card(started["setup_client_secret"], CARD_3DS if who.three_ds else CARD_OK,
                                         customer_kept=save)
        body = {"attempt_id": started["attempt_id"], "payment_method_id": method}
        if who.double_click:  # the Pay button pressed twice: one request reaches each server
            with ThreadPoolExecutor(2) as both:
                answers = list(both.map(lambda server: browser.post_json(f"{base}/confirm", body, csrf,
                                                                         server=server), (0, 1)))
            outcome = next((a for s, a in answers if a.get("status") == "succeeded"), None) or \
                next((a for s, a in answers if a.get("status") == "requires_action"), answers[0][1])
        else:
            _status, outcome = browser.post_json(f"{base}/confirm", body, csrf)
        if outcome.get("status") == "requires_action":
            self.emulator.authenticate(outcome["client_secret"])
            _status, outcome = browser.post_json(f"{base}/complete", {"attempt_id": started["attempt_id"]}, csrf)
        who.outcome = outcome.get("status", "unknown")
        if who.outcome != "succeeded":
            with self._lock:
                self.problems.append(f"guarantor {who.email}: {outcome}")
            return
        receipt = browser.request("GET", outcome["redirect"])
        if receipt.status_code != 200:
            self.problems.append(f"receipt {outcome['redirect']} answered {receipt.status_code}")
        who.payment_id = int(re.search(r"/(?:payments|receipt)/(\d+)", outcome["redirect"]).group(1))
        with self._lock:
            self.paid_payments.append((who.account_id, who.payment_id, _cents(who.amount)))

    def import_835(self, login: StaffLogin, content: bytes, name: str, prefer: int) -> None:
        browser = Browser(self.cluster, self.stats, prefer=prefer)
        try:
            browser.staff_login(login)
            token = browser.csrf("/staff/remittances/upload")
            response = browser.request("POST", "/staff/remittances/upload", data={"csrf_token": token},
                                       files={"file": (name, content, "application/octet-stream")})
            if response.status_code != 302:
                raise AssertionError(f"upload answered {response.status_code}")
            upload_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
            with self._lock:
                self.uploads.append(upload_id)
            deadline = time.time() + self.sizes.settle_timeout
            while time.time() < deadline:
                status = browser.request("GET", f"/staff/remittances/uploads/{upload_id}/status").json()["status"]
                if status not in ("queued", "running"):
                    return
                time.sleep(0.5)
        except Exception as exc:
            with self._lock:
                self.problems.append(f"835 upload {name}: {type(exc).__name__}: {exc}"[:300])

    def refund_payments(self, login: StaffLogin, prefer: int, share: int, of: int) -> None:
        """A biller refunds $10 of card payments as they come in; every other form is sent twice at once (one
        to each server): one refund either way."""
        browser = Browser(self.cluster, self.stats, prefer=prefer)
        try:
            browser.staff_login(login)
            done, deadline = 0, time.time() + self.sizes.settle_timeout
            wanted = len(range(share, self.sizes.refunds, of))
            while done < wanted and time.time() < deadline:
                with self._lock:
                    mine = [p for i, p in enumerate(self.paid_payments) if i % of == share]
                if len(mine) <= done:
                    time.sleep(0.5)
                    continue
                account_id, payment_id, _amount = mine[done]
                csrf = browser.csrf(f"/staff/accounts/{account_id}")
                form = {"csrf_token": csrf, "amount": "10.00", "reason": "Soak refund", "token": uuid.uuid4().hex}
                path = f"/staff/accounts/{account_id}/payments/{payment_id}/refund"
                if done % 2 == 0:
                    with ThreadPoolExecutor(2) as both:
                        answers = list(both.map(
                            lambda s, path=path, form=form: browser.request("POST", path, data=form, server=s), (0, 1)))
                else:
                    answers = [browser.request("POST", path, data=form)]
                if any(a.status_code != 302 for a in answers):
                    self.problems.append(f"refund of payment {payment_id}: {[a.status_code for a in answers]}")
                with self._lock:
                    self.refunds_asked += 1
                done += 1
        except Exception as exc:
            with self._lock:
                self.problems.append(f"refunds by {login.email}: {type(exc).__name__}: {exc}"[:300])

    def start_jobs(self) -> list:
        """The plan charging and the statement run for today, each sent twice (one per worker, at once)."""
        today = self.seeded.today.isoformat()
        return [self.celery.send_task(name, kwargs={"as_of": today})
                for name in ("portal.tasks.plans_daily", "portal.tasks.statements_daily") for _ in range(2)]

    def inject_faults(self) -> None:
        """When a third of the guarantors are through: the nightly jobs start, and then one worker and one web
        server die at once; both are started again after a few seconds."""
        self._halfway.wait(timeout=self.sizes.settle_timeout)
        self.jobs = self.start_jobs()
        time.sleep(0.5)
        killed_at = time.monotonic()
        self.cluster.kill("worker0")
        self.cluster.kill("web0")
        self.faults.append({"what": "SIGKILL", "processes": ["worker0 (celery, its process group)",
                                                             "web0 (gunicorn master and its workers)"],
                            "at_seconds": round(killed_at - self.stats.started, 1)})
        time.sleep(self.sizes.down_seconds)
        self.cluster.start_worker(0)
        self.cluster.start_web(0)
        self.faults.append({"what": "restarted", "processes": ["worker0", "web0"],
                            "down_seconds": round(time.monotonic() - killed_at, 1)})

    def send_webhooks(self, sender: WebhookSender) -> None:
        while not self._stop_webhooks.is_set():
            try:
                sender.collect()
                sender.deliver_some()
            except requests.RequestException as exc:
                self.problems.append(f"webhook sender: {exc}"[:300])
            self._stop_webhooks.wait(0.5)

    # -- the run

    def drive(self) -> dict:
        sizes, seeded = self.sizes, self.seeded
        sender = WebhookSender(self.emulator, self.cluster.bases, self.stats)
        background = ThreadPoolExecutor(2 + len(seeded.era_files) + 2)
        webhooks = background.submit(self.send_webhooks, sender)
        faults = background.submit(self.inject_faults)
        work = [background.submit(self.import_835, seeded.staff[k], content, f"soak-{k}.835", k % 2)
                for k, content in enumerate(seeded.era_files)]
        refunders = 2
        work += [background.submit(self.refund_payments, seeded.staff[len(seeded.era_files) + r], r % 2, r,
                                   refunders) for r in range(refunders)]
        with ThreadPoolExecutor(sizes.drivers) as payers:
            list(payers.map(self.pay, seeded.guarantors, range(len(seeded.guarantors))))
        faults.result()
        wait(work)
        # The same 835 once more, after the first import of it finished: refused as a duplicate, nothing posted.
        if seeded.era_files:
            self.import_835(seeded.staff[-1], seeded.era_files[0], "soak-0-again.835", 1)
        driving_seconds = time.monotonic() - self.stats.started
        self._settle(sender)
        self._stop_webhooks.set()
        webhooks.result()
        background.shutdown()
        return {"driving_seconds": round(driving_seconds, 1), "webhooks": {
            "events": len(sender.seen), "deliveries_accepted": sender.delivered,
            "deliveries_refused_or_failed": sender.refused, "answers": dict(sender.by_status)}}

    def _settle(self, sender: WebhookSender) -> None:
        """Stripe's retries until every delivery was taken; the workers drain; what a killed worker held is
        handed out again (as the broker does once its visibility timeout passes); the recovery jobs run; the
        nightly jobs run once more (a rerun must change nothing); drain again."""
        deadline = time.time() + self.sizes.settle_timeout
        while time.time() < deadline:
            sender.collect()
            if not sender.pending:
                break
            sender.deliver_some(200)
            time.sleep(0.2)
        self.drain(deadline)
        # Claims on plan installments taken by the killed worker lapse before the rerun (see PLAN_CLAIM_SECONDS).
        killed_at = self.stats.started + self.faults[0]["at_seconds"] if self.faults else 0
        time.sleep(max(0.0, killed_at + PLAN_CLAIM_SECONDS + 1 - time.monotonic()))
        self.restored = self.restore_unacked()
        for name in ("portal.tasks.requeue_stripe_events", "portal.tasks.settle_card_refunds"):
            self.celery.send_task(name, kwargs={"older_than_minutes": 0})
        self.start_jobs()
        self.drain(deadline)
        sender.collect()  # plan charges made by the rerun (none, if nothing was charged twice) send events too
        while sender.pending and time.time() < deadline:
            sender.deliver_some(200)
        self.drain(deadline)

    def drain(self, deadline: float) -> None:
        client = redis.Redis.from_url(self.cluster.redis_url)
        quiet = 0
        while time.time() < deadline:
            inspect = self.celery.control.inspect(timeout=1.0)
            busy = sum(len(v) for v in (inspect.active() or {}).values()) + \
                sum(len(v) for v in (inspect.reserved() or {}).values())
            if client.llen(CELERY_QUEUE) == 0 and busy == 0:
                quiet += 1
                if quiet >= 2:
                    return
            else:
                quiet = 0
            time.sleep(0.5)

    def restore_unacked(self) -> int:
        """Tasks a killed worker had taken and never acknowledged: put back on the queue, as the Redis
        transport does after the visibility timeout (hours here: the soak does not wait)."""
        client = redis.Redis.from_url(self.cluster.redis_url)
        tags = list(client.hkeys(UNACKED_HASH))
        if not tags:
            return 0
        with self.celery.connection_for_write() as connection:
            qos = connection.default_channel.qos
            for tag in tags:
                qos.restore_by_tag(tag.decode(), leftmost=True)
        return len(tags)

    def run(self) -> dict:
        try:
            began = time.monotonic()
            self.start()
            started = time.monotonic()
            driven = self.drive()
            driven["setup_seconds"] = round(started - began, 1)
            driven["settle_seconds"] = round(time.monotonic() - started - driven["driving_seconds"], 1)
            report = self.report(driven)
        finally:
            self.stop()
        return report

    # -- the end state

    def report(self, driven: dict) -> dict:
        routes = self.stats.summary(driven["driving_seconds"])
        answered = sum(r["count"] for r in routes.values() if not r["route_is_emulator"])
        checks = check_invariants(self.cluster.database_url, self.emulator, self.cluster.redis_url,
                                  outbox=self.cluster.folder / "outbox", era_files=len(set(self.seeded.era_files)))
        ledger_check = self.cluster.ledger_check()
        checks["ledger_check_clean"] = {"ok": ledger_check["exit_status"] == 0 and ledger_check.get("ok") is True,
                                        "accounts_checked": ledger_check.get("accounts_checked"),
                                        "problems": ledger_check.get("problems", ledger_check.get("error"))}
        errors = self.stats.server_errors
        checks["no_server_errors"] = {"ok": not errors, "count": len(errors), "first": errors[:5]}
        outcomes: dict[str, int] = defaultdict(int)
        for who in self.seeded.guarantors:
            outcomes[who.outcome] += 1
        checks["every_guarantor_paid"] = {"ok": outcomes.get("succeeded", 0) == len(self.seeded.guarantors),
                                          "outcomes": dict(outcomes)}
        counts = checks.pop("_counts")
        counts.update(guarantors=len(self.seeded.guarantors), refunds_asked=self.refunds_asked,
                      era_files=len(self.seeded.era_files), era_uploads=len(self.uploads),
                      plan_installments_due=self.seeded.plan_installments,
                      unacked_tasks_restored=getattr(self, "restored", 0), **driven.pop("webhooks"))
        return {"sizes": asdict(self.sizes), **driven,
                "requests_to_parity_per_second": round(answered / max(driven["driving_seconds"], 1e-9), 1),
                "routes": routes, "counts": counts, "faults": self.faults,
                "invariants": checks, "ok": all(c["ok"] for c in checks.values()),
                "driver_problems": self.problems[:20], "tracebacks_in_logs": self.cluster.tracebacks()}


def _cents(text: str) -> int:
    dollars, cents = text.split(".")
    return int(dollars) * 100 + int(cents)


def check_invariants(database_url: str, emulator: Emulator, redis_url: str, *, outbox: Path | None = None,
                     era_files: int | None = None) -> dict:
    """The end state, read from the database, the emulator and Redis (not through the app). Each soak guarantor
    pays once, so a Stripe customer with two card payments was charged twice; `era_files` distinct 835 files
    were uploaded (one of them twice); `outbox` is the folder the mail went to."""
    engine = sa.create_engine(database_url)
    checks: dict = {}
    try:
        with engine.connect() as conn:
            def rows(sql: str, **params) -> list:
                return list(conn.execute(sa.text(sql), params))

            intents = emulator.list_all("payment_intents")
            succeeded = {i["id"]: i for i in intents if i["status"] == "succeeded"}
            card_payments = rows("SELECT p.reference, p.amount_cents, count(*) OVER (PARTITION BY p.reference), "
                                 "po.idempotency_key FROM payments p JOIN postings po ON po.id = p.posting_id "
                                 "WHERE p.method = 'card'")
            by_intent: dict[str, list] = defaultdict(list)
            for reference, amount, _n, key in card_payments:
                by_intent[reference].append((amount, key))
            unmatched = [i for i in succeeded if len(by_intent.get(i, [])) != 1]
            wrong_amount = [i for i, posted in by_intent.items() if i in succeeded
                            and any(a != succeeded[i]["amount"] or k != f"stripe:{i}" for a, k in posted)]
            orphans = [ref for ref in by_intent if ref not in succeeded]
            checks["each_payment_intent_one_posting"] = {
                "ok": not unmatched and not wrong_amount and not orphans, "succeeded_intents": len(succeeded),
                "without_exactly_one_posting": unmatched[:10], "amount_or_key_differs": wrong_amount[:10],
                "postings_without_a_succeeded_intent": orphans[:10]}

            # One PaymentIntent per card attempt and per plan charge attempt (the emulator does not replay
            # idempotency keys as Stripe does, so a second one here is a second create call from us).
            per_attempt: dict[tuple[str, str], list[str]] = defaultdict(list)
            for intent in intents:
                meta = intent.get("metadata") or {}
                for marker in ("parity_plan_attempt", "parity_card_payment"):
                    if marker in meta:
                        per_attempt[(marker, meta[marker])].append(intent["id"])
                        break
            doubled = {f"{m}={v}": ids for (m, v), ids in per_attempt.items() if len(ids) > 1}
            per_customer: dict[str, list[str]] = defaultdict(list)
            for intent in succeeded.values():
                if "parity_card_payment" in (intent.get("metadata") or {}):
                    per_customer[intent.get("customer")].append(intent["id"])
            charged_twice = {customer: ids for customer, ids in per_customer.items() if len(ids) > 1}
            checks["no_duplicate_charge"] = {
                "ok": not doubled and not charged_twice, "intents_per_attempt_over_one": doubled,
                "guarantors_charged_twice": charged_twice,
                "intents_left_unfinished": sorted({i["status"] for i in intents} - {"succeeded"})}

            refunds = emulator.list_all("refunds")
            stripe_refunds = {r["id"]: r for r in refunds if r["status"] == "succeeded"}
            posted = rows("SELECT stripe_refund_id, amount_cents FROM refunds WHERE method = 'card'")
            posted_by_id: dict[str, list[int]] = defaultdict(list)
            for refund_id, amount in posted:
                posted_by_id[refund_id].append(amount)
            refund_unmatched = [r for r in stripe_refunds if posted_by_id.get(r) != [stripe_refunds[r]["amount"]]]
            refund_orphans = [r for r in posted_by_id if r not in stripe_refunds]
            checks["each_refund_one_posting"] = {"ok": not refund_unmatched and not refund_orphans,
                                                 "stripe_refunds": len(stripe_refunds),
                                                 "without_exactly_one_posting": refund_unmatched[:10],
                                                 "postings_without_a_stripe_refund": refund_orphans[:10]}

            duplicate_payments = rows("SELECT reference, count(*) FROM payments WHERE reference IS NOT NULL "
                                      "AND method = 'card' GROUP BY reference HAVING count(*) > 1")
            checks["no_duplicate_payment"] = {"ok": not duplicate_payments,
                                              "references": [tuple(r) for r in duplicate_payments]}
            duplicate_statements = rows("SELECT account_id, statement_date, count(*) FROM statements "
                                        "GROUP BY account_id, statement_date HAVING count(*) > 1")
            checks["no_duplicate_statement"] = {"ok": not duplicate_statements,
                                                "duplicates": [tuple(map(str, r)) for r in duplicate_statements]}
            duplicate_plan = rows(
                "SELECT installment_id, count(*) FROM plan_charge_attempts WHERE status = 'succeeded' "
                "GROUP BY installment_id HAVING count(*) > 1")
            plan_payments = rows("SELECT i.id, count(p.id) FROM plan_installments i JOIN plan_charge_attempts a "
                                 "ON a.installment_id = i.id AND a.status = 'succeeded' JOIN payments p "
                                 "ON p.reference = a.payment_intent_id GROUP BY i.id HAVING count(p.id) > 1")
            checks["no_duplicate_plan_charge"] = {"ok": not duplicate_plan and not plan_payments,
                                                  "installments_charged_twice": [tuple(r) for r in duplicate_plan],
                                                  "installments_paid_twice": [tuple(r) for r in plan_payments]}

            pending_cards = rows("SELECT id, status, payment_intent_id FROM card_payments WHERE "
                                 "status = 'requires_action' OR (status = 'started' AND payment_intent_id IS NOT NULL)")
            never_confirmed = rows("SELECT id FROM card_payments WHERE status = 'started' "
                                   "AND payment_intent_id IS NULL")
            pending_refunds = rows("SELECT id FROM card_refunds WHERE status = 'pending'")
            open_plan = rows("SELECT id FROM plan_charge_attempts WHERE status = 'started'")
            checks["nothing_left_pending"] = {
                "ok": not pending_cards and not pending_refunds and not open_plan,
                "card_attempts_charging": [tuple(r) for r in pending_cards],
                "card_refunds_pending": [r[0] for r in pending_refunds],
                "plan_charges_started": [r[0] for r in open_plan],
                "card_attempts_never_confirmed": [r[0] for r in never_confirmed]}

            events = rows("SELECT status, count(*) FROM stripe_events GROUP BY status")
            event_ids = {r[0] for r in rows("SELECT event_id FROM stripe_events")}
            made = {e["id"] for e in emulator.list_all("events")}
            event_counts = dict(events)
            event_errors = [f"{kind} {event_id}: {error}" for kind, event_id, error in rows(
                "SELECT event_type, event_id, error FROM stripe_events WHERE status IN ('failed', 'received')")]
            checks["every_event_stored_once_and_processed"] = {
                "ok": made <= event_ids and not event_counts.get("received") and not event_counts.get("failed"),
                "emulator_events": len(made), "stored": len(event_ids), "by_status": event_counts,
                "not_stored": sorted(made - event_ids)[:10], "failed_or_left": event_errors[:10]}

            uploads = rows("SELECT status, count(*) FROM era_uploads GROUP BY status")
            remittances = rows("SELECT content_hash, count(*) FROM remittances GROUP BY content_hash")
            stuck_uploads = {s: n for s, n in uploads if s in ("queued", "running")}
            checks["era_imports_finished_once"] = {
                "ok": not stuck_uploads and (era_files is None or len(remittances) == era_files),
                "uploads_by_status": dict(uploads), "remittances": len(remittances)}

            if outbox is not None:
                checks["no_mail_sent_twice"] = _mail_sent_twice(outbox)

            client = redis.Redis.from_url(redis_url)
            queued, unacked = client.llen(CELERY_QUEUE), client.hlen(UNACKED_HASH)
            checks["no_task_stuck"] = {"ok": queued == 0 and unacked == 0, "queued": queued, "unacknowledged": unacked}

            counts = {
                "card_payments_posted": len(card_payments),
                "payment_intents": len(intents), "payment_intents_succeeded": len(succeeded),
                "refunds_posted": len(posted), "stripe_refunds": len(refunds),
                "statements": rows("SELECT count(*) FROM statements")[0][0],
                "statements_today": rows("SELECT count(*) FROM statements WHERE created_by LIKE 'task:%'")[0][0],
                "plan_charges_succeeded": rows("SELECT count(*) FROM plan_charge_attempts "
                                               "WHERE status = 'succeeded'")[0][0],
                "insurance_payments": rows("SELECT count(*) FROM payments WHERE source = 'insurance'")[0][0],
                "stripe_events_stored": len(event_ids),
            }
            checks["_counts"] = counts
    finally:
        engine.dispose()
    return checks


def _mail_sent_twice(outbox: Path) -> dict:
    """Two messages to one address with one subject: a statement notice or a receipt mailed twice (receipts
    name their number in the subject or body, so only a true repeat matches)."""
    from email import message_from_bytes, policy

    seen: dict[tuple, int] = defaultdict(int)
    for path in outbox.glob("*.eml"):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        body = message.get_body(("plain",))
        seen[(message["To"], message["Subject"], body.get_content() if body else "")] += 1
    twice = [{"to": to, "subject": subject, "times": n} for (to, subject, _b), n in seen.items() if n > 1]
    return {"ok": not twice, "messages": sum(seen.values()), "sent_more_than_once": twice[:10]}


def main() -> None:
    defaults = Sizes()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in ("guarantors", "plans", "claims", "era_files", "refunds", "web_workers", "drivers"):
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(defaults, name))
    parser.add_argument("--short", action="store_true", help="the small form CI runs")
    parser.add_argument("--keep-database", action="store_true", help="leave the soak database for a look after")
    args = parser.parse_args()
    sizes = Sizes.short() if args.short else Sizes(**{name: getattr(args, name) for name in (
        "guarantors", "plans", "claims", "era_files", "refunds", "web_workers", "drivers")})
    soak = Soak(sizes, keep=args.keep_database)
    report = soak.run()
    report["logs"] = str(soak.cluster.folder)
    print(json.dumps(report, indent=2, default=str))
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
