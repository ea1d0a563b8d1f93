"""Who owns an inquiry: classification + context -> lead unit (+ coordinating units).

Pure: plain values in, a decision with a readable trace out ("which rule matched and
why"). The rules and their order, all driven by config.yml `routing:`:
1. unsure   the classifier is unsure -> the standing office's triage queue;
2. complaint  phan_anh_can_bo naming a unit -> that unit, the standing office coordinating
              (complaint_informs_standing_office); naming none -> the standing office;
3. zone     a zone domain (investment, construction, labour, environment) of a project in an
            economic zone or industrial park -> the zone board;
4. page     a message to a unit's own page stays there unless the classifier is confident
            (>= page_keeps_below) that another unit's domain is meant;
5. domain   the domain table;
6. no_rule  -> triage.
Coordinating units from `routing.coordination` are added to the lead decision.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

from routing.taxonomy import COMPLAINT_INTENT


@dataclass(frozen=True)
class RoutingTable:
    domain_units: Mapping[str, str]
    standing_office: str
    page_units: Mapping[str, str] = field(default_factory=dict)
    zone_unit: Optional[str] = None
    zone_domains: frozenset[str] = frozenset()
    page_keeps_below: float = 0.85
    complaint_informs_office: bool = True
    coordination: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class RouteRequest:
    intent: Optional[str]
    confidence: float
    needs_review: bool
    page_id: Optional[str] = None
    zone: Optional[str] = None  # an economic zone / industrial park named in the text
    mentioned_units: tuple[str, ...] = ()  # units named in the text, in order


@dataclass(frozen=True)
class RoutingDecision:
    unit: str
    role: str  # lead | triage
    rule: str
    trace: tuple[str, ...]
    coordinators: tuple[str, ...] = ()

    @property
    def is_triage(self) -> bool:
        return self.role == "triage"


def route(req: RouteRequest, table: RoutingTable) -> RoutingDecision:
    office = table.standing_office
    trace = [f"classification: {req.intent or '-'} (confidence {req.confidence:.2f}"
             f"{', unsure' if req.needs_review else ''})"]

    def decide(unit: str, rule: str, why: str, role: str = "lead", coordinators: tuple[str, ...] = ()) -> RoutingDecision:
        if role == "lead":
            extra = tuple(u for u in table.coordination.get(req.intent or "", ()) if u != unit)
            if extra:
                trace.append(f"coordination: {req.intent} also asks {', '.join(extra)} for input")
            coordinators = tuple(dict.fromkeys(c for c in coordinators + extra if c != unit))
        trace.append(f"rule {rule}: {why} -> {unit}")
        return RoutingDecision(unit, role, rule, tuple(trace), coordinators)

    if req.needs_review or not req.intent:
        return decide(office, "unsure", "the classifier is not sure; the standing office assigns it", role="triage")
    if req.intent == COMPLAINT_INTENT:
        named = [u for u in req.mentioned_units if u != office]
        if named:
            informed = (office,) if table.complaint_informs_office else ()
            return decide(named[0], "complaint", f"a complaint about how {named[0]} handled a procedure"
                          + ("; the standing office follows it" if informed else ""), coordinators=informed)
        return decide(office, "complaint", "a complaint about how a procedure was handled, naming no unit")
    if req.zone and table.zone_unit and req.intent in table.zone_domains:
        return decide(table.zone_unit, "zone", f"{req.intent} of a project in {req.zone}")
    owner = table.domain_units.get(req.intent)
    page_unit = table.page_units.get(req.page_id or "")
    if page_unit and page_unit != office and page_unit != owner:
        if req.confidence < table.page_keeps_below:
            return decide(page_unit, "page", f"sent to {page_unit}'s own page; {req.intent} (owned by {owner}) "
                          f"is not confident enough ({req.confidence:.2f} < {table.page_keeps_below:.2f}) to move it")
        trace.append(f"page: sent to {page_unit}'s page, but {req.intent} is confident "
                     f"({req.confidence:.2f} >= {table.page_keeps_below:.2f})")
    if owner:
        return decide(owner, "domain", f"{req.intent} is owned by {owner}")
    return decide(office, "no_rule", f"no unit owns {req.intent!r}; the standing office assigns it", role="triage")
