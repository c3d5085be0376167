"""Payment history from a facility's earlier system, as CSV: the evidence the estimator reads.

Columns (header row; amounts in dollars like 650.00; dates like 2025-03-14):
  required: payer (name or X12 payer id), level_of_care, procedure_code, service_date, paid_on, units,
            billed, allowed, paid
  optional: line_id (the old system's id of the line: importing it twice is refused), plan (created under
            the payer when new), episode (groups the days of one stay), revenue_code, patient_resp,
            deductible, coinsurance, copay, in_network (yes/no), claim_status (CLP02), denied (yes/no),
            reverses (the line_id a reversal takes back)
A reversal is a row with claim_status 22 and the reversed line's amounts negated (or a `reverses` line_id): the
line it takes back, in this file or imported before, stops being evidence from the reversal's paid_on. Without
`reverses` the reversed line is found by payer, procedure, service date, units and paid amount, and must be
the only one.
Any bad row refuses the whole file, with every problem reported by line number.
"""
import csv
import hashlib
import io
from datetime import date

from sqlalchemy import insert, select, update

from portal import money
from portal.extensions import db
from portal.iop.attendance import ImportResult
from portal.models import LEVELS_OF_CARE, AdjudicatedLine, InsurancePlan, Payer

REQUIRED = ("payer", "level_of_care", "procedure_code", "service_date", "paid_on", "units", "billed", "allowed",
            "paid")
OPTIONAL_AMOUNTS = ("patient_resp", "deductible", "coinsurance", "copay")
_YES, _NO = {"yes", "y", "true", "1"}, {"no", "n", "false", "0"}
STATUSES = {"1", "2", "3", "4", "19", "20", "21", "22", "23"}
REVERSAL = "22"
AMOUNTS = ("billed", "allowed", "paid", *OPTIONAL_AMOUNTS)


def import_history(text: str, *, actor: str) -> ImportResult:
    result = ImportResult()
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        result.errors.append(f"line 1: missing column(s) {', '.join(missing)}; required: {','.join(REQUIRED)}")
        return result
    rows = [(number, {k: (v or "").strip() for k, v in row.items() if k}) for number, row in
            enumerate(reader, start=2)]
    if not rows:
        result.errors.append("the file has no rows")
        return result
    file_hash = hashlib.sha256(text.encode()).hexdigest()[:16]
    payers = {}
    for payer in db.session.scalars(select(Payer)):
        payers[payer.name.lower()] = payer
        if payer.x12_payer_id:
            payers[payer.x12_payer_id.lower()] = payer
    plans = {(p.payer_id, p.name.lower()): p for p in db.session.scalars(select(InsurancePlan))}
    values, keys = [], {}
    for line, row in rows:
        before = len(result.errors)
        parsed = _parse_row(line, row, payers, result)
        key = "import:" + (row.get("line_id") or f"{file_hash}:{line}")
        if key in keys:
            result.errors.append(f"line {line}: line_id {row.get('line_id')!r} repeats line {keys[key]}")
        keys[key] = line
        if len(result.errors) == before:
            values.append((line, key, row.get("plan") or "", parsed))
    known = set(db.session.scalars(select(AdjudicatedLine.source_key).where(AdjudicatedLine.source_key.in_(keys))))
    for key in sorted(known, key=keys.get):
        result.errors.append(f"line {keys[key]}: already imported (line_id {key.removeprefix('import:')!r})")
    reversed_before = _match_reversals(values, result)
    if result.errors:
        result.errors.sort(key=lambda e: int(e.split(":")[0].removeprefix("line ")))
        return result
    records = []
    for _line, key, plan_name, parsed in values:
        if plan_name:
            plan = plans.get((parsed["payer_id"], plan_name.lower()))
            if plan is None:
                plan = plans[(parsed["payer_id"], plan_name.lower())] = InsurancePlan(payer_id=parsed["payer_id"],
                                                                                     name=plan_name)
                db.session.add(plan)
                db.session.flush()
            parsed["plan_id"] = plan.id
        parsed.pop("reverses")
        records.append({"reversed_on": None, "plan_id": None, **parsed, "source": "import", "source_key": key,
                        "adjustments": []})
    db.session.execute(insert(AdjudicatedLine), records)
    for line_id, reversed_on in reversed_before.items():
        db.session.execute(update(AdjudicatedLine).where(AdjudicatedLine.id == line_id)
                           .values(reversed_on=reversed_on))
    db.session.flush()
    result.imported = len(records)
    return result


def _match_reversals(values: list, result: ImportResult) -> dict[int, date]:
    """Pair each reversal row with the line it takes back: a row of this file gets its `reversed_on` now; for
    lines imported before, {id: reversed_on} is returned to be written with the file."""
    by_key = {key: parsed for _line, key, _plan, parsed in values}
    earlier: dict[int, date] = {}
    taken: dict[object, int] = {}  # reversed line (file key or stored id) -> the reversal's line number
    for line, _key, _plan, parsed in values:
        if parsed["claim_status"] != REVERSAL:
            continue
        target = _reversed_line(line, parsed, by_key, result)
        if target is None:
            continue
        ident, original = target
        if ident in taken:
            result.errors.append(f"line {line}: the line it reverses is already reversed on line {taken[ident]}")
            continue
        if original["paid_cents"] != -parsed["paid_cents"]:
            result.errors.append(f"line {line}: the reversal takes back {money.format_usd(-parsed['paid_cents'])} "
                                 f"but the line it reverses was paid {money.format_usd(original['paid_cents'])}")
            continue
        if parsed["paid_on"] < original["paid_on"]:
            result.errors.append(f"line {line}: the reversal is dated before the payment it reverses")
            continue
        taken[ident] = line
        if isinstance(ident, int):
            earlier[ident] = parsed["paid_on"]
        else:
            original["reversed_on"] = parsed["paid_on"]
    return earlier


def _reversed_line(line: int, parsed: dict, by_key: dict, result: ImportResult):
    """(identity, amounts) of the line a reversal row takes back, or None with the reason recorded."""
    if parsed["reverses"]:
        key = "import:" + parsed["reverses"]
        if key in by_key and by_key[key]["claim_status"] != REVERSAL:
            return key, by_key[key]
        stored = db.session.execute(select(AdjudicatedLine.id, AdjudicatedLine.paid_cents, AdjudicatedLine.paid_on,
                                           AdjudicatedLine.reversed_on)
                                    .where(AdjudicatedLine.source_key == key)).one_or_none()
        if stored is None:
            result.errors.append(f"line {line}: reverses line_id {parsed['reverses']!r}, which is neither in this "
                                 "file nor imported before")
            return None
        if stored.reversed_on is not None:
            result.errors.append(f"line {line}: line_id {parsed['reverses']!r} was already reversed on "
                                 f"{stored.reversed_on}")
            return None
        return stored.id, {"paid_cents": stored.paid_cents, "paid_on": stored.paid_on}
    same = ("payer_id", "procedure_code", "service_date", "units")
    in_file = [(key, p) for key, p in by_key.items() if p["claim_status"] != REVERSAL
               and all(p.get(k) == parsed.get(k) for k in same) and p["paid_cents"] == -parsed["paid_cents"]]
    candidates = db.session.execute(select(AdjudicatedLine.id, AdjudicatedLine.paid_cents, AdjudicatedLine.paid_on)
                                    .where(AdjudicatedLine.reversed_on.is_(None),
                                           AdjudicatedLine.paid_cents == -parsed["paid_cents"],
                                           *(getattr(AdjudicatedLine, k) == parsed[k] for k in same))).all()
    found = in_file + [(r.id, {"paid_cents": r.paid_cents, "paid_on": r.paid_on}) for r in candidates]
    if len(found) != 1:
        result.errors.append(f"line {line}: a reversal (claim_status 22) without `reverses` must match exactly one "
                             f"line by payer, procedure, service date, units and paid amount; {len(found)} match")
        return None
    return found[0]


def _parse_row(line: int, row: dict, payers: dict, result: ImportResult) -> dict:
    errors = result.errors
    out: dict = {}
    payer = payers.get(row["payer"].lower())
    if payer is None:
        errors.append(f"line {line}: unknown payer {row['payer']!r} (use its name or X12 payer id)")
    else:
        out["payer_id"] = payer.id
    if row["level_of_care"].lower() not in LEVELS_OF_CARE:
        errors.append(f"line {line}: level_of_care {row['level_of_care']!r} should be one of "
                      f"{', '.join(LEVELS_OF_CARE)}")
    out["level_of_care"] = row["level_of_care"].lower()
    if not row["procedure_code"] or len(row["procedure_code"]) > 10:
        errors.append(f"line {line}: procedure_code is empty or too long")
    out["procedure_code"] = row["procedure_code"].upper()
    out["revenue_code"] = row.get("revenue_code") or None
    out["episode_key"] = row.get("episode") or None
    for name in ("service_date", "paid_on"):
        try:
            out[name] = date.fromisoformat(row[name])
        except ValueError:
            errors.append(f"line {line}: {name} {row[name]!r} is not a date like 2025-03-14")
    if isinstance(out.get("service_date"), date) and isinstance(out.get("paid_on"), date) \
            and out["paid_on"] < out["service_date"]:
        errors.append(f"line {line}: paid_on is before service_date")
    try:
        out["units"] = int(row["units"])
        if out["units"] <= 0:
            raise ValueError
    except ValueError:
        errors.append(f"line {line}: units {row['units']!r} should be a whole number of at least 1")
    status = row.get("claim_status") or (REVERSAL if row.get("reverses") else None)
    if status and status not in STATUSES:
        errors.append(f"line {line}: claim_status {status!r} is not a CLP02 code")
    out["claim_status"] = status
    out["reverses"] = row.get("reverses") or None
    if out["reverses"] and status != REVERSAL:
        errors.append(f"line {line}: a row with `reverses` is a reversal: its claim_status is 22")
    # A reversal carries the reversed amounts negated; everything else is zero or more.
    sign = -1 if status == REVERSAL else 1
    for name in AMOUNTS:
        text = row.get(name) or ("0" if name in OPTIONAL_AMOUNTS else "")
        try:
            out[f"{name}_cents"] = money.parse_cents(text)
            if out[f"{name}_cents"] * sign < 0:
                raise ValueError
        except ValueError:
            shape = "a negative amount like -650.00 (or 0), as a reversal takes it back" if sign < 0 else \
                "an amount like 650.00"
            errors.append(f"line {line}: {name} {text!r} is not {shape}")
    if all(f"{n}_cents" in out for n in ("billed", "allowed", "paid")):
        if out["allowed_cents"] * sign > out["billed_cents"] * sign:
            errors.append(f"line {line}: allowed is more than billed")
        if out["paid_cents"] * sign > out["allowed_cents"] * sign:
            errors.append(f"line {line}: paid is more than allowed")
    for name in ("in_network", "denied"):
        text = (row.get(name) or "").lower()
        if text and text not in _YES | _NO:
            errors.append(f"line {line}: {name} {row[name]!r} should be yes or no")
        out[name] = (text in _YES) if text else (None if name == "in_network" else False)
    out["denied"] = out["denied"] or status == "4"
    return out
