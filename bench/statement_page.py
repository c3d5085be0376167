"""Statement page throughput against a bare Flask "hello", both under gunicorn on this machine.

Reports the requests/second of the signed-in statement page for an account with 50 lines, of the hello
app, and their ratio (figures only: nothing here fails on a ratio). Also reports statement PDF pages
rendered per second on one core.
Needs `wrk` (Debian package; `make bench` installs it).

    .venv/bin/python -m bench.statement_page [--seconds 3] [--rounds 5]

Both servers run the production configuration (cookies not Secure-only, as the bench speaks plain HTTP).
Hello and the page are measured in alternating rounds and each side's best round is compared: a run
where one gunicorn worker happened to accept most of wrk's connections, or where other work had the
machine, serves a fraction of what the server can, and that is not what either side is being asked.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import date, timedelta
from http.cookiejar import CookieJar

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UA = "parity-bench"
PASSWORD = "bench password 123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(database_url: str) -> tuple[int, int]:
    """An account with 50 open patient lines and its statement; a patient login."""
    os.environ.update(DATABASE_URL=database_url, PARITY_ENV="development")
    from flask_migrate import upgrade

    from portal import create_app, ledger, statements
    from portal.extensions import db
    from portal.models import Account, AccountAccess, BillingCode, Facility, Patient
    from portal.people import users

    app = create_app()
    with app.app_context():
        upgrade()
        facility = Facility(name="Bench", neutral_name="Bench Health", statement_descriptor="BENCH",
                            remit_address="Bench Health\nPO Box 1")
        code = BillingCode(code="S9480", description="Per diem", kind="billable", default_price_cents=95000)
        account = Account(facility_id=1, number="B-1", guarantor_name="Bench Guarantor", statement_day=1)
        db.session.add_all([facility, code, account])
        db.session.flush()
        patient = Patient(account=account, mrn="B1", first_name="Bea", last_name="Bench",
                          date_of_birth=date(1990, 1, 1), zip_code="07081")
        db.session.add(patient)
        db.session.commit()
        for n in range(50):
            ledger.post_charge(account.id, patient_id=patient.id, billing_code_id=code.id,
                               service_date=date(2026, 9, 1) + timedelta(days=n), amount_cents=13000 + n,
                               responsibility="patient", key=f"bench:{n}", actor="bench")
        statement, _ = statements.issue(db.session.get(Account, account.id), date(2026, 11, 1), actor="bench")
        users.ensure_default_roles()
        user = users.create_user(email="bench@example.org", full_name="Bench", password=PASSWORD, kind="patient",
                                 actor="bench")
        db.session.add(AccountAccess(user_id=user.id, account_id=account.id))
        db.session.commit()
        return account.id, statement.id


def serve(app_path: str, port: int, env: dict) -> subprocess.Popen:
    process = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "-w", "2", "-k", "gthread", "--threads", "4",
         "-b", f"127.0.0.1:{port}", "--log-level", "warning", app_path],
        cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return process
        except OSError:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not start")


_UNITS = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3}


def wrk(url: str, seconds: int, cookie: str | None = None, min_bytes: int = 0) -> float:
    """Requests per second. wrk counts a redirect as a success, so the page's runs also check that the
    average response was at least `min_bytes` long (a redirect to sign in is a few hundred)."""
    command = ["wrk", "-t2", "-c16", f"-d{seconds}s", "-H", f"User-Agent: {UA}", url]
    if cookie:
        command[1:1] = ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"{url}: {non2xx.group(1)} failed responses\n{out}")
    per_second = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    amount, unit = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out).groups()
    if float(amount) * _UNITS[unit] / per_second < min_bytes:
        raise SystemExit(f"{url}: responses were shorter than the page\n{out}")
    return per_second


def sign_in(base: str) -> str:
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("User-Agent", UA)]
    page = opener.open(f"{base}/login").read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    opener.open(f"{base}/login", urllib.parse.urlencode(
        {"csrf_token": token, "email": "bench@example.org", "password": PASSWORD}).encode())
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def pdf_pages_per_second(database_url: str, statement_id: int, rounds: int = 8) -> float:
    from weasyprint import HTML

    from portal import create_app
    from portal.extensions import db
    from portal.models import Statement

    app = create_app()
    with app.app_context(), app.test_request_context():
        from flask import render_template

        statement = db.session.get(Statement, statement_id)
        html = render_template("pdf/statement.html", statement=statement, s=statement.snapshot)
        start, pages = time.perf_counter(), 0
        for _ in range(rounds):
            pages += len(HTML(string=html).render().pages)
        return pages / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    folder = tempfile.mkdtemp()
    database_url = f"sqlite:///{folder}/bench.db"
    account_id, statement_id = prepare(database_url)
    env = {"DATABASE_URL": database_url, "PARITY_ENV": "production", "PARITY_INSTANCE": folder,
           "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/2"),
           "SESSION_COOKIE_SECURE": "false"}
    hello_port, parity_port = free_port(), free_port()
    hello = serve("bench.hello_app:app", hello_port, env)
    parity = serve("portal.wsgi:app", parity_port, env)
    try:
        base = f"http://127.0.0.1:{parity_port}"
        cookie = sign_in(base)
        page = f"{base}/accounts/{account_id}/statements/{statement_id}"
        check = urllib.request.Request(page, headers={"Cookie": cookie, "User-Agent": UA})
        body = urllib.request.urlopen(check).read().decode()
        assert body.count('class="card visit"') == 50, "the statement page did not show 50 lines"
        wrk(f"http://127.0.0.1:{hello_port}/", 2)  # warm up
        wrk(page, 2, cookie, min_bytes=len(body))
        rounds = []
        for _ in range(args.rounds):
            hello_rps = wrk(f"http://127.0.0.1:{hello_port}/", args.seconds)
            rounds.append((hello_rps, wrk(page, args.seconds, cookie, min_bytes=len(body))))
    finally:
        for process in (hello, parity):
            process.send_signal(signal.SIGTERM)
            process.wait(10)
    best_hello, best_page = max(h for h, _ in rounds), max(p for _, p in rounds)
    print(json.dumps({
        "rounds": [{"hello": round(hello_rps, 1), "statement_page": round(page_rps, 1)}
                   for hello_rps, page_rps in rounds],
        "hello_requests_per_second": round(best_hello, 1),
        "statement_page_requests_per_second": round(best_page, 1),
        "ratio": round(best_page / best_hello, 3),
        "statement_lines": 50,
        "pdf_pages_per_second_one_core": round(pdf_pages_per_second(database_url, statement_id), 2),
    }, indent=2))


if __name__ == "__main__":
    main()
