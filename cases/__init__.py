"""The one inquiry lifecycle, Flask-free: intake, assign / reassign / coordinate / complex,
answers (drafted, approved, sent or recorded), and the replies to the business (the only
outbox writer). See cases/lifecycle.py, cases/answers.py and cases/approval.py."""
from cases.answers import AnswerWindow, DraftView, Recorded
from cases.approval import Actor, Verdict
from cases.errors import AlreadyOpened, CaseError, Conflict, ContentBlocked, NotAllowed
from cases.lifecycle import Casework, Intake, Opened, Reminded, Rerouted
from cases.outbox import Address, Choice, Reply

__all__ = ["Actor", "Address", "AlreadyOpened", "AnswerWindow", "CaseError", "Casework", "Choice", "Conflict", "ContentBlocked",
           "DraftView", "Intake", "NotAllowed", "Opened", "Recorded", "Reminded", "Reply", "Rerouted", "Verdict"]
