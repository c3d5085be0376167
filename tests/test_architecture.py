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
    money_records = re.compile(r"(?<![A-Za-z_])(LedgerEntry|Posting|Payment|Allocation|Adjustment|BalanceTransfer|Refund)\(")
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
                cycles.append(" -> ".join(trail[trail.index(target):] + [name, target]) if target in trail
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
