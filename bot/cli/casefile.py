"""`flask inquiries show`: a case file (cases/casefile.py) as text for a person, or as JSON
for a script. Every instant is local time (Asia/Ho_Chi_Minh) with its offset, e.g.
2026-12-02T17:00:00+07:00, in both; labels are English like the other commands, what people
wrote stays as they wrote it."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional
from zoneinfo import ZoneInfo

from cases.casefile import CaseFile, Said
from routing.taxonomy import domain_name

INDENT = " " * 13
TITLES = {"messenger": "Messenger"}


def _at(instant: Optional[datetime], tz: ZoneInfo) -> Optional[str]:
    return instant.astimezone(tz).isoformat() if instant else None


def _days(days: int) -> str:
    return f"{days} working day" + ("" if days == 1 else "s")


def _domain(intent: Optional[str]) -> Optional[str]:
    return f"{intent} ({domain_name(intent, 'vi')})" if intent else None


def _lines(text: Optional[str], indent: str) -> str:
    """A text people wrote, its later lines indented under the first."""
    return ("\n" + indent).join((text or "").splitlines() or [""])


def _attachment(item: dict) -> str:
    label = item.get("type") or "file"
    if item.get("title"):
        label += f" \"{item['title']}\""
    return f"{label}: {item.get('url') or '(no link)'}"


def as_dict(f: CaseFile, tz: ZoneInfo, edited: Optional[list] = None) -> dict[str, Any]:
    """The case file as one JSON object; `edited`: the edited messages' versions, if asked for."""
    i = f.inquiry
    return {
        "code": i.code, "status": i.status, "channel": i.channel, "language": i.language,
        "business": {"name": f.business_name, "phone": f.phone, "email": f.email, "sender_id": i.sender_id},
        "page": {"id": i.page_id, "name": f.page_name},
        "received_at": _at(i.received_at, tz), "text": i.text,
        "intent": i.intent, "confidence": i.confidence, "needs_review": i.needs_review,
        "corrected_intent": i.corrected_intent, "corrected_by": i.corrected_by,
        "corrected_at": _at(i.corrected_at, tz),
        "unit": i.unit_code, "unit_name": f.unit_names.get(i.unit_code), "due_at": _at(i.due_at, tz), "due_provisional": f.due_provisional,
        "routing_trace": i.routing_trace,
        "answer": {"at": _at(i.answered_at, tz), "by": i.answered_by, "text": i.answer_text} if i.answered_at else None,
        "assignments": [{"id": a.id, "unit": a.unit_code, "role": a.role, "status": a.status,
                         "working_days": a.working_days, "assigned_at": _at(a.assigned_at, tz),
                         "due_at": _at(a.due_at, tz), "due_provisional": f.provisional.get(a.id, False),
                         "answered_at": _at(a.answered_at, tz)} for a in f.assignments],
        "deadline_changes": [{"assignment_id": c.assignment_id, "old_due_at": _at(c.old_due_at, tz),
                              "new_due_at": _at(c.new_due_at, tz), "by": c.changed_by, "reason": c.reason,
                              "at": _at(c.changed_at, tz)} for c in f.changes],
        "thread": [{"at": _at(m.at, tz), "direction": m.direction, "source": m.source, "text": m.text,
                    "attachments": list(m.attachments), "status": m.status} for m in f.thread],
        "notices": [{"at": _at(n.at, tz), "state": n.state, "kind": n.kind, "unit": n.unit, "role": n.role,
                     "what": n.what, "recipients": list(n.recipients), "channel": n.channel} for n in f.notices],
        "answered_via": i.answered_via, "link": f.link,
        "drafts": [{"id": r.draft.id, "unit": r.draft.unit, "author": r.draft.author, "status": r.draft.status,
                    "language": r.draft.language, "text": r.draft.text,
                    "history": [{"at": _at(e.at, tz), "action": e.action, "by": e.by, "text": e.text or e.note}
                                for e in r.events]} for r in f.drafts],
        **({"edited_messages": edited} if edited is not None else {}),
    }


def _said(m: Said, tz: ZoneInfo) -> list[str]:
    who = m.source + (f" ({m.status})" if m.status else "")
    head = f"  {_at(m.at, tz)}  {m.direction:<3}  {who:<18} "
    out = [head + _lines(m.text if m.text is not None else "(no text)", " " * len(head))]
    out += [" " * len(head) + "attachment " + _attachment(a) for a in m.attachments]
    return out


def as_text(f: CaseFile, tz: ZoneInfo, edited: Optional[list] = None) -> str:
    i = f.inquiry
    d = as_dict(f, tz, edited)
    where = "comment on page" if i.channel == "comment" else f"{TITLES.get(i.channel, i.channel)}, page"
    who = [f"{f.business_name or '(name not known)'} ({where} {f.page_name})"]
    who += [x for x in (f"phone {f.phone}" if f.phone else None, f"e-mail {f.email}" if f.email else None) if x]
    out = [f"{i.code}  {i.status}",
           f"business:    {', '.join(who)}",
           f"received:    {d['received_at']}",
           f"text:        {_lines(i.text, INDENT)}",
           f"domain:      {_domain(i.intent) or '(none)'}, classifier"
           + (f" {i.confidence:.2f}" if i.confidence is not None else "")
           + (", needs review" if i.needs_review else "")]
    if i.corrected_intent:
        out.append(f"{INDENT}{_domain(i.corrected_intent)}, corrected by {i.corrected_by} at {d['corrected_at']}")
    out.append(f"unit:        {i.unit_code or '-'} {f.unit_names.get(i.unit_code, '')}".rstrip())
    if i.due_at:
        out.append(f"due:         {d['due_at']}" + (" (provisional)" if d["due_provisional"] else ""))
    if i.answered_at:
        out.append(f"answer:      {d['answer']['at']} by {i.answered_by}")
        if i.answer_text:
            out.append(INDENT + _lines(i.answer_text, INDENT))
    else:
        out.append("answer:      (none yet)")
    out.append("")
    out.append("assignments:")
    for a in f.assignments:
        out.append(f"  #{a.id} {a.role:<10} {a.unit_code:<10} {a.status:<10} from {_at(a.assigned_at, tz)} "
                   f"due {_at(a.due_at, tz)} ({_days(a.working_days)})"
                   + (" provisional" if f.provisional.get(a.id) else ""))
    trace = i.routing_trace or {}
    out.append(f"routing:     rule {trace.get('rule', '-')}")
    out += [f"  - {line}" for line in trace.get("trace", [])]
    if f.changes:
        out.append("deadline changes:")
        for c in f.changes:
            out.append(f"  {_at(c.changed_at, tz)}  #{c.assignment_id}: {_at(c.old_due_at, tz) or '-'} -> "
                       f"{_at(c.new_due_at, tz)} by {c.changed_by}: {c.reason}")
    out.append("")
    out.append("thread:")
    for m in f.thread:
        out += _said(m, tz)
    out.append("")
    out.append("notices (sent and planned):")
    for n in f.notices:
        unit = f"{n.unit} {n.role}" if n.unit else ""
        to = f" -> {', '.join(n.recipients)}" if n.recipients else ""
        via = f" [{n.channel}]" if n.channel != "email" else ""
        out.append(f"  {_at(n.at, tz)}  {n.state:<8} {n.kind:<12} {unit:<18} {n.what}{via}{to}")
    if not f.notices:
        out.append("  (none)")
    if d["drafts"]:
        out.append("")
        out.append("drafts:")
        for draft in d["drafts"]:
            out.append(f"  #{draft['id']} {draft['unit']} by {draft['author']}: {draft['status']} ({draft['language']})")
            out += [f"    {e['at']}  {e['action']:<10} {e['by']}" + (f": {_lines(e['text'], INDENT)}" if e["text"] else "")
                    for e in draft["history"]]
    if edited:
        out.append("")
        out.append("edited messages:")
        for m in edited:
            out.append(f"  message {m['ref'] or m['message_id']} (now revision {m['revision']}):")
            out += [f"    {v['written_at']}  #{v['revision']}  {_lines(v['text'], INDENT)}" for v in m["versions"]]
    return "\n".join(out)
