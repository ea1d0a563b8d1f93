"""The one inquiry lifecycle, Flask-free: intake, assign / reassign / coordinate / complex,
answers, and the replies to the business (the only outbox writer). See cases/lifecycle.py."""
from cases.lifecycle import AlreadyOpened, CaseError, Casework, Intake, Opened, Rerouted
from cases.outbox import Address, Choice, Reply

__all__ = ["Address", "AlreadyOpened", "CaseError", "Casework", "Choice", "Intake", "Opened", "Reply", "Rerouted"]
