"""Tables. Rows carry ids and plain values; nothing here knows about HTTP or Rasa."""
from __future__ import annotations


from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship, validates

from store.search import searchable
from store.types import ErrorText, JSONText, PlainText, UTCDateTime

Base = declarative_base()

# An inquiry someone still has to act on: the standing office (triage) or a unit (assigned).
OPEN_INQUIRY_STATUSES = ("triage", "assigned")
# Assignment statuses that no longer give the unit sight of the inquiry (bot/console/scope.py):
# given to another unit, sent back to the standing office ("not ours"; a review found the unit
# still opening it after the office had assigned it elsewhere), or a coordination no longer
# asked for. A notice about such an assignment does not link to the inquiry.
GONE_ASSIGNMENT_STATUSES = ("reassigned", "returned", "cancelled")


class InboxEvent(Base):
    """One webhook event exactly as Facebook sent it, written before anything else happens.

    `dedup_key` is Facebook's own id where there is one (message mid, comment id) and a
    hash of the event otherwise, so a redelivered event is never stored twice.
    """

    __tablename__ = "inbox_events"

    id = Column(Integer, primary_key=True)
    # the channel whose adapter reads `payload` (bot/channels); the core never reads it itself
    channel = Column(String(16), nullable=False, default="messenger", server_default="messenger")
    dedup_key = Column(String(255), nullable=False, unique=True)
    object = Column(String(32), nullable=False, default="page")
    page_id = Column(String(64), nullable=True, index=True)
    kind = Column(String(48), nullable=False)
    sender_id = Column(String(64), nullable=True, index=True)
    payload = Column(JSONText, nullable=False)
    received_at = Column(UTCDateTime, nullable=False)
    # pending -> processing -> done | ignored | parked | failed
    status = Column(String(16), nullable=False, default="pending")
    attempts = Column(Integer, nullable=False, default=0)
    lease_until = Column(UTCDateTime, nullable=True)
    processed_at = Column(UTCDateTime, nullable=True)
    outcome = Column(String(255), nullable=True)
    error = Column(ErrorText, nullable=True)

    __table_args__ = (Index("ix_inbox_status_id", "status", "id"),)


class Inquiry(Base):
    """A business's question or complaint, with how it was classified and routed."""

    __tablename__ = "inquiries"

    id = Column(Integer, primary_key=True)
    code = Column(String(32), nullable=True, unique=True)
    source_event_id = Column(Integer, ForeignKey("inbox_events.id"), nullable=False, unique=True)
    page_id = Column(String(64), nullable=False, index=True)
    sender_id = Column(String(64), nullable=False, index=True)
    # where the business wrote, as its channel's adapter names it ("messenger", "comment", ...)
    channel = Column(String(16), nullable=False, default="messenger")
    # the channel plug-in that answers, and the address it answers at (its own shape)
    reply_channel = Column(String(16), nullable=False, default="messenger", server_default="messenger")
    reply_to = Column(JSONText, nullable=True)
    language = Column(String(8), nullable=False, default="vi")
    text = Column(PlainText, nullable=False)
    intent = Column(String(64), nullable=True)
    confidence = Column(Float, nullable=True)
    entities = Column(JSONText, nullable=True)
    needs_review = Column(Boolean, nullable=False, default=False)
    model_version = Column(String(64), nullable=True)
    # An officer's correction of the domain (`flask inquiries assign … --domain`): `intent`
    # stays the classifier's prediction; the NLU inbox reads the correction as a label.
    corrected_intent = Column(String(64), nullable=True)
    corrected_by = Column(String(128), nullable=True)
    corrected_at = Column(UTCDateTime, nullable=True)
    unit_code = Column(String(64), nullable=True, index=True)
    # triage (standing office must assign) | assigned | answered | closed
    status = Column(String(16), nullable=False)
    routing_trace = Column(JSONText, nullable=True)
    received_at = Column(UTCDateTime, nullable=False)
    due_at = Column(UTCDateTime, nullable=True)
    answered_at = Column(UTCDateTime, nullable=True)
    answered_by = Column(String(128), nullable=True)  # officer, or "page inbox" for a human reply
    answer_text = Column(PlainText, nullable=True)
    # how the clock was stopped (cases.answers): approved (an approved draft was sent) | recorded
    # (given another way, e.g. by phone: `answered_how`) | page (typed on the channel's page itself,
    # e.g. Meta Business Suite: "gửi không qua phê duyệt", counted in the weekly report)
    answered_via = Column(String(16), nullable=True)
    answered_how = Column(String(16), nullable=True)  # recorded: phone | email | in_person | letter | other
    post_id = Column(String(128), nullable=True)  # comments: the post commented on
    comment_id = Column(String(128), nullable=True)  # comments: the comment (unique, see __table_args__)
    attachments = Column(JSONText, nullable=True)  # [{"type": "image", "url": ...}]
    removed_at = Column(UTCDateTime, nullable=True)  # comment removed or hidden
    # what the prohibited-content filter found in the business's message, for the officer
    # (cases/screening.py): "tin nhắn có nội dung … (quy tắc …)"; None: nothing
    moderation_note = Column(PlainText, nullable=True)
    # `text` as the console's search compares it (store.search: folded, without diacritics,
    # its phone numbers as digits), set with the text
    search_text = Column(PlainText, nullable=True)
    created_at = Column(UTCDateTime, nullable=False)
    updated_at = Column(UTCDateTime, nullable=False)

    assignments = relationship("Assignment", back_populates="inquiry", order_by="Assignment.id")

    __table_args__ = (UniqueConstraint("comment_id", name="uq_inquiries_comment_id"),)

    @validates("text")
    def _searchable(self, _key, value):
        self.search_text = searchable(value)
        return value


class Assignment(Base):
    """A unit's duty on an inquiry with its own deadline (lead, coordination or triage)."""

    __tablename__ = "assignments"

    id = Column(Integer, primary_key=True)
    inquiry_id = Column(Integer, ForeignKey("inquiries.id"), nullable=False, index=True)
    unit_code = Column(String(64), nullable=False, index=True)
    role = Column(String(16), nullable=False)  # lead | coordinate | triage
    working_days = Column(Integer, nullable=False)
    assigned_at = Column(UTCDateTime, nullable=False)
    due_at = Column(UTCDateTime, nullable=False)
    status = Column(String(16), nullable=False, default="open")  # open | answered | cancelled
    answered_at = Column(UTCDateTime, nullable=True)
    updated_at = Column(UTCDateTime, nullable=False)

    inquiry = relationship("Inquiry", back_populates="assignments")

    __table_args__ = (Index("ix_assignments_status_updated", "status", "updated_at"),
                      # a unit's queue: its open duties by urgency (cases.worklists)
                      Index("ix_assignments_unit_status_due", "unit_code", "status", "due_at"))


class InquiryMessage(Base):
    """Everything said on an inquiry's thread, both ways, in order.

    `ref` is the channel's own id of a message the business wrote (Messenger's mid, a
    comment's id), by which a later edit finds it; `text` is its current text and `revision`
    the edit that text comes from (None: as first received). Earlier versions are kept in
    message_versions."""

    __tablename__ = "inquiry_messages"

    id = Column(Integer, primary_key=True)
    inquiry_id = Column(Integer, ForeignKey("inquiries.id"), nullable=False, index=True)
    direction = Column(String(8), nullable=False)  # in | out
    source = Column(String(32), nullable=False)  # messenger | comment | page_inbox | bot | officer
    text = Column(PlainText, nullable=True)
    attachments = Column(JSONText, nullable=True)
    event_id = Column(Integer, ForeignKey("inbox_events.id"), nullable=True, unique=True)
    created_at = Column(UTCDateTime, nullable=False)
    ref = Column(String(200), nullable=True, index=True)  # as long as a mid may be (bot/channels/messenger/events.py)
    revision = Column(Integer, nullable=True)


class MessageVersion(Base):
    """One version of a message the business edited, with when it was written: the text as
    first received (revision 0, copied when the first edit arrives) and every edit, even one
    delivered after a later one (it is history then, never the current text)."""

    __tablename__ = "message_versions"

    id = Column(Integer, primary_key=True)
    message_id = Column(Integer, ForeignKey("inquiry_messages.id"), nullable=False, index=True)
    revision = Column(Integer, nullable=False)  # 0: as first received; then the channel's edit number
    text = Column(PlainText, nullable=True)
    written_at = Column(UTCDateTime, nullable=False)  # when the business wrote this version
    event_id = Column(Integer, ForeignKey("inbox_events.id"), nullable=True)  # the edit's event (none for 0)
    recorded_at = Column(UTCDateTime, nullable=False)

    __table_args__ = (UniqueConstraint("message_id", "revision", name="uq_message_versions_revision"),)


class Conversation(Base):
    """Per (page, user) state: who owns the thread, the 24-hour window, contact details."""

    __tablename__ = "conversations"

    page_id = Column(String(64), primary_key=True)
    sender_id = Column(String(64), primary_key=True)
    thread_owner_app_id = Column(String(64), nullable=True)  # None: we own it (or nobody said)
    last_user_message_at = Column(UTCDateTime, nullable=True)
    language = Column(String(8), nullable=True)
    phone = Column(String(32), nullable=True)
    email = Column(String(255), nullable=True)
    contact_asked_at = Column(UTCDateTime, nullable=True)
    delivered_watermark = Column(UTCDateTime, nullable=True)
    read_watermark = Column(UTCDateTime, nullable=True)
    # The person's name as the channel gives it (Messenger's user profile, a comment's author),
    # for the officers' notices; `display_name_at` is when it was last asked for (also when the
    # channel refused: then `display_name` keeps what was known, or stays empty).
    display_name = Column(PlainText, nullable=True)
    display_name_at = Column(UTCDateTime, nullable=True)
    # the name, e-mail and phone as the console's search compares them (store.search), set with them
    search_text = Column(PlainText, nullable=True)
    updated_at = Column(UTCDateTime, nullable=False)

    @validates("display_name", "email", "phone")
    def _searchable(self, key, value):
        given = {"display_name": self.display_name, "email": self.email, "phone": self.phone, key: value}
        self.search_text = searchable(given["display_name"], given["email"], given["phone"])
        return value


class FollowupChoice(Base):
    """A follow-up that reads as a new matter, waiting for the business to say whether it adds
    to the open inquiry or is a new question (bot/conversation/followup.py). Its own inbox
    event opens the new inquiry, so that inquiry is unique like any other; no answer by
    `due_at` opens it (swept by the worker's loop)."""

    __tablename__ = "followup_choices"

    id = Column(Integer, primary_key=True)
    event_id = Column(Integer, ForeignKey("inbox_events.id"), nullable=False, unique=True)
    inquiry_id = Column(Integer, ForeignKey("inquiries.id"), nullable=False)  # the open inquiry it may join
    page_id = Column(String(64), nullable=False)
    sender_id = Column(String(64), nullable=False)
    channel = Column(String(16), nullable=False)  # where it was written (the inquiry's channel)
    reply_channel = Column(String(16), nullable=False)
    reply_to = Column(JSONText, nullable=True)
    text = Column(PlainText, nullable=False)
    language = Column(String(8), nullable=False)
    attachments = Column(JSONText, nullable=True)
    classification = Column(JSONText, nullable=False)  # nlu Classification.as_dict(), acted on as it was
    moderation_note = Column(PlainText, nullable=True)
    reason = Column(String(255), nullable=False)  # why it reads as a new matter
    sent_at = Column(UTCDateTime, nullable=False)
    received_at = Column(UTCDateTime, nullable=False)
    due_at = Column(UTCDateTime, nullable=False)
    # pending -> joined (added to inquiry_id) | opened (a new inquiry, result_inquiry_id)
    status = Column(String(16), nullable=False, default="pending")
    result_inquiry_id = Column(Integer, ForeignKey("inquiries.id"), nullable=True)
    resolved_by = Column(String(16), nullable=True)  # button | text | timeout
    resolved_at = Column(UTCDateTime, nullable=True)
    created_at = Column(UTCDateTime, nullable=False)

    __table_args__ = (Index("ix_followup_choices_status_due", "status", "due_at"),
                      Index("ix_followup_choices_sender", "page_id", "sender_id", "status"))


class ModerationRecord(Base):
    """What the prohibited-content filter found and what was done (Decision 3887, Art. 9.5(b)):
    a comment hidden, a message flagged for the officer."""

    __tablename__ = "moderation_records"

    id = Column(Integer, primary_key=True)
    page_id = Column(String(64), nullable=False, index=True)
    channel = Column(String(16), nullable=False)  # the channel plug-in
    source = Column(String(16), nullable=False)  # comment | messenger | ...
    event_id = Column(Integer, ForeignKey("inbox_events.id"), nullable=True, unique=True)
    sender_id = Column(String(64), nullable=True)
    post_id = Column(String(128), nullable=True)
    comment_id = Column(String(128), nullable=True)
    message_ref = Column(String(255), nullable=True)  # the channel's id of a private message, if any
    inquiry_id = Column(Integer, ForeignKey("inquiries.id"), nullable=True, index=True)
    action = Column(String(16), nullable=False)  # hide | flag
    rule_ids = Column(JSONText, nullable=False)  # ["insult_vi_01", ...]
    categories = Column(JSONText, nullable=False)  # ["insult", ...]
    reason = Column(PlainText, nullable=False)  # Verdict.reason_vi
    excerpt = Column(PlainText, nullable=False)  # the text, cut; personal data masked
    created_at = Column(UTCDateTime, nullable=False)


class PagePost(Base):
    """A page's own post, counted per ISO week (Decision 3887 asks each unit for 5 a week)."""

    __tablename__ = "page_posts"

    id = Column(Integer, primary_key=True)
    page_id = Column(String(64), nullable=False, index=True)
    post_id = Column(String(128), nullable=False, unique=True)
    iso_week = Column(String(8), nullable=False, index=True)  # e.g. 2026-W48 (local time)
    created_at = Column(UTCDateTime, nullable=False)
    removed_at = Column(UTCDateTime, nullable=True)


class OutboxAttempt(Base):
    """Every attempt to send an outbox message, with its outcome."""

    __tablename__ = "outbox_attempts"

    id = Column(Integer, primary_key=True)
    outbox_id = Column(Integer, ForeignKey("outbox.id"), nullable=False, index=True)
    attempt = Column(Integer, nullable=False)
    at = Column(UTCDateTime, nullable=False)
    outcome = Column(String(16), nullable=False)  # sent | retry | failed | held
    http_status = Column(Integer, nullable=True)
    error_code = Column(Integer, nullable=True)
    error = Column(ErrorText, nullable=True)


class SchedulerLock(Base):
    """The one active scheduler: a lease row that the holder renews (issue 6)."""

    __tablename__ = "scheduler_lock"

    name = Column(String(32), primary_key=True)
    holder = Column(String(128), nullable=False)
    acquired_at = Column(UTCDateTime, nullable=False)
    expires_at = Column(UTCDateTime, nullable=False)


class OfficerLink(Base):
    """An officer who linked their Messenger account (one-time code sent to the page)."""

    __tablename__ = "officer_links"

    id = Column(Integer, primary_key=True)
    unit_code = Column(String(64), nullable=False, index=True)
    email = Column(String(255), nullable=False)
    page_id = Column(String(64), nullable=False)
    code = Column(String(16), nullable=False, unique=True)
    psid = Column(String(64), nullable=True)
    created_at = Column(UTCDateTime, nullable=False)
    linked_at = Column(UTCDateTime, nullable=True)
    last_message_at = Column(UTCDateTime, nullable=True)


class DeadlineChange(Base):
    """Who moved a deadline, when, and why (the decision requires an audit trail)."""

    __tablename__ = "deadline_changes"

    id = Column(Integer, primary_key=True)
    assignment_id = Column(Integer, ForeignKey("assignments.id"), nullable=False, index=True)
    old_due_at = Column(UTCDateTime, nullable=True)
    new_due_at = Column(UTCDateTime, nullable=False)
    changed_by = Column(String(128), nullable=False)
    reason = Column(PlainText, nullable=False)
    changed_at = Column(UTCDateTime, nullable=False)


class DeliveryState:
    """What every delivery queue keeps: where the row stands and what its last attempt said."""

    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(UTCDateTime, nullable=False)
    last_error = Column(ErrorText, nullable=True)
    created_at = Column(UTCDateTime, nullable=False)
    sent_at = Column(UTCDateTime, nullable=True)


class Outbox(DeliveryState, Base):
    """A message to a business, written in the same transaction as what caused it."""

    __tablename__ = "outbox"

    id = Column(Integer, primary_key=True)
    idempotency_key = Column(String(255), nullable=False, unique=True)
    # the channel whose sender delivers it; `recipient` is that channel's own address (the
    # adapter's reply target, copied as it is: the core never reads inside it)
    channel = Column(String(16), nullable=False, default="messenger", server_default="messenger")
    page_id = Column(String(64), nullable=False)
    recipient = Column(JSONText, nullable=False)
    message = Column(JSONText, nullable=False)  # cases.outbox.Reply as JSON: {"text", "choices"}
    messaging_type = Column(String(32), nullable=False, default="RESPONSE")
    tag = Column(String(64), nullable=True)
    # who wrote it (the messaging policy differs): bot | human
    author = Column(String(8), nullable=False, default="bot", server_default="bot")
    # message: to the person, privately | comment_reply: a public reply where they wrote in public
    # | hide_comment: hide the comment at `recipient` (prohibited content; `message` is empty)
    kind = Column(String(16), nullable=False, default="message", server_default="message")
    inquiry_id = Column(Integer, ForeignKey("inquiries.id"), nullable=True, index=True)
    # pending | sent | failed | undeliverable (outside Messenger's window) | held (another app owns the thread)
    # | blocked (the bot's own text hit the prohibited-content filter: never sent, reason in last_error)
    status = Column(String(16), nullable=False, default="pending")
    provider_message_id = Column(String(255), nullable=True)

    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)


class Notification(DeliveryState, Base):
    """A message to officers (email today), recorded whatever its outcome."""

    __tablename__ = "notifications"

    id = Column(Integer, primary_key=True)
    idempotency_key = Column(String(255), nullable=False, unique=True)
    inquiry_id = Column(Integer, ForeignKey("inquiries.id"), nullable=True, index=True)
    assignment_id = Column(Integer, ForeignKey("assignments.id"), nullable=True, index=True)
    kind = Column(String(32), nullable=False)  # assigned | reminder | escalation
    channel = Column(String(16), nullable=False, default="email")
    recipients = Column(JSONText, nullable=False)
    subject = Column(PlainText, nullable=False)
    body_text = Column(PlainText, nullable=False)
    body_html = Column(PlainText, nullable=True)
    status = Column(String(16), nullable=False, default="pending")  # pending | sent | failed

    __table_args__ = (Index("ix_notifications_status_next", "status", "next_attempt_at"),)


class Draft(Base):
    """An answer to a business written by a unit, approved by another person before it is sent
    (Decision 3887, Art. 9.5(a) and 8.4; cases.answers). Every step is in `draft_events`."""

    __tablename__ = "drafts"

    id = Column(Integer, primary_key=True)
    inquiry_id = Column(Integer, ForeignKey("inquiries.id"), nullable=False)
    unit_code = Column(String(64), nullable=False)  # the lead unit whose answer it is
    author = Column(String(255), nullable=False)  # e-mail, lower case
    author_role = Column(String(32), nullable=False)  # officer | head | standing_office | admin
    # the author is one of the unit's approvers (a head): the draft may go to the standing office
    author_approver = Column(Boolean, nullable=False, default=False)
    language = Column(String(8), nullable=False)
    text = Column(PlainText, nullable=False)
    # draft | submitted | returned | approved | sent | undeliverable | withdrawn | superseded
    status = Column(String(16), nullable=False)
    previous_id = Column(Integer, ForeignKey("drafts.id"), nullable=True)  # the returned draft it follows
    submitted_at = Column(UTCDateTime, nullable=True)
    decided_by = Column(String(255), nullable=True)  # who approved or returned it
    decided_at = Column(UTCDateTime, nullable=True)
    return_reason = Column(PlainText, nullable=True)
    outbox_id = Column(Integer, ForeignKey("outbox.id"), nullable=True, unique=True)
    sent_at = Column(UTCDateTime, nullable=True)
    created_at = Column(UTCDateTime, nullable=False)
    updated_at = Column(UTCDateTime, nullable=False)

    __table_args__ = (Index("ix_drafts_inquiry_unit", "inquiry_id", "unit_code", "id"),
                      Index("ix_drafts_status_unit", "status", "unit_code"))


class DraftEvent(Base):
    """One step of a draft's history: who did what, when, with the text or reason."""

    __tablename__ = "draft_events"

    id = Column(Integer, primary_key=True)
    draft_id = Column(Integer, ForeignKey("drafts.id"), nullable=False, index=True)
    at = Column(UTCDateTime, nullable=False)
    by = Column(String(255), nullable=False)  # a person's e-mail, or "delivery" for the sender's outcome
    # created | edited | submitted | approved | returned | sent | undeliverable | withdrawn | superseded
    action = Column(String(16), nullable=False)
    text = Column(PlainText, nullable=True)  # the text at this step (created, edited)
    note = Column(PlainText, nullable=True)  # a return's reason, a delivery's outcome


class CaseNote(Base):
    """Something said inside the administration about an inquiry, never sent to the business:
    a coordinating unit's input (kind coordination_input) for the lead unit."""

    __tablename__ = "case_notes"

    id = Column(Integer, primary_key=True)
    inquiry_id = Column(Integer, ForeignKey("inquiries.id"), nullable=False, index=True)
    assignment_id = Column(Integer, ForeignKey("assignments.id"), nullable=True)
    unit_code = Column(String(64), nullable=False)
    author = Column(String(255), nullable=False)
    kind = Column(String(32), nullable=False)
    text = Column(PlainText, nullable=False)
    created_at = Column(UTCDateTime, nullable=False)


class DeliveryCircuit(Base):
    """A circuit breaker of a delivery queue, per channel and scope (a page for the outbox, a
    unit for notifications), kept in the database so that every worker and the scheduler
    share it (store/circuits.py): while it is open, one probe at a time goes out."""

    __tablename__ = "delivery_circuits"

    queue = Column(String(16), primary_key=True)  # outbox | notifications
    channel = Column(String(16), primary_key=True)  # messenger | email | ...
    scope = Column(String(64), primary_key=True)  # page id (outbox), unit code (notifications), "-"
    state = Column(String(8), nullable=False, default="closed")  # closed | open
    reason = Column(String(16), nullable=True)  # temporary | rate_limit | credentials (the last failure's kind)
    failures = Column(Integer, nullable=False, default=0)  # consecutive failures
    failing_since = Column(UTCDateTime, nullable=True)  # the first failure of the current streak
    probe_at = Column(UTCDateTime, nullable=True)  # open: when the next probe may go
    alerted_at = Column(UTCDateTime, nullable=True)  # when people were told about this streak
    last_error = Column(ErrorText, nullable=True)
    updated_at = Column(UTCDateTime, nullable=False)


class Heartbeat(Base):
    """Last sign of life of each long-running process, for /healthz."""

    __tablename__ = "heartbeats"

    name = Column(String(32), primary_key=True)
    beat_at = Column(UTCDateTime, nullable=False)
    info = Column(JSONText, nullable=True)


class SandboxGraphCall(Base):
    """What the local Graph API stand-in received (development sandbox only)."""

    __tablename__ = "sandbox_graph_calls"

    id = Column(Integer, primary_key=True)
    path = Column(String(255), nullable=False)
    page_id = Column(String(64), nullable=True)
    recipient_id = Column(String(128), nullable=True, index=True)
    body = Column(JSONText, nullable=False)
    received_at = Column(UTCDateTime, nullable=False)


class SandboxMail(Base):
    """An email caught by the development SMTP sink, shown in the sandbox."""

    __tablename__ = "sandbox_mail"

    id = Column(Integer, primary_key=True)
    mail_from = Column(String(255), nullable=False)
    rcpt_to = Column(JSONText, nullable=False)
    subject = Column(Text, nullable=True)
    body_text = Column(Text, nullable=True)
    received_at = Column(UTCDateTime, nullable=False)




class ClassificationRecord(Base):
    """A message the bot classified, as the admins' NLU inbox shows it (issue 13).

    Written by the conversation in the same transaction as the event's outcome, so a record
    exists exactly when the message's handling committed. The decision columns are the
    admin's: `status` pending -> confirmed | relabelled | discarded, `label` the intent the
    example is trained under, `training_text` the text with personal data replaced.
    `version` grows with each decision, so two admins deciding at once cannot both win.
    """

    __tablename__ = "classifications"

    id = Column(Integer, primary_key=True)
    event_id = Column(Integer, ForeignKey("inbox_events.id"), nullable=True, unique=True)  # None: imported
    page_id = Column(String(64), nullable=True, index=True)
    channel = Column(String(16), nullable=True)
    language = Column(String(8), nullable=False, default="vi")
    text = Column(PlainText, nullable=False)  # as the business wrote it
    normalized = Column(PlainText, nullable=False)  # nlu.normalize: what the model saw
    intent = Column(String(64), nullable=True)
    confidence = Column(Float, nullable=False, default=0.0)
    runner_up = Column(String(64), nullable=True)
    runner_up_confidence = Column(Float, nullable=True)
    ranking = Column(JSONText, nullable=True)  # [[intent, confidence], ...]
    needs_review = Column(Boolean, nullable=False, default=True)
    routed_automatically = Column(Boolean, nullable=False, default=False)
    outcome = Column(String(16), nullable=False)  # inquiry | small_talk | followup | comment | imported
    model_version = Column(String(64), nullable=True)
    inquiry_id = Column(Integer, ForeignKey("inquiries.id"), nullable=True, index=True)
    created_at = Column(UTCDateTime, nullable=False)
    status = Column(String(16), nullable=False, default="pending", server_default="pending")
    label = Column(String(64), nullable=True)
    training_text = Column(PlainText, nullable=True)
    decided_by = Column(String(128), nullable=True)
    decided_at = Column(UTCDateTime, nullable=True)
    version = Column(Integer, nullable=False, default=0, server_default="0")

    __table_args__ = (Index("ix_classifications_status_created", "status", "created_at"),)


class TrainingJob(Base):
    """A retraining the admins asked for; the worker runs it (never the web process)."""

    __tablename__ = "training_jobs"

    id = Column(Integer, primary_key=True)
    requested_by = Column(String(128), nullable=False)
    status = Column(String(16), nullable=False, default="queued")  # queued | running | done | failed | skipped
    # 1 while queued or running, NULL after: the unique constraint admits one such job at a time
    busy = Column(Integer, nullable=True, unique=True)
    progress = Column(Integer, nullable=False, default=0)  # percent
    log = Column(PlainText, nullable=True)
    candidate_version = Column(String(64), nullable=True)
    comparison = Column(JSONText, nullable=True)  # tuning.gate.Comparison.as_dict()
    error = Column(ErrorText, nullable=True)
    requested_at = Column(UTCDateTime, nullable=False)
    started_at = Column(UTCDateTime, nullable=True)
    finished_at = Column(UTCDateTime, nullable=True)
    updated_at = Column(UTCDateTime, nullable=False)  # a running job's sign of life

    __table_args__ = (Index("ix_training_jobs_status", "status", "id"),)


class NluModel(Base):
    """Every trained model: its evaluation, data fingerprint, who trained and activated it."""

    __tablename__ = "nlu_models"

    version = Column(String(64), primary_key=True)
    archive = Column(String(255), nullable=False)  # file name inside the model directory
    sha256 = Column(String(64), nullable=False)  # of the archive that was loaded and evaluated
    fingerprint = Column(String(64), nullable=False)
    examples = Column(Integer, nullable=False, default=0)
    trained_by = Column(String(128), nullable=False)
    trained_at = Column(UTCDateTime, nullable=False)
    training_seconds = Column(Float, nullable=True)
    job_id = Column(Integer, ForeignKey("training_jobs.id"), nullable=True)
    scores = Column(JSONText, nullable=True)  # tuning.gate.summary() on the held-out set
    activated_by = Column(String(128), nullable=True)  # the last activation
    activated_at = Column(UTCDateTime, nullable=True)


class NluActivation(Base):
    """Each switch of the active model, in order: rollback returns to the one before."""

    __tablename__ = "nlu_activations"

    id = Column(Integer, primary_key=True)
    version = Column(String(64), ForeignKey("nlu_models.version"), nullable=False)
    previous_version = Column(String(64), nullable=True)
    kind = Column(String(16), nullable=False)  # activate | rollback
    by = Column(String(128), nullable=False)
    at = Column(UTCDateTime, nullable=False)
    override_reason = Column(PlainText, nullable=True)  # the gate refused; the admin's written reason
    gate = Column(JSONText, nullable=True)  # the gate's verdict at the time


class User(Base):
    """A person of the officers' console: one unit, one role (bot/console/accounts.py).

    `email` is kept normalised (NFC, trimmed, lower case), so one address is one account.
    `password_hash` is argon2 (None until the person sets a password through a one-time
    link). `session_nonce` is part of every session's user id: changing it (logout,
    password change, reset, disable) ends every session of the account at once, although
    the sessions themselves live in signed cookies.
    """

    __tablename__ = "users"

    id = Column(Integer, primary_key=True)
    email = Column(String(255), nullable=False, unique=True)
    unit_code = Column(String(64), nullable=False, index=True)
    role = Column(String(16), nullable=False)  # officer | head | standing_office | admin
    password_hash = Column(String(255), nullable=True)
    active = Column(Boolean, nullable=False, default=True)
    session_nonce = Column(String(64), nullable=False)
    password_changed_at = Column(UTCDateTime, nullable=True)
    last_login_at = Column(UTCDateTime, nullable=True)
    created_at = Column(UTCDateTime, nullable=False)
    updated_at = Column(UTCDateTime, nullable=False)


class PasswordToken(Base):
    """A one-time link to set a password: only the SHA-256 of the token is stored; it is
    single use (`used_at`) and expires (`expires_at`, console.password_link_hours)."""

    __tablename__ = "password_tokens"

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id"), nullable=False, index=True)
    token_hash = Column(String(64), nullable=False, unique=True)
    purpose = Column(String(16), nullable=False)  # invite | reset
    created_by = Column(String(255), nullable=False)
    created_at = Column(UTCDateTime, nullable=False)
    expires_at = Column(UTCDateTime, nullable=False)
    used_at = Column(UTCDateTime, nullable=True)


class AuditEntry(Base):
    """Who did what, when, from which address (store/audit.py writes it; the console shows it).

    The login throttle counts failures from here (by the e-mail typed and by the address), so
    every process and every web worker sees the same count.
    """

    __tablename__ = "audit_log"

    id = Column(Integer, primary_key=True)
    at = Column(UTCDateTime, nullable=False, index=True)
    actor = Column(String(255), nullable=True)  # an account's e-mail, or a process ("worker", "cli:root")
    actor_id = Column(Integer, ForeignKey("users.id"), nullable=True, index=True)
    address = Column(String(64), nullable=True)  # client address (web), "cli", or None
    action = Column(String(64), nullable=False)  # login.ok, login.failed, user.create, draft.approve, ...
    object_type = Column(String(32), nullable=True)  # account | user | inquiry | draft | ...
    object_id = Column(String(255), nullable=True)
    details = Column(JSONText, nullable=True)

    __table_args__ = (
        Index("ix_audit_object", "object_type", "object_id", "at"),
        Index("ix_audit_address", "address", "at"),
        Index("ix_audit_action_at", "action", "at"),
    )
