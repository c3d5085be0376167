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


def test_domain_packages_and_models_do_not_reach_for_the_web_layer():
    web = {"flask_login", "flask_wtf", "wtforms", "portal.auth", "portal.patient", "portal.public", "portal.webhooks",
           "portal.forms", "portal.web", "portal.payments_web", "portal.estimate_forms"}
    domain = [p for p in (ROOT / "portal").iterdir() if p.is_dir() and (p / "__init__.py").exists()
              and p.name not in ("patient", "public", "webhooks")]
    assert {"ledger", "models", "payments", "remittances"} <= {p.name for p in domain}
    offenders = []
    for folder in domain:
        for path in folder.rglob("*.py"):
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


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports, lazy imports included; a package's `__init__` counts as a module
    that imports its parts, so a circle through a package's public names is a circle too."""
    paths = {_module_name(p): p for folder in ("portal", "staff") for p in (ROOT / folder).rglob("*.py")}
    graph = {}
    for name, path in paths.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:  # `from portal.remittances import x12` is the module x12
                    full = f"{node.module}.{alias.name}"
                    edges.add(full if full in paths else node.module)
            elif isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names)
        graph[name] = {target for target in edges if target in paths and target != name}
    return graph


def test_no_import_cycles_between_modules():
    graph, cycles, state = _import_graph(), [], {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                cycles.append(" -> ".join([*trail[trail.index(target):], name, target]) if target in trail
                              else f"{name} -> {target}")
            elif target not in state:
                visit(target, [*trail, name])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    assert cycles == []


def test_no_module_grows_past_the_size_a_reader_holds():
    limit = 600
    long = {str(p.relative_to(ROOT)): n for folder in ("portal", "staff") for p in (ROOT / folder).rglob("*.py")
            if (n := len(p.read_text().splitlines())) > limit}
    assert long == {}


# ---------------------------------------------------------------- transactions and the web layer

# Views: what the request hook (portal/web.py) commits; they never commit themselves.
VIEW_DIRS = ("staff", "portal/patient", "portal/public", "portal/webhooks")
# The web layer: views, guards, forms and the request hook may read the request and the signed-in user;
# extensions.py binds Flask-Login.
WEB_LAYER = ("portal/auth.py", "portal/web.py", "portal/i18n.py", "portal/forms.py", "portal/patient",
             "portal/public", "portal/webhooks", "portal/payments_web.py", "portal/estimate_forms.py", "portal/cli.py",
             "portal/extensions.py", "portal/logs.py", "portal/health.py")
# Where a commit may be written: the ledger's unit of work (after its locks), the named helpers in
# portal/transaction.py (before an outside call; before the SQLite write lock), and the edges: the request
# hook (web.py), the Celery task (extensions.py) and the CLI command (cli.py). The demo seeding runs under the
# `seed-demo` command and flushes like any other domain code; tasks.py commits through extensions.py.
MAY_COMMIT = ("portal/ledger", "portal/transaction.py", "portal/web.py", "portal/extensions.py", "portal/cli.py")


def _under(path: Path, prefixes) -> bool:
    rel = path.relative_to(ROOT).as_posix()
    return any(rel == p or rel.startswith(p + "/") for p in prefixes)


def commit_calls(path: Path) -> list[int]:
    """Lines calling something`.commit()` (the session's, or anything else's: a batch's commits inside the ledger)."""
    return [node.lineno for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "commit"]


def test_views_never_commit():
    offenders = [f"{p.relative_to(ROOT)}:{line}" for folder in VIEW_DIRS for p in (ROOT / folder).rglob("*.py")
                 for line in commit_calls(p)]
    assert offenders == []


def test_domain_code_flushes_and_only_the_edges_commit():
    offenders = [f"{p.relative_to(ROOT)}:{line}" for p in (ROOT / "portal").rglob("*.py")
                 if not _under(p, MAY_COMMIT) for line in commit_calls(p)
                 if not _ledger_batch_commit(p, line)]
    assert offenders == []


def _ledger_batch_commit(path: Path, line: int) -> bool:
    """ERA posting hands its rows to a ledger unit of work, which commits (or lets go) under the ledger's locks."""
    code = path.read_text().splitlines()[line - 1]
    return "uow.commit(" in code or "uow.release(" in code


def test_domain_code_never_reads_the_request_or_the_signed_in_user():
    banned = {"flask_login"}
    offenders = []
    for path in (ROOT / "portal").rglob("*.py"):
        if _under(path, WEB_LAYER):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            bad = None
            if isinstance(node, ast.Import):
                bad = [a.name for a in node.names if a.name.split(".")[0] in banned or a.name == "flask.request"]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = {a.name for a in node.names}
                if node.module.split(".")[0] in banned:
                    bad = [node.module]
                elif node.module in ("flask", "flask.globals") and names & {"request", "current_user"}:
                    bad = sorted(names & {"request", "current_user"})
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "flask" \
                    and node.attr == "request":
                bad = ["flask.request"]
            if bad:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {bad}")
    assert offenders == []


def test_audit_takes_where_from_its_caller():
    names = imports_of(ROOT / "portal" / "audit.py")
    assert "flask" not in names and not any(n.startswith("flask.") for n in names)
