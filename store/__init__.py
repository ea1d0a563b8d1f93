"""Persistence shared by the web, worker and scheduler processes.

Nothing here imports Flask or Rasa: every process builds a :class:`Database`
from a URL and works with plain SQLAlchemy sessions (2.0 style on 1.4).
"""
from store.db import Database, utcnow
from store.models import (
    OPEN_INQUIRY_STATUSES,
    Assignment,
    Base,
    Conversation,
    DeadlineChange,
    DeliveryCircuit,
    Heartbeat,
    InboxEvent,
    Inquiry,
    InquiryMessage,
    Notification,
    OfficerLink,
    Outbox,
    OutboxAttempt,
    PagePost,
    SandboxGraphCall,
    SandboxMail,
    SchedulerLock,
)

__all__ = [
    "OPEN_INQUIRY_STATUSES",
    "Assignment",
    "Base",
    "Conversation",
    "Database",
    "DeadlineChange",
    "DeliveryCircuit",
    "Heartbeat",
    "InboxEvent",
    "Inquiry",
    "InquiryMessage",
    "Notification",
    "OfficerLink",
    "Outbox",
    "OutboxAttempt",
    "PagePost",
    "SandboxGraphCall",
    "SandboxMail",
    "SchedulerLock",
    "utcnow",
]
