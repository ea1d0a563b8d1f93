"""The one inquiry lifecycle, Flask-free: intake, assign / reassign / coordinate / complex,
answers, and the replies to the business (the only outbox writer). See cases/lifecycle.py."""
from cases.errors import AlreadyOpened, CaseError, ContentBlocked
from cases.lifecycle import Casework, Intake, Opened
from cases.outbox import Address, Choice, Reply

__all__ = ["Address", "AlreadyOpened", "CaseError", "Casework", "ContentBlocked", "Choice", "Intake", "Opened", "Reply"]
