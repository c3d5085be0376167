"""Reading X12 835 (005010X221A1) files: envelope checks, pyx12 validation, and a parser into plain records.

Validation (pyx12, slow) and parsing (ours, fast) are separate: pyx12 says whether the file is valid
and where it is not; the parser turns a valid file into the figures the posting needs.
"""
import io
import json
import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import date, datetime

VERSION = "005010X221A1"


class X12Error(ValueError):
    """The file cannot be used; `problems` lists what is wrong and where, in words."""

    def __init__(self, summary: str, problems: list[str] | None = None):
        self.summary = summary
        self.problems = problems or []
        super().__init__(summary + (": " + "; ".join(self.problems[:10]) if self.problems else ""))


@dataclass
class Cas:
    group: str
    carc: str
    amount_cents: int


@dataclass
class Line:
    sequence: int
    procedure_code: str
    modifiers: str | None
    revenue_code: str | None
    charge_cents: int
    paid_cents: int
    units: int
    service_date: date | None = None
    allowed_cents: int | None = None
    control_number: str | None = None
    adjustments: list[Cas] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    segment_line: int = 0
    billed_procedure_code: str | None = None  # SVC06-2: the code as we billed it, when the payer changed SVC01


@dataclass
class ClaimPayment:
    sequence: int
    control_number: str
    status_code: str
    charge_cents: int
    paid_cents: int
    patient_resp_cents: int
    payer_claim_number: str | None
    segment_line: int
    patient_name: str | None = None
    member_id: str | None = None
    statement_from: date | None = None
    statement_to: date | None = None
    adjustments: list[Cas] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)


@dataclass
class ProviderAdj:
    provider_identifier: str
    fiscal_period_date: date | None
    reason_code: str
    reference: str | None
    amount_cents: int


@dataclass
class Remit:
    payment_cents: int
    credit_debit: str  # BPR03: C credit, D debit
    payment_method: str  # BPR04
    payment_date: date | None
    trace_number: str
    payer_identifier: str
    payer_name: str
    payer_id_code: str | None  # N1*PR N104 or REF*2U
    production_date: date | None
    claims: list[ClaimPayment] = field(default_factory=list)
    provider_adjustments: list[ProviderAdj] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # validator findings that change no money


BOM = b"\xef\xbb\xbf"


def normalise(content: bytes) -> bytes:
    """The file with its framing made plain before anything reads it: no UTF-8 byte-order mark, no line
    breaks inside segments (files wrapped at 80 columns), one line break after each segment terminator."""
    if content.startswith(BOM):
        content = content[len(BOM):]
    text = content.decode("latin-1").lstrip(" \r\n\t")
    if len(text) < 106 or not text.startswith("ISA") or text[105] in "\r\n":
        return text.encode("latin-1")  # a newline is the terminator itself (or not X12: refused later)
    flat = text.replace("\r", "").replace("\n", "")
    if _misplaced_isa16(flat) is not None:
        return text.encode("latin-1")  # no terminator to be read from an unpadded ISA: refused later, saying so
    terminator = flat[105]
    segments = [raw.strip(" \t") for raw in flat.split(terminator)]
    return "".join(raw + terminator + "\n" for raw in segments if raw).encode("latin-1")


def _misplaced_isa16(text: str) -> int | None:
    """The column ISA16 starts at when it is not 105 (the ISA's fields not padded), else None; the segment
    terminator is the character after ISA16, so it cannot be read where an unpadded ISA does not put it."""
    separators = [i for i, ch in enumerate(text[:400]) if ch == text[3]][:16]
    if len(separators) == 16 and separators[15] != 103:
        return separators[15] + 2
    return None


def split_segments(content: bytes) -> tuple[list[list[str]], str]:
    """The segments (as element lists) and the component separator, from the ISA's own delimiters."""
    text = content.decode("latin-1").lstrip("\ufeff \r\n\t")
    if text.startswith("ST") and text[2:3] and not text[2:3].isalnum():
        raise X12Error("The file has no envelope", ["it starts with ST: an 835 starts with its ISA and GS segments"])
    if not text.startswith("ISA") or len(text) < 16:
        raise X12Error("This is not an X12 file", ["it does not start with an ISA segment"])
    element = text[3]
    misplaced = _misplaced_isa16(text)
    if misplaced is not None:
        raise X12Error("ISA fields are not fixed width", [
            f"ISA16 starts at column {misplaced}, not 105: every ISA field is padded to its fixed width"])
    if len(text) < 106:
        raise X12Error("The file is truncated", ["the ISA segment is shorter than its 106 characters"])
    component, terminator = text[104], text[105]
    segments = []
    for raw in text.split(terminator):
        raw = raw.strip("\r\n\t ")
        if raw:
            segments.append(raw.split(element))
    return segments, component


def check_envelope(content: bytes) -> None:
    """Refuse, clearly, what pyx12 would report confusingly: truncated files and other versions."""
    segments, _ = split_segments(content)
    ids = [s[0] for s in segments]
    gs = next((s for s in segments if s[0] == "GS"), None)
    st = next((s for s in segments if s[0] == "ST"), None)
    if gs is None or st is None:
        raise X12Error("The file is truncated", ["no GS or ST segment after the ISA"])
    if gs[1:2] == ["HC"] or st[1:2] == ["837"]:
        raise X12Error("This is a claim file (837), not a remittance",
                       ["GS01 is HC (health care claim); a remittance has GS01 HP and ST01 835"])
    if st[1:2] != ["835"]:
        raise X12Error("This is not an 835 remittance", [f"ST01 is {st[1] if len(st) > 1 else 'empty'}, expected 835"])
    version = gs[8] if len(gs) > 8 else ""
    if version != VERSION:
        raise X12Error(f"Wrong version: {version or 'none'} (only {VERSION} is accepted)",
                       [f"GS08 says {version or 'nothing'}"])
    missing = [name for name in ("SE", "GE", "IEA") if name not in ids]
    if missing or ids[-1] != "IEA":
        raise X12Error("The file is truncated", [f"missing {', '.join(missing) or 'IEA at the end'}"])
    if ids.count("ST") != ids.count("SE"):
        raise X12Error("The file is truncated", [f"{ids.count('ST')} ST segments but {ids.count('SE')} SE"])


_maps: dict = {}
_validating = threading.Lock()


def _load_maps_once() -> None:
    """pyx12 re-reads its XML maps (about half a second) on every call. The maps are read-only (the
    validation state lives in its walker), so each is loaded once per process; calls are serialised."""
    import pyx12.map_if

    if getattr(pyx12.map_if.load_map_file, "cached", False):
        return
    original = pyx12.map_if.load_map_file

    def load(map_file, param, map_path=None):
        if (map_file, map_path) not in _maps:
            _maps[(map_file, map_path)] = original(map_file, param, map_path)
        return _maps[(map_file, map_path)]

    load.cached = True  # type: ignore[attr-defined]  # marks the loader as installed
    pyx12.map_if.load_map_file = load


def validate(content: bytes, progress=None) -> list[str]:
    """Run pyx12's 005010X221A1 validation once; return its errors as 'line N, SEG: message' (empty: valid).

    `progress(segments_done, segments_total)` is called every 1,000 segments."""
    import pyx12.params
    import pyx12.x12n_document

    report = io.StringIO()
    segments = split_segments(content)[0]
    total = len(segments)
    reading: list = []  # pyx12's reader, to say where it stopped if it crashes

    def callback(_seg, src, _node, _valid):
        reading[:] = [src]
        if progress is not None and src.get_seg_count() % 1000 == 0:
            progress(src.get_seg_count(), total)

    logger = logging.getLogger("pyx12")
    with _validating:
        _load_maps_once()
        level, logger.level = logger.level, logging.CRITICAL + 1  # its log repeats the report (and 999 noise)
        try:
            ok = pyx12.x12n_document.x12n_document(
                pyx12.params.params(), io.StringIO(content.decode("latin-1")), None, None, None, report,
                callback=callback)
        except Exception as exc:  # pyx12 raises on some malformed input instead of reporting it
            at = min(reading[0].get_cur_line() if reading else 1, total) - 1
            segment = "*".join(segments[at])[:80]
            return [f"line {at + 1}, {segments[at][0]}: the validator could not read this segment ({segment}); "
                    f"it is malformed ({exc.__class__.__name__})"]
        finally:
            logger.level = level
    problems = []
    try:
        _collect(json.loads(report.getvalue() or "{}"), problems, None)
    except ValueError:
        pass
    if not ok and not problems:
        problems.append("the validator rejected the file without saying where")
    return problems


def _collect(node, problems: list[str], where: str | None) -> None:
    if isinstance(node, dict):
        if "seg_id" in node:
            where = f"line {node.get('cur_line')}, {node['seg_id']}"
        elif "cur_line" in node and where is None:
            where = f"line {node.get('cur_line')}"
        for err in node.get("errors") or []:
            problems.append(f"{where or 'envelope'}: {err.get('err_str')}")
        for key, value in node.items():
            if key != "errors" and isinstance(value, (list, dict)):
                _collect(value, problems, where)
    elif isinstance(node, list):
        for item in node:
            _collect(item, problems, where)


# pyx12 findings that change no money: the payer's contact and address, provider summary figures (TS2/TS3,
# informational), dates that are not service dates, remark and state code lists, and its count of PLB
# segments (the guide lets PLB repeat). Anything not named here refuses the file.
_HARMLESS = [
    re.compile(r"^line \d+, (PER|N3|N4|TS2|TS3): "),
    re.compile(r"^line \d+, (BPR|DTM): .*\b(BPR16|DTM02)\b.*(invalid date|missing)"),
    re.compile(r"^line \d+, (LQ|MOA|MIA|N1|REF): .*invalid code value"),
    re.compile(r"^line \d+, PLB: .*Loop FOOTER exceeded max count"),
]


def sort_findings(problems: list[str]) -> tuple[list[str], list[str]]:
    """(refusals, warnings): what touches money or the file's structure refuses; the rest is a warning."""
    refusals, warnings = [], []
    for problem in problems:
        (warnings if any(p.search(problem) for p in _HARMLESS) else refusals).append(problem)
    return refusals, warnings


AMOUNT = re.compile(r"^-?(\d+(\.\d{0,2})?|\.\d{1,2})$")


def cents(value: str, where: str) -> int:
    """An X12 decimal amount as integer cents (no float on the way)."""
    value = (value or "").strip()
    if not AMOUNT.match(value):
        raise X12Error("The file has an invalid amount", [f"{where}: {value!r} is not an amount"])
    negative = value.startswith("-")
    whole, _, frac = value.lstrip("-").partition(".")
    amount = int(whole or 0) * 100 + int((frac + "00")[:2])
    return -amount if negative else amount


def _date(value: str | None) -> date | None:
    try:
        return datetime.strptime(value or "", "%Y%m%d").date()
    except ValueError:
        return None


def _el(seg: list[str], n: int) -> str:
    return seg[n] if len(seg) > n else ""


def parse(content: bytes) -> list[Remit]:
    """Parse an (already validated) 835 into plain records, one per transaction set (ST/SE: each is
    one payment with its own BPR and TRN); amounts in cents."""
    segments, component = split_segments(content)
    remits: list[Remit] = []
    remit = Remit(0, "C", "", None, "", "", "", None, None)
    claim: ClaimPayment | None = None
    line: Line | None = None
    in_payer = False
    for number, seg in enumerate(segments, 1):
        sid = seg[0]
        where = f"line {number}, {sid}"
        if sid == "ST":
            remit = Remit(0, "C", "", None, "", "", "", None, None)
            remits.append(remit)
            claim, line, in_payer = None, None, False
        elif sid == "BPR":
            remit.payment_cents = cents(_el(seg, 2), where)
            remit.credit_debit = _el(seg, 3)
            remit.payment_method = _el(seg, 4)
            remit.payment_date = _date(_el(seg, 16))
        elif sid == "TRN" and claim is None:
            remit.trace_number = _el(seg, 2)
            remit.payer_identifier = _el(seg, 3)
        elif sid == "DTM" and claim is None and _el(seg, 1) == "405":
            remit.production_date = _date(_el(seg, 2))
        elif sid == "N1" and claim is None:
            in_payer = _el(seg, 1) == "PR"
            if in_payer:
                remit.payer_name = _el(seg, 2)
                remit.payer_id_code = _el(seg, 4) or None
        elif sid == "REF" and in_payer and claim is None and _el(seg, 1) == "2U":
            remit.payer_id_code = _el(seg, 2)
        elif sid == "CLP":
            line = None
            claim = ClaimPayment(
                sequence=len(remit.claims) + 1, control_number=_el(seg, 1), status_code=_el(seg, 2),
                charge_cents=cents(_el(seg, 3), where), paid_cents=cents(_el(seg, 4), where),
                patient_resp_cents=cents(_el(seg, 5) or "0", where), payer_claim_number=_el(seg, 7) or None,
                segment_line=number,
            )
            remit.claims.append(claim)
        elif sid == "NM1" and claim is not None and line is None:
            if _el(seg, 1) == "QC":
                claim.patient_name = " ".join(p for p in (_el(seg, 4), _el(seg, 3)) if p) or None
                claim.member_id = claim.member_id or _el(seg, 9) or None
            elif _el(seg, 1) == "IL":
                claim.member_id = _el(seg, 9) or claim.member_id
        elif sid == "DTM" and claim is not None:
            qualifier, value = _el(seg, 1), _date(_el(seg, 2))
            if line is not None and qualifier in ("472", "150"):
                line.service_date = value
            elif line is None and qualifier == "232":
                claim.statement_from = value
            elif line is None and qualifier == "233":
                claim.statement_to = value
        elif sid == "SVC" and claim is not None:
            procedure = _el(seg, 1).split(component)
            qualifier, code = procedure[0], _el(procedure, 1)
            line = Line(
                sequence=len(claim.lines) + 1, procedure_code=code[:10],
                modifiers=":".join(p for p in procedure[2:6] if p) or None,
                revenue_code=(code if qualifier == "NU" else _el(seg, 4)) or None,
                charge_cents=cents(_el(seg, 2), where), paid_cents=cents(_el(seg, 3), where),
                units=_units(_el(seg, 5)), segment_line=number,
                billed_procedure_code=_el(_el(seg, 6).split(component), 1)[:10] or None,
            )
            claim.lines.append(line)
        elif sid == "CAS" and claim is not None:
            target = line.adjustments if line is not None else claim.adjustments
            group = _el(seg, 1)
            for i in range(2, len(seg), 3):
                if seg[i]:
                    target.append(Cas(group, seg[i], cents(_el(seg, i + 1), where)))
        elif sid == "AMT" and line is not None and _el(seg, 1) == "B6":
            line.allowed_cents = cents(_el(seg, 2), where)
        elif sid == "REF" and line is not None and _el(seg, 1) == "6R":
            line.control_number = _el(seg, 2)
        elif sid == "LQ" and line is not None:
            line.remarks.append(_el(seg, 2))
        elif sid in ("MOA", "MIA") and claim is not None:
            claim.remarks.extend(v for v in seg[3:] if re.fullmatch(r"[A-Z]{1,2}\d{1,4}", v or ""))
        elif sid == "PLB":
            claim, line = None, None
            for i in range(3, len(seg) - 1, 2):
                if not seg[i]:
                    continue
                reason, _, reference = seg[i].partition(component)
                remit.provider_adjustments.append(ProviderAdj(
                    _el(seg, 1), _date(_el(seg, 2)), reason[:2], reference or None, cents(seg[i + 1], where)))
        elif sid in ("SE", "LX"):
            claim, line = None, None
    return remits


def _units(value: str) -> int:
    """SVC05 (units paid), default 1; fractional units round up to a whole unit."""
    try:
        whole, _, frac = (value or "1").partition(".")
        units = int(whole or 0) + (1 if frac.strip("0") else 0)
    except ValueError:
        return 1
    return max(units, 1)


# ---------------------------------------------------------------- writing (demo data, tests, benchmark)


def amount(cents_value: int) -> str:
    """Integer cents as an X12 decimal amount ('-12.50')."""
    sign = "-" if cents_value < 0 else ""
    return f"{sign}{abs(cents_value) // 100}.{abs(cents_value) % 100:02d}"


def write(remit: Remit, *, payee_npi: str = "1234567893", control: int = 1, when: datetime | None = None,
          version: str = VERSION) -> bytes:
    """A 005010X221A1 835 for `remit` (one ISA/GS/ST), valid for pyx12 when the figures balance."""
    when = when or datetime(2026, 11, 2, 12, 0)
    paid_on = (remit.payment_date or when.date()).strftime("%Y%m%d")
    ein = remit.payer_identifier
    if remit.payment_cents > 0:
        bpr = (f"BPR*I*{amount(remit.payment_cents)}*{remit.credit_debit}*{remit.payment_method or 'ACH'}*CCP*01*"
               f"999999999*DA*123456*{ein}**01*999988880*DA*98765*{paid_on}")
        if remit.payment_method == "CHK":
            bpr = f"BPR*I*{amount(remit.payment_cents)}*C*CHK************{paid_on}"
    else:
        bpr = f"BPR*H*{amount(remit.payment_cents)}*C*NON************{paid_on}"
    body = [
        "ST*835*0001", bpr, f"TRN*1*{remit.trace_number}*{ein}",
        f"DTM*405*{(remit.production_date or when.date()):%Y%m%d}",
        f"N1*PR*{remit.payer_name}", "N3*1 PAYER WAY", "N4*HARTFORD*CT*06101",
        *([f"REF*2U*{remit.payer_id_code}"] if remit.payer_id_code else []),
        "PER*BL*EDI SUPPORT*TE*8005551212", f"N1*PE*PARITY HEALTH SERVICES*XX*{payee_npi}",
    ]
    if remit.claims:
        body.append("LX*1")
    for c in remit.claims:
        patient_resp = amount(c.patient_resp_cents) if c.patient_resp_cents else ""
        body.append(f"CLP*{c.control_number}*{c.status_code}*{amount(c.charge_cents)}*{amount(c.paid_cents)}*"
                    f"{patient_resp}*12*{c.payer_claim_number or 'PCN'}")
        body.extend(_cas_segments(c.adjustments))
        first, _, last = (c.patient_name or "JANE DOE").rpartition(" ")
        body.append(f"NM1*QC*1*{last}*{first}****MI*{c.member_id or 'UNKNOWN'}")
        if c.statement_from:
            body.append(f"DTM*232*{c.statement_from:%Y%m%d}")
        if c.statement_to:
            body.append(f"DTM*233*{c.statement_to:%Y%m%d}")
        for ln in c.lines:
            units = f"**{ln.units}" if ln.units != 1 else ""
            billed = f"{'*' if units else '***'}HC:{ln.billed_procedure_code}" if ln.billed_procedure_code else ""
            body.append(f"SVC*HC:{ln.procedure_code}*{amount(ln.charge_cents)}*{amount(ln.paid_cents)}{units}{billed}")
            if ln.service_date:
                body.append(f"DTM*472*{ln.service_date:%Y%m%d}")
            body.extend(_cas_segments(ln.adjustments))
            if ln.control_number:
                body.append(f"REF*6R*{ln.control_number}")
            if ln.allowed_cents is not None:
                body.append(f"AMT*B6*{amount(ln.allowed_cents)}")
            for remark in ln.remarks:
                body.append(f"LQ*HE*{remark}")
    plb = remit.provider_adjustments
    for start in range(0, len(plb), 6):  # one PLB holds up to six adjustments
        head = plb[start]
        pairs = "*".join(f"{p.reason_code}{':' + p.reference if p.reference else ''}*{amount(p.amount_cents)}"
                         for p in plb[start:start + 6])
        body.append(f"PLB*{head.provider_identifier}*"
                    f"{(head.fiscal_period_date or date(when.year, 12, 31)):%Y%m%d}*{pairs}")
    body.append(f"SE*{len(body) + 1}*0001")
    stamp = when.strftime("%y%m%d*%H%M")
    isa = (f"ISA*00*          *00*          *ZZ*{'PAYER':<15}*ZZ*{'PARITY':<15}*{stamp}*^*00501*"
           f"{control:09d}*0*P*:")
    segments = [isa, f"GS*HP*PAYER*PARITY*{when:%Y%m%d}*{when:%H%M}*{control}*X*{version}", *body,
                f"GE*1*{control}", f"IEA*1*{control:09d}"]
    return ("~\n".join(segments) + "~\n").encode()


def _cas_segments(adjustments: list[Cas]) -> list[str]:
    by_group: dict[str, list[Cas]] = {}
    for adj in adjustments:
        by_group.setdefault(adj.group, []).append(adj)
    segments = []
    for group, items in by_group.items():
        for start in range(0, len(items), 6):  # a CAS holds up to six reasons
            parts = "*".join(f"{a.carc}*{amount(a.amount_cents)}*" for a in items[start:start + 6]).rstrip("*")
            segments.append(f"CAS*{group}*{parts}")
    return segments
