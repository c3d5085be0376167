"""`flask --app portal <command>`: every command that can fail exits non-zero with one readable line."""
import functools
import json
import os
import secrets
import sys
from pathlib import Path

import click
import pyotp
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

from portal import (
    collections,
    demo,
    estimates,
    facility,
    imports,
    iop,
    ledger,
    money,
    payers,
    plans,
    remittances,
    statements,
)
from portal.claims_cli import claims_cli
from portal.cli_common import emit, read_file
from portal.clock import facility_today
from portal.estimates import gfe, history
from portal.extensions import db
from portal.finance_cli import gl_cli
from portal.models import PAYER_TYPES, Account, AccountAccess, User
from portal.payments import deposits
from portal.people import users
from portal.remittances import code_lists, underpayments

ledger_cli = AppGroup("ledger", help="Check the ledger.")
users_cli = AppGroup("users", help="Manage logins.")
iop_cli = AppGroup("iop", help="IOP per-diem charges from attendance.")
sessions_cli = AppGroup("sessions", help="Attendance and documentation.")
auths_cli = AppGroup("auths", help="Authorizations.")
statements_cli = AppGroup("statements", help="Patient statements.")
stripe_cli = AppGroup("stripe", help="Card processor set-up.")
plans_cli = AppGroup("plans", help="Payment plans with autopay.")
batches_cli = AppGroup("batches", help="Deposit batches of manual payments.")
collections_cli = AppGroup("collections", help="Aging, dunning stages, the collectors' queue and agencies.")
history_cli = AppGroup("history", help="Payment history the estimator reads.")
gfe_cli = AppGroup("gfe", help="Good Faith Estimates.")
era_cli = AppGroup("era", help="Insurance remittances (X12 835 ERA files).")
underpayments_cli = AppGroup("underpayments", help="Lines payers allowed less for than expected.")
payers_cli = AppGroup("payers", help="Payers claims go to.")
import_cli = AppGroup("import", help="Records from an EHR: FHIR R4 bundles and patients CSV files.")
codes_cli = AppGroup("codes", help="The published CARC and RARC code lists.")


def init_app(app: Flask) -> None:
    app.cli.add_command(ledger_cli)
    app.cli.add_command(gl_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(iop_cli)
    app.cli.add_command(sessions_cli)
    app.cli.add_command(auths_cli)
    app.cli.add_command(statements_cli)
    app.cli.add_command(stripe_cli)
    app.cli.add_command(plans_cli)
    app.cli.add_command(batches_cli)
    app.cli.add_command(collections_cli)
    app.cli.add_command(history_cli)
    app.cli.add_command(estimate_cli)
    app.cli.add_command(gfe_cli)
    app.cli.add_command(underpayments_cli)
    app.cli.add_command(era_cli)
    app.cli.add_command(payers_cli)
    app.cli.add_command(import_cli)
    app.cli.add_command(codes_cli)
    app.cli.add_command(claims_cli)
    app.cli.add_command(setup)
    app.cli.add_command(seed_demo)
    app.cli.add_command(demo_totp)
    for command in app.cli.commands.values():
        _commit_when_done(command)


def _commit_when_done(command: click.Command) -> None:
    """A command is an edge: services flush, and the command's work is committed once when it returns.
    An error (ClickException, a non-zero exit) rolls back what it had not committed."""
    for sub in getattr(command, "commands", {}).values():
        _commit_when_done(sub)
    callback = command.callback
    if callback is None or getattr(callback, "commits_when_done", False):
        return

    @functools.wraps(callback)
    def run(*args, **kwargs):
        try:
            result = callback(*args, **kwargs)
        except BaseException:
            db.session.rollback()
            raise
        db.session.commit()
        return result

    run.commits_when_done = True  # type: ignore[attr-defined]  # a command wrapped once is not wrapped again
    command.callback = run



@ledger_cli.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def ledger_check(as_json: bool):
    """Recompute every account from its entries; exit 1 naming any that disagree."""
    checked, problems = ledger.check_all()
    payload = {"accounts_checked": checked, "ok": not problems, "problems": [p.as_dict() for p in problems]}
    lines = [f"checked {checked} accounts: " + ("all agree with their entries" if not problems
                                                   else f"{len(problems)} disagree")]
    lines += [f"  {p.account_number}: {'; '.join(p.problems)}" for p in problems]
    emit(as_json, payload, "\n".join(lines))
    if problems:
        names = ", ".join(p.account_number for p in problems)
        click.echo(f"Error: ledger check failed for account(s) {names}", err=True)
        sys.exit(1)


@batches_cli.command("list")
@click.option("--status", type=click.Choice(["open", "closed"]), help="Only open or only closed batches.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def batches_list(status: str | None, as_json: bool):
    """Deposit batches, newest first: control figures against what was posted."""
    found = deposits.batches(status)
    lines = [f"{s.batch.label:45} {s.batch.status:6} control {s.batch.control_count} / "
             f"{money.format_usd(s.batch.control_total_cents)}  posted {s.posted_count} / "
             f"{money.format_usd(s.posted_total_cents)}" + ("" if s.balanced else "  (does not balance)")
             for s in found]
    emit(as_json, {"batches": [s.as_dict() for s in found]}, "\n".join(lines) or "No batches.")


@click.command("seed-demo")
@click.option("--json", "as_json", is_flag=True)
def seed_demo(as_json: bool):
    """Create the demo facility, its accounts and one login per role (idempotent)."""
    result = demo.seed(facility_today())
    payload = {"created": result.created, "logins": [vars(login) for login in result.logins],
               "statement": vars(result.statement) if result.statement else None}
    lines = ["Demo data " + ("created." if result.created else "already present; nothing added."), "",
             "Staff sign-in: /staff/login    Patient sign-in: /login"]
    for login in result.logins:
        extra = f"  (code: .venv/bin/flask --app portal demo-totp {login.email})" if login.totp_secret else ""
        lines.append(f"  {login.side:7} {login.role:10} {login.email:32} {login.password}{extra}")
    if example := result.statement:
        lines += ["", f"Pay by link (/pay) or create a login (/register) for account {example.account}: statement code "
                      f"{example.code}, date of birth {example.date_of_birth}, ZIP {example.zip_code}. "
                      "Mail lands in the outbox folder."]
    emit(as_json, payload, "\n".join(lines))


@click.command("setup")
@click.option("--facility-name", required=True, help="The facility's name.")
@click.option("--admin-email", required=True, help="The first administrator's email (their sign-in).")
@click.option("--admin-name", default=None, help="The administrator's full name (defaults to the email).")
@click.option("--password-stdin", is_flag=True, help="Read the administrator's password from standard input.")
@click.option("--json", "as_json", is_flag=True)
def setup(facility_name, admin_email, admin_name, password_stdin, as_json):
    """First start on an empty database: the facility and its first admin. Without --password-stdin a
    password is generated and printed once."""
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    try:
        result = facility.first_start(facility_name=facility_name, admin_email=admin_email, password=password,
                                      admin_name=admin_name)
    except facility.SetupError as exc:
        raise click.ClickException(str(exc)) from exc
    text = f"created {result.facility.name} and its admin {result.admin.email}; sign in at /staff/login"
    if result.generated_password:
        text += f"\ntemporary password (shown once): {result.generated_password}"
    emit(as_json, result.as_dict(), text)


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
    db.session.flush()
    payload = {"id": user.id, "email": user.email, "role": role}
    if not password_stdin:
        payload["temporary_password"] = password
    text = f"created {user.email} ({role})" + (f"; temporary password: {password}" if not password_stdin else "")
    emit(as_json, payload, text)


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
    emit(as_json, result.as_dict(), result.summary())


def _import(kind: str, path: str, as_json: bool, importer):
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from exc
    result = importer(text, actor=f"cli:{kind}-import")
    emit(as_json, result.as_dict(), f"imported {result.imported} {kind}" if result.imported else
          "nothing imported:\n" + "\n".join(f"  {e}" for e in result.errors))
    if result.errors:
        raise click.ClickException(f"{path}: {len(result.errors)} problem(s); nothing was imported")


def _import_records(kind: str, path: str, as_json: bool, importer):
    """An EHR import: its counts, or every problem (exit 1, nothing saved)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from exc
    result = importer(text, actor=f"cli:import-{kind}")
    emit(as_json, result.as_dict(), result.summary())
    if result.errors:
        raise click.ClickException(f"{path} refused: {len(result.errors)} problem(s); nothing was imported")


@import_cli.command("fhir")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def import_fhir(path, as_json):
    """Import a FHIR R4 Bundle (collection or transaction) whole: patients, guarantors, payers, coverages,
    providers, episodes, diagnoses and charges."""
    _import_records("fhir", path, as_json, imports.import_bundle)


@import_cli.command("patients")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def import_patients(path, as_json):
    """Import patients, guarantors and coverages from CSV (columns: see the README's import section)."""
    _import_records("patients", path, as_json, imports.import_patients)


@era_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def era_import(path, as_json):
    """Validate, balance-check, match and post an 835 file whole; what does not match waits in the exception queue."""
    content = read_file(path)
    try:
        result = remittances.import_file(content, os.path.basename(path), actor="cli:era-import")
    except remittances.EraError as exc:
        raise click.ClickException(f"{path} refused, nothing posted: {exc}") from exc
    emit(as_json, result.as_dict(), result.summary())


@codes_cli.command("load")
@click.option("--list", "code_list", type=click.Choice(code_lists.LISTS), required=True, help="Which list the file is.")
@click.argument("path", type=click.Path(dir_okay=False))
def codes_load(code_list, path):
    """Load or update a code list from CSV: code,description,start_date,last_modified,stop_date (ISO dates)."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {path}: {getattr(exc, 'strerror', None) or 'not UTF-8 text'}") from exc
    try:
        summary = code_lists.load(code_list, text)
    except code_lists.CodeListError as exc:
        raise click.ClickException(f"{path} refused, nothing changed: {exc}") from exc
    click.echo(json.dumps({"list": code_list, **summary}))


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
    emit(as_json, result.as_dict(), result.summary())


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
    emit(as_json, {"as_of": day.isoformat(), "outcomes": [vars(o) for o in outcomes], "counts": counts,
                    "reminders": reminders}, "\n".join(lines))


@collections_cli.command("run")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Run as of this date (facility time); default today.")
@click.option("--json", "as_json", is_flag=True)
def collections_run(as_of, as_json):
    """Age accounts, decide promises, advance dunning stages, score the queue; rerunning changes nothing."""
    day = as_of.date() if as_of else facility_today()
    result = collections.run(day, actor="cli:collections-run")
    emit(as_json, result.as_dict(), result.summary())


@collections_cli.command("place")
@click.option("--account", "number", required=True, help="Account number.")
@click.option("--agency", "agency_name", required=True, help="Agency name.")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None)
@click.option("--json", "as_json", is_flag=True)
def collections_place(number, agency_name, as_of, as_json):
    """Place one account with an agency, if every guard allows it."""
    from portal.models import Agency

    day = as_of.date() if as_of else facility_today()
    account = db.session.scalar(select(Account).where(Account.number == number))
    agency = db.session.scalar(select(Agency).where(Agency.name == agency_name))
    if account is None or agency is None:
        missing = f"no account {number}" if account is None else f"no agency {agency_name!r}"
        raise click.ClickException(missing)
    try:
        placement = collections.place(account, agency, as_of=day, actor="cli:collections-place")
    except collections.CollectionsError as exc:
        db.session.rollback()
        raise click.ClickException(f"{number} cannot be placed: {exc}") from exc
    emit(as_json, {"account": number, "agency": agency.name, "placed_on": day.isoformat(),
                    "balance_cents": placement.placed_balance_cents},
          f"{number} placed with {agency.name} on {day}")
@history_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def history_import_command(path, as_json):
    """Import payment history (CSV; columns in README "Estimates"); a bad row refuses the file."""
    _import("history lines", path, as_json, history.import_history)


@click.group("estimate", cls=AppGroup, invoke_without_command=True,
             help="Estimate a stay from payment history: `estimate --payer ID --level iop --days N`.")
@click.option("--payer", "payer", default=None, help="Payer id, name or X12 payer id (omit: all payers).")
@click.option("--plan", "plan", default=None, help="Plan id or name (a name is looked up under --payer).")
@click.option("--level", type=click.Choice(["iop", "php", "outpatient", "residential", "other"]), default=None)
@click.option("--days", type=int, default=None, help="Days (or sessions for outpatient).")
@click.option("--out-of-network", is_flag=True, help="The program is out of the plan's network.")
@click.option("--copay", default=None, help="Copay per day or visit, e.g. 40.00.")
@click.option("--copay-waives-deductible", is_flag=True)
@click.option("--deductible", default=None, help="Deductible remaining, e.g. 500.00.")
@click.option("--coinsurance", default=None, help="Coinsurance percent, e.g. 20.")
@click.option("--oop", default=None, help="Out-of-pocket maximum remaining, e.g. 3000.00.")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Estimate as on that day, from payments known by then (default: today).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def estimate_cli(ctx, payer, plan, level, days, out_of_network, copay, copay_waives_deductible, deductible,
                 coinsurance, oop, as_of, as_json):
    if ctx.invoked_subcommand is not None:
        return
    if level is None or days is None:
        raise click.ClickException("give --level and --days (and --payer), or a subcommand such as backtest")
    payer_id = _payer_id(payer) if payer else None
    plan_id = None
    if plan:
        plan_id, payer_id = _plan(plan, payer_id)
    try:
        amounts = {name: money.parse_cents(value) if value is not None else None for name, value in
                   (("copay", copay), ("deductible", deductible), ("coinsurance", coinsurance), ("oop", oop))}
    except ValueError as exc:
        raise click.ClickException(f"benefit amounts are numbers like 40.00: {exc}") from exc
    benefits = None
    if any(v is not None for v in amounts.values()) or out_of_network:
        benefits = estimates.Benefits(in_network=not out_of_network, copay_cents=amounts["copay"] or 0,
                                      copay_waives_deductible=copay_waives_deductible,
                                      deductible_remaining_cents=amounts["deductible"] or 0,
                                      coinsurance_bps=amounts["coinsurance"] or 0, oop_remaining_cents=amounts["oop"])
    request = estimates.Request(level=level, days=days, payer_id=payer_id, plan_id=plan_id, benefits=benefits)
    try:
        result = estimates.estimate(request, as_of=as_of.date() if as_of else facility_today())
    except estimates.EstimateError as exc:
        raise click.ClickException(str(exc)) from exc
    emit(as_json, result.as_dict(), result.summary())


def _plan(text: str, payer_id: int | None) -> tuple[int, int | None]:
    """(plan id, payer id) of a plan given by id, or by name under the payer given or the only payer that has
    a plan of that name (case does not matter)."""
    from portal.models import InsurancePlan

    if text.isdigit():
        return int(text), payer_id
    query = select(InsurancePlan).where(func.lower(InsurancePlan.name) == text.strip().lower())
    if payer_id is not None:
        query = query.where(InsurancePlan.payer_id == payer_id)
    found = db.session.scalars(query.limit(2)).all()
    if not found:
        raise click.ClickException(f"no plan {text!r}" + (" under that payer" if payer_id else ""))
    if len(found) > 1:
        raise click.ClickException(f"more than one payer has a plan {text!r}: give --payer")
    return found[0].id, found[0].payer_id


def _payer_id(text: str) -> int:
    from portal.models import Payer

    found = db.session.scalar(select(Payer).where(
        (Payer.id == (int(text) if text.isdigit() else -1)) | (Payer.x12_payer_id == text) | (Payer.name == text)))
    if found is None:
        raise click.ClickException(f"no payer {text!r} (give its id, name or X12 payer id)")
    return found.id


@estimate_cli.command("backtest")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Only stays starting on or after.")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Score the stays as known on that day: payments and reversals after it are left out.")
@click.option("--json", "as_json", is_flag=True)
def estimate_backtest(since, as_of, as_json):
    """Estimate each past stay from earlier payments only; report accuracy by payer."""
    report = estimates.backtest(since.date() if since else None, as_of=as_of.date() if as_of else None)
    emit(as_json, report, estimates.backtest_summary(report))


@gfe_cli.command("check")
@click.option("--json", "as_json", is_flag=True)
def gfe_check(as_json):
    """Flag Good Faith Estimates whose billed charges reached the estimate plus $400."""
    found = gfe.check_overages(actor="cli:gfe-check")
    emit(as_json, {"flagged": [{"id": g.id, "account_id": g.account_id, "total_cents": g.total_cents,
                                 "billed_cents": g.flagged_billed_cents} for g in found]},
          f"{len(found)} Good Faith Estimate(s) newly flagged")
@underpayments_cli.command("scan")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Check only lines paid on or after this date.")
@click.option("--json", "as_json", is_flag=True)
def underpayments_scan(since, as_json):
    """Check posted lines against contract rates and payer history (idempotent backfill)."""
    result = underpayments.scan(since.date() if since else None, actor="cli:underpayments-scan")
    emit(as_json, result.as_dict(), result.summary())


@underpayments_cli.command("import-rates")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def underpayments_import_rates(path, as_json):
    """Import contract rates: payer,plan,code,allowed,from,to (plan and to may be empty)."""
    _import("contract rates", path, as_json, underpayments.import_contract_rates)


@payers_cli.command("add")
@click.option("--name", required=True)
@click.option("--payer-id", "x12_payer_id", default=None, help="The X12 (electronic) payer id.")
@click.option("--type", "payer_type", type=click.Choice(PAYER_TYPES), default="commercial")
@click.option("--timely-filing-days", type=click.IntRange(*payers.LIMIT_DAYS), default=None)
@click.option("--appeal-limit-days", type=click.IntRange(*payers.LIMIT_DAYS), default=None)
@click.option("--phone", default=None)
@click.option("--json", "as_json", is_flag=True)
def payers_add(name, x12_payer_id, payer_type, timely_filing_days, appeal_limit_days, phone, as_json):
    """Add a payer (more details on the admin's payer page)."""
    try:
        payer = payers.save_payer(None, {"name": name, "x12_payer_id": x12_payer_id, "payer_type": payer_type,
                                         "timely_filing_days": timely_filing_days,
                                         "appeal_limit_days": appeal_limit_days, "phone": phone},
                                  actor="cli:payers-add")
    except payers.PayerError as exc:
        raise click.ClickException(f"{exc.field.replace('_', ' ')}: {exc}") from exc
    emit(as_json, _payer_dict(payer), f"added payer {payer.id}: {payer.name}")


@payers_cli.command("list")
@click.option("--json", "as_json", is_flag=True)
def payers_list(as_json):
    """Payers with their plans, active ones first."""
    found = payers.all_payers()
    lines = [f"{p.id:5} {p.name:40} {p.x12_payer_id or '-':12} {p.payer_type:18}"
             + ("" if p.active else " (inactive)") for p in found]
    emit(as_json, {"payers": [_payer_dict(p) for p in found]}, "\n".join(lines) or "No payers.")


def _payer_dict(payer) -> dict:
    return {"id": payer.id, "name": payer.name, "x12_payer_id": payer.x12_payer_id, "payer_type": payer.payer_type,
            "timely_filing_days": payer.timely_filing_days, "appeal_limit_days": payer.appeal_limit_days,
            "phone": payer.phone, "active": payer.active,
            "plans": [{"id": plan.id, "name": plan.name, "active": plan.active} for plan in payers.plans_of(payer)]}
