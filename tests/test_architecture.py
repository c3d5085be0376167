"""Imports point one way: views, tasks and cli -> services -> models -> extensions; portal never imports staff."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imports_of(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_portal_never_imports_staff():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "portal").rglob("*.py")
                 if any(name == "staff" or name.startswith("staff.") for name in imports_of(p))]
    assert offenders == []


def test_services_and_models_do_not_reach_for_the_web_layer():
    web = {"flask_login", "flask_wtf", "wtforms", "portal.auth", "portal.patient", "portal.forms"}
    offenders = []
    for folder in ("services", "models"):
        for path in (ROOT / "portal" / folder).rglob("*.py"):
            bad = {n for n in imports_of(path) if n in web or any(n.startswith(w + ".") for w in web)}
            if bad:
                offenders.append(f"{path.relative_to(ROOT)}: {sorted(bad)}")
    assert offenders == []


def test_only_the_ledger_writes_money_records():
    names = "LedgerEntry|Posting|Payment|Allocation|Adjustment|BalanceTransfer|Refund"
    # Built as an object, or queued as a row on a unit of work (`uow.row(Payment, ...)`).
    money_records = re.compile(rf"(?<![A-Za-z_])({names})\(|\brow\(({names})\b")
    writers = {str(p.relative_to(ROOT).parent) for folder in ("portal", "staff") for p in (ROOT / folder).rglob("*.py")
               if "models" not in p.parts and money_records.search(p.read_text())}
    assert writers == {"portal/ledger"}
