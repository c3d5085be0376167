"""`flask --app portal <command>`: every command that can fail exits non-zero with one readable line."""
import json
import os
import secrets
import sys

import click
import pyotp
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from portal.extensions import db
from portal.models import Account, AccountAccess, User
from portal.services import demo, era, iop, ledger, plans, statements, underpayments, users
from portal.services.clock import facility_today

ledger_cli = AppGroup("ledger", help="Check the ledger.")
users_cli = AppGroup("users", help="Manage logins.")
iop_cli = AppGroup("iop", help="IOP per-diem charges from attendance.")
sessions_cli = AppGroup("sessions", help="Attendance and documentation.")
auths_cli = AppGroup("auths", help="Authorizations.")
statements_cli = AppGroup("statements", help="Patient statements.")
stripe_cli = AppGroup("stripe", help="Card processor set-up.")
plans_cli = AppGroup("plans", help="Payment plans with autopay.")
era_cli = AppGroup("era", help="Insurance remittances (X12 835 ERA files).")
underpayments_cli = AppGroup("underpayments", help="Lines payers allowed less for than expected.")


def init_app(app: Flask) -> None:
    app.cli.add_command(ledger_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(iop_cli)
    app.cli.add_command(sessions_cli)
    app.cli.add_command(auths_cli)
    app.cli.add_command(statements_cli)
    app.cli.add_command(stripe_cli)
    app.cli.add_command(plans_cli)
    app.cli.add_command(underpayments_cli)
    app.cli.add_command(era_cli)
    app.cli.add_command(seed_demo)
    app.cli.add_command(demo_totp)


def _emit(as_json: bool, payload: dict, text: str) -> None:
    click.echo(json.dumps(payload, indent=2, default=str) if as_json else text)


@ledger_cli.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def ledger_check(as_json: bool):
    """Recompute every account from its entries; exit 1 naming any that disagree."""
    checked, problems = ledger.check_all()
    payload = {"accounts_checked": checked, "ok": not problems, "problems": [p.as_dict() for p in problems]}
    lines = [f"checked {checked} accounts: " + ("all agree with their entries" if not problems
                                                   else f"{len(problems)} disagree")]
    lines += [f"  {p.account_number}: {'; '.join(p.problems)}" for p in problems]
    _emit(as_json, payload, "\n".join(lines))
    if problems:
        names = ", ".join(p.account_number for p in problems)
        click.echo(f"Error: ledger check failed for account(s) {names}", err=True)
        sys.exit(1)


@click.command("seed-demo")
@click.option("--json", "as_json", is_flag=True)
def seed_demo(as_json: bool):
    """Create the demo facility, its accounts and one login per role (idempotent)."""
    result = demo.seed(facility_today())
    payload = {"created": result.created, "logins": [vars(login) for login in result.logins]}
    lines = ["Demo data " + ("created." if result.created else "already present; nothing added."), "",
             "Staff sign-in: /staff/login    Patient sign-in: /login"]
    for login in result.logins:
        extra = f"  (code: .venv/bin/flask --app portal demo-totp {login.email})" if login.totp_secret else ""
        lines.append(f"  {login.side:7} {login.role:10} {login.email:32} {login.password}{extra}")
    _emit(as_json, payload, "\n".join(lines))


@click.command("demo-totp")
@click.argument("email")
def demo_totp(email: str):
    """Print the current two-factor code of a demo login (demo logins only)."""
    if not email.endswith("@" + demo.DEMO_DOMAIN):
        raise click.ClickException("only demo logins have codes printed here")
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None or not user.totp_secret:
        raise click.ClickException(f"no demo login with two-factor called {email}")
    click.echo(pyotp.TOTP(user.totp_secret).now())


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, help="A staff role (admin, biller, ...) or 'patient'.")
@click.option("--name", "full_name", default=None, help="Full name (defaults to the email).")
@click.option("--account", "account_number", default=None, help="For patients: the account number to reach.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--json", "as_json", is_flag=True)
def users_create(email, role, full_name, account_number, password_stdin, as_json):
    """Create a login. Without --password-stdin a temporary password is generated and printed once."""
    users.ensure_default_roles()
    kind = "patient" if role == "patient" else "staff"
    account = None
    if kind == "patient":
        if not account_number:
            raise click.ClickException("a patient login needs --account NUMBER")
        account = db.session.scalar(select(Account).where(Account.number == account_number))
        if account is None:
            raise click.ClickException(f"no account numbered {account_number}")
    password = sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(12)
    try:
        user = users.create_user(email=email, full_name=full_name or email, password=password, kind=kind,
                                 role_name=None if kind == "patient" else role, actor="cli:users-create")
    except users.UserError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    if account is not None:
        db.session.add(AccountAccess(user_id=user.id, account_id=account.id))
    db.session.commit()
    payload = {"id": user.id, "email": user.email, "role": role}
    if not password_stdin:
        payload["temporary_password"] = password
    text = f"created {user.email} ({role})" + (f"; temporary password: {password}" if not password_stdin else "")
    _emit(as_json, payload, text)


@iop_cli.command("run")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Run as if on this date (facility time); the service date is this minus the arrears days.")
@click.option("--date", "only_date", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Re-run one service date only.")
@click.option("--json", "as_json", is_flag=True)
def iop_run(as_of, only_date, as_json):
    """Create per-diem charges for attended days; report exceptions."""
    day = as_of.date() if as_of else facility_today()
    try:
        result = iop.run(day, actor="cli:iop-run", only_date=only_date.date() if only_date else None)
    except iop.IopError as exc:
        raise click.ClickException(str(exc)) from exc
    _emit(as_json, result.as_dict(), result.summary())


def _import(kind: str, path: str, as_json: bool, importer):
    try:
        text = open(path, encoding="utf-8-sig").read()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from exc
    result = importer(text, actor=f"cli:{kind}-import")
    _emit(as_json, result.as_dict(), f"imported {result.imported} {kind}" if result.imported else
          "nothing imported:\n" + "\n".join(f"  {e}" for e in result.errors))
    if result.errors:
        raise click.ClickException(f"{path}: {len(result.errors)} problem(s); nothing was imported")


@era_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def era_import(path, as_json):
    """Validate, balance-check, match and post an 835 file whole; what does not match waits in the exception queue."""
    try:
        with open(path, "rb") as handle:
            content = handle.read()
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from exc
    try:
        result = era.import_file(content, os.path.basename(path), actor="cli:era-import")
    except era.EraError as exc:
        raise click.ClickException(f"{path} refused, nothing posted: {exc}") from exc
    _emit(as_json, result.as_dict(), result.summary())


@sessions_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def sessions_import(path, as_json):
    """Import sessions: patient_mrn,service_date,code,minutes,units,clinician,signed."""
    _import("sessions", path, as_json, iop.import_sessions)


@auths_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def auths_import(path, as_json):
    """Import authorizations: patient_mrn,payer,code,start,end,units."""
    _import("authorizations", path, as_json, iop.import_authorizations)


@statements_cli.command("run")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Issue the statements due on this date (facility time).")
@click.option("--no-mail", is_flag=True, help="Do not send the statement-ready mail.")
@click.option("--json", "as_json", is_flag=True)
def statements_run(as_of, no_mail, as_json):
    """Issue statements for accounts whose statement day it is (idempotent)."""
    result = statements.run(as_of.date() if as_of else facility_today(), actor="cli:statements-run",
                            notify=not no_mail)
    _emit(as_json, result.as_dict(), result.summary())


@stripe_cli.command("register-webhook")
@click.option("--url", required=True, help="Where the emulator should deliver events, e.g. http://127.0.0.1:5000/webhooks/stripe")
def stripe_register_webhook(url):
    """Tell the local Stripe emulator where to send signed events (emulator only)."""
    import urllib.error
    import urllib.parse
    import urllib.request

    from flask import current_app

    base, secret = current_app.config.get("STRIPE_API_BASE"), current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not base or not secret:
        raise click.ClickException("STRIPE_API_BASE and STRIPE_WEBHOOK_SECRET must be set (emulator only)")
    data = urllib.parse.urlencode({"url": url, "secret": secret}).encode()
    try:
        urllib.request.urlopen(urllib.request.Request(f"{base}/_config/webhooks/parity", data=data), timeout=10)
    except (urllib.error.URLError, OSError) as exc:
        raise click.ClickException(f"the Stripe emulator at {base} did not answer: {exc}") from exc
    click.echo(f"webhook registered: {url}")


@plans_cli.command("charge-due")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Charge what is due by this date (facility time).")
@click.option("--json", "as_json", is_flag=True)
def plans_charge_due(as_of, as_json):
    """Charge due installments and retries off-session; rerunning charges nobody twice."""
    day = as_of.date() if as_of else facility_today()
    outcomes = plans.charge_due(day, actor="cli:plans-charge-due")
    reminders = plans.send_reminders(day)
    counts = {r: sum(1 for o in outcomes if o.result == r) for r in ("paid", "failed", "defaulted", "skipped")}
    lines = [f"plans as of {day}: " + ", ".join(f"{n} {r}" for r, n in counts.items()) + f", {reminders} reminders"]
    lines += [f"  {o.account_number} payment {o.installment_id} attempt {o.attempt}: {o.result}"
              + (f" ({o.message})" if o.message else "") for o in outcomes]
    _emit(as_json, {"as_of": day.isoformat(), "outcomes": [vars(o) for o in outcomes], "counts": counts,
                    "reminders": reminders}, "\n".join(lines))


@underpayments_cli.command("scan")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Check only lines paid on or after this date.")
@click.option("--json", "as_json", is_flag=True)
def underpayments_scan(since, as_json):
    """Check posted lines against contract rates and payer history (idempotent backfill)."""
    result = underpayments.scan(since.date() if since else None, actor="cli:underpayments-scan")
    _emit(as_json, result.as_dict(), result.summary())


@underpayments_cli.command("import-rates")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def underpayments_import_rates(path, as_json):
    """Import contract rates: payer,plan,code,allowed,from,to (plan and to may be empty)."""
    _import("contract rates", path, as_json, underpayments.import_contract_rates)
