"""Who may approve an answer before it is sent: pure rules on plain values.

Decision 3887/QĐ-UBND, Art. 9.5(a): every answer is put "chờ duyệt" and approved by the head of
the unit's fanpage board before it is published; Art. 8.4: an answer in English to a foreign
business is approved by an authorised person. As applied here:

- **Four eyes.** The approver is never the author (e-mails compared without case or blanks).
- **A unit's approvers** are its accounts with role `head`, the e-mails listed in config.yml
  (`units[].approvers`, plus its `head_email`), and, for the standing office's own unit, its
  accounts with role `standing_office`. Officers (role `officer`) and admins never approve:
  an admin manages accounts, and separating that from approving answers is the point.
- **A head's draft** (its author is one of the unit's approvers) goes to ANOTHER approver of that
  unit or to the standing office (an approver of the standing office's unit). An officer's draft
  goes to the unit's approvers; the standing office approves the answers of its own unit (its
  page) and heads' drafts, not every officer's draft of every unit.
- **A unit's setting** `heads_send_vi` (default false): a Vietnamese answer drafted by one of the
  unit's approvers is sent when its author submits it (the head is the person Art. 9.5(a) names;
  for a unit where the head answers alone). It never applies to an answer in English, or to a
  business that wrote in English: those always need a second approver (Art. 8.4), whatever the
  unit's settings say. Nothing else skips approval.

The actor comes as plain values (e-mail, role, unit) so the rules do not depend on where
accounts are kept (the console's accounts table, or config and the CLI's options).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

ROLES = ("officer", "head", "standing_office", "admin")


def same_person(a: Optional[str], b: Optional[str]) -> bool:
    return (a or "").strip().casefold() == (b or "").strip().casefold() != ""


@dataclass(frozen=True)
class Actor:
    """A person acting in the console or the CLI, as plain values."""

    email: str
    role: str  # officer | head | standing_office | admin
    unit: str  # the unit code of their account


@dataclass(frozen=True)
class UnitApproval:
    """A unit's approval settings (config.yml `units`)."""

    approvers: frozenset[str] = frozenset()  # e-mails, lower case (head_email included)
    heads_send_vi: bool = False


@dataclass(frozen=True)
class DraftFacts:
    """What the rules need to know about a draft (plain values, from the drafts table)."""

    unit: str
    author: str
    author_approver: bool
    language: str  # of the draft
    business_language: str  # what the business wrote in
    status: str

    @property
    def english(self) -> bool:
        return self.language == "en" or self.business_language == "en"


@dataclass(frozen=True)
class Verdict:
    """Allowed or not, with the reason (a code for tests and logs, a sentence for people)."""

    allowed: bool
    code: str
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Verdict(True, "ok", "được phép")


@dataclass(frozen=True)
class ApprovalRules:
    units: Mapping[str, UnitApproval] = field(default_factory=dict)
    standing_office: str = "BXT"

    def settings(self, unit: str) -> UnitApproval:
        return self.units.get(unit) or UnitApproval()

    def is_approver(self, email: str, role: str, unit: str, of_unit: str) -> bool:
        """Is this person one of `of_unit`'s approvers?"""
        if role == "admin" or unit != of_unit:
            return False
        if role == "head" or (role == "standing_office" and of_unit == self.standing_office):
            return True
        return (email or "").strip().casefold() in self.settings(of_unit).approvers

    def can_approve(self, actor_email: str, actor_role: str, actor_unit: str, draft: DraftFacts) -> Verdict:
        if draft.status != "submitted":
            return Verdict(False, "not_submitted", "dự thảo không ở trạng thái chờ duyệt")
        if same_person(actor_email, draft.author):
            return Verdict(False, "four_eyes", "người duyệt không được là người soạn (nguyên tắc bốn mắt)")
        if self.is_approver(actor_email, actor_role, actor_unit, draft.unit):
            return ALLOWED
        if draft.author_approver and self.is_approver(actor_email, actor_role, actor_unit, self.standing_office):
            return ALLOWED  # a head's draft: another approver of the unit, or the standing office
        if draft.author_approver:
            return Verdict(False, "not_approver", "dự thảo của lãnh đạo đơn vị do lãnh đạo khác của đơn vị "
                                                  "hoặc cơ quan thường trực duyệt")
        return Verdict(False, "not_approver", "chỉ lãnh đạo (người duyệt) của đơn vị được duyệt trả lời")

    def sends_on_submit(self, draft: DraftFacts) -> bool:
        """The unit's `heads_send_vi` setting applies: a Vietnamese answer by one of its approvers
        needs no second approver. Never for English (Art. 8.4)."""
        return self.settings(draft.unit).heads_send_vi and draft.author_approver and not draft.english
