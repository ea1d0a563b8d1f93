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
from sqlalchemy.orm import declarative_base, relationship

from store.types import ErrorText, JSONText, PlainText, UTCDateTime

Base = declarative_base()

# An inquiry someone still has to act on: the standing office (triage) or a unit (assigned).
OPEN_INQUIRY_STATUSES = ("triage", "assigned")


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
    unit_code = Column(String(64), nullable=True, index=True)
    # triage (standing office must assign) | assigned | answered | closed
    status = Column(String(16), nullable=False)
    routing_trace = Column(JSONText, nullable=True)
    received_at = Column(UTCDateTime, nullable=False)
    due_at = Column(UTCDateTime, nullable=True)
    answered_at = Column(UTCDateTime, nullable=True)
    answered_by = Column(String(128), nullable=True)  # officer, or "page inbox" for a human reply
    answer_text = Column(PlainText, nullable=True)
    post_id = Column(String(128), nullable=True)  # comments: the post commented on
    comment_id = Column(String(128), nullable=True)  # comments: the comment (unique, see __table_args__)
    attachments = Column(JSONText, nullable=True)  # [{"type": "image", "url": ...}]
    removed_at = Column(UTCDateTime, nullable=True)  # comment removed or hidden
    created_at = Column(UTCDateTime, nullable=False)
    updated_at = Column(UTCDateTime, nullable=False)

    assignments = relationship("Assignment", back_populates="inquiry", order_by="Assignment.id")

    __table_args__ = (UniqueConstraint("comment_id", name="uq_inquiries_comment_id"),)


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

    __table_args__ = (Index("ix_assignments_status_updated", "status", "updated_at"),)


class InquiryMessage(Base):
    """Everything said on an inquiry's thread, both ways, in order."""

    __tablename__ = "inquiry_messages"

    id = Column(Integer, primary_key=True)
    inquiry_id = Column(Integer, ForeignKey("inquiries.id"), nullable=False, index=True)
    direction = Column(String(8), nullable=False)  # in | out
    source = Column(String(32), nullable=False)  # messenger | comment | page_inbox | bot | officer
    text = Column(PlainText, nullable=True)
    attachments = Column(JSONText, nullable=True)
    event_id = Column(Integer, ForeignKey("inbox_events.id"), nullable=True, unique=True)
    created_at = Column(UTCDateTime, nullable=False)


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
    updated_at = Column(UTCDateTime, nullable=False)


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
    kind = Column(String(16), nullable=False, default="message", server_default="message")
    inquiry_id = Column(Integer, ForeignKey("inquiries.id"), nullable=True, index=True)
    # pending | sent | failed | undeliverable (outside Messenger's window) | held (another app owns the thread)
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


