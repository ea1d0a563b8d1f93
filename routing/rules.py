"""Who owns an inquiry: classification + context -> lead unit, as data-driven rules.

Pure: takes plain values, returns a decision with a trace an officer can read ("which rule
matched and why"). Rules, in order:
1. unsure classification -> the standing office's triage queue;
2. a complaint about handling (phan_anh_can_bo) -> the standing office;
3. investment/construction/labour/environment inside an economic zone or industrial park
   -> the economic-zone board;
4. a message to a unit's own page stays with that unit when the domain is not confidently
   another unit's (`page_keeps_below`);
5. the domain table;
6. no rule -> triage.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

ZONE_DOMAINS = frozenset({"dau_tu", "xay_dung", "lao_dong", "moi_truong"})
COMPLAINT = "phan_anh_can_bo"


@dataclass(frozen=True)
class RoutingTable:
    domain_units: Mapping[str, str]
    standing_office: str
    page_units: Mapping[str, str] = field(default_factory=dict)
    zone_unit: Optional[str] = None
    page_keeps_below: float = 0.0  # confidence under which a unit's own page keeps the inquiry


@dataclass(frozen=True)
class RouteRequest:
    intent: Optional[str]
    confidence: float
    needs_review: bool
    page_id: Optional[str] = None
    zone: Optional[str] = None  # name of an economic zone / industrial park found in the text


@dataclass(frozen=True)
class RoutingDecision:
    unit: str
    role: str  # lead | triage
    rule: str
    trace: tuple[str, ...]

    @property
    def is_triage(self) -> bool:
        return self.role == "triage"


def route(req: RouteRequest, table: RoutingTable) -> RoutingDecision:
    trace = [f"classification: {req.intent} ({req.confidence:.2f}){' – unsure' if req.needs_review else ''}"]
    office = table.standing_office

    def decide(unit: str, role: str, rule: str, why: str) -> RoutingDecision:
        trace.append(f"rule {rule}: {why} -> {unit}")
        return RoutingDecision(unit, role, rule, tuple(trace))

    if req.needs_review or not req.intent:
        return decide(office, "triage", "unsure", "the classifier is not sure; the standing office assigns it")
    if req.intent == COMPLAINT:
        return decide(office, "lead", "complaint", "a complaint about how a procedure was handled")
    if req.zone and table.zone_unit and req.intent in ZONE_DOMAINS:
        return decide(table.zone_unit, "lead", "zone", f"{req.intent} of a project in {req.zone}")
    page_unit = table.page_units.get(req.page_id or "")
    if page_unit and page_unit != office and req.confidence < table.page_keeps_below:
        return decide(page_unit, "lead", "page", f"sent to the unit's own page and not confidently another domain")
    unit = table.domain_units.get(req.intent)
    if unit:
        return decide(unit, "lead", "domain", f"{req.intent} is owned by {unit}")
    return decide(office, "triage", "no_rule", f"no unit owns {req.intent!r}")
