"""Messenger's sender: the messaging policy, then the Send API.

`plan` runs in the delivery loop's short transaction: while another app owns the
conversation a bot message is held; Messenger's window (bot/channels/messenger/policy.py)
decides whether and how a private message may go; a public reply under a comment and the
one private reply to a comment are Facebook's to allow, and so is hiding a comment with
prohibited content (kind "hide_comment": the page may hide comments under its own posts at
any time). The plan carries the policy's `until` as `deliver_until`: how long the delivery
loop may keep trying (a public reply under a comment has no window: None). `send` renders the
neutral Reply as a Send API message (choices become quick replies), or hides the comment, and
calls the Graph API, outside any transaction.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping, Optional

from bot.channels.base import Outgoing, Plan
from bot.channels.messenger import policy
from bot.channels.messenger.sendapi import SendApiClient
from store import Conversation, Inquiry

MAX_TEXT = 2000  # Messenger refuses longer texts


def render(out: Outgoing) -> dict[str, Any]:
    """The Send API `message` object of a reply."""
    message: dict[str, Any] = {"text": out.reply.text[:MAX_TEXT]}
    if out.reply.choices:
        message["quick_replies"] = [{"content_type": "text", "title": c.title, "payload": c.payload}
                                    for c in out.reply.choices]
    return message


class MessengerSender:
    def __init__(self, client: SendApiClient, tokens: Mapping[str, Optional[str]], human_agent_pages: frozenset[str]):
        self.client, self.tokens, self.human_agent_pages = client, dict(tokens), human_agent_pages

    def plan(self, s, out: Outgoing, now: datetime) -> Plan:
        if out.kind == "hide_comment":
            return Plan("send", "hide a comment under the page's post")
        if out.public:
            return Plan("send", "a public reply under the comment")
        to_comment = "comment_id" in out.to
        conv = None if to_comment else s.get(Conversation, (out.page_id, out.to.get("id")))
        if conv is not None and conv.thread_owner_app_id and out.author == "bot":
            return Plan("hold", f"thread owned by app {conv.thread_owner_app_id}")
        commented_at = None
        if to_comment and out.inquiry_id is not None:
            inquiry = s.get(Inquiry, out.inquiry_id)
            commented_at = inquiry.received_at if inquiry is not None else None
        verdict = policy.decide(now=now, last_user_message_at=conv.last_user_message_at if conv else None,
                                author=out.author, human_agent_page=out.page_id in self.human_agent_pages,
                                to_comment=to_comment, commented_at=commented_at)
        if not verdict.allowed:
            return Plan("undeliverable", verdict.reason, reason_vi=verdict.reason_vi)
        return Plan("send", verdict.reason, verdict.messaging_type, verdict.tag, deliver_until=verdict.until)

    def answer_window(self, s, page_id: str, to: Mapping[str, Any], public: bool) -> Optional[datetime]:
        """Until when a person's answer can reach the business (policy.person_window_closes);
        None for a reply under a comment or the one private reply to it (Facebook's to allow)."""
        if public or "comment_id" in to:
            return None
        conv = s.get(Conversation, (page_id, to.get("id")))
        return policy.person_window_closes(conv.last_user_message_at if conv else None,
                                           page_id in self.human_agent_pages)

    def send(self, out: Outgoing, plan: Plan) -> str:
        token = self.tokens.get(out.page_id)
        if out.kind == "hide_comment":
            return self.client.hide_comment(token, out.to["comment_id"])
        if out.public:
            return self.client.reply_to_comment(token, out.to["comment_id"], out.reply.text[:MAX_TEXT])
        return self.client.send_message(token, dict(out.to), render(out),
                                        messaging_type=plan.messaging_type or "RESPONSE", tag=plan.tag)

    def check(self, page_id: str, timeout: float) -> None:
        """Is the Graph API up for this page? `GET /me` with the page's token: no side effects
        (bot.channels.base.Sender). Raises SendError (a DeliveryFailure)."""
        self.client.check_page(self.tokens.get(page_id), timeout=timeout)
