"""What the conversation writes for every message the classifier decided on.

One call, in the conversation's own session, so the record commits with the event's outcome
(bot/outcome.py): a worker killed before that commit leaves neither, and the retry writes
both once. This module imports no Flask and no Rasa (the Classification is plain data).
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from nlu.classifier import Classification
from store import ClassificationRecord

OUTCOMES = ("inquiry", "small_talk", "followup", "comment", "imported")


def record(s, result: Classification, *, event_id: Optional[int], page_id: Optional[str], channel: Optional[str],
           language: str, outcome: str, routed_automatically: bool, inquiry_id: Optional[int],
           at: datetime) -> ClassificationRecord:
    """Add the record of one classified message to session `s`.

    `routed_automatically`: the bot acted on the prediction without a person (answered the
    small talk, or gave the inquiry to a lead unit), as opposed to triage or a follow-up
    that joined an open inquiry. `inquiry_id`: the inquiry this message opened, whose
    officers' domain correction (inquiries.corrected_intent) pre-labels it in the inbox."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    ranking = [[name, float(conf)] for name, conf in result.ranking]
    runner = ranking[1] if len(ranking) > 1 else (None, None)
    row = ClassificationRecord(
        event_id=event_id, page_id=page_id, channel=channel, language=language, text=result.text,
        normalized=result.normalized or result.text, intent=result.intent, confidence=float(result.confidence),
        runner_up=runner[0], runner_up_confidence=runner[1], ranking=ranking, needs_review=result.needs_review,
        routed_automatically=routed_automatically, outcome=outcome, model_version=result.model_version,
        inquiry_id=inquiry_id, created_at=at, status="pending", version=0)
    s.add(row)
    return row
