"""Buttons a person taps (postbacks): the known ones do what they say, an unknown one or one
without a payload starts over with the welcome and the menu."""
from __future__ import annotations

import copy

import pytest

from store import Inquiry
from tests.conftest import load_fixture
from tests.test_channel import channel  # noqa: F401  (the fixture)


def postback(payload):
    body = copy.deepcopy(load_fixture("postback_get_started.json"))
    event = body["entry"][0]["messaging"][0]
    if payload is None:
        event["postback"].pop("payload", None)
    else:
        event["postback"]["payload"] = payload
    return body


@pytest.mark.parametrize("payload, expected", [
    ("MENU_HELP", "menu: MENU_HELP"),
    ("SOMETHING_WE_NEVER_SENT", "menu: GET_STARTED"),
    (None, "menu: GET_STARTED"),
])
def test_a_button_does_what_it_says_or_starts_over(channel, graph, payload, expected):  # noqa: F811
    d = channel()
    d.post(postback(payload))
    [(kind, status, detail)] = d.outcomes()
    assert (kind, status, detail) == ("postback", "done", expected)
    [reply] = graph.calls
    if expected == "menu: GET_STARTED":
        assert [q["payload"] for q in reply.body["message"]["quick_replies"]] == [
            "MENU_SUBMIT", "MENU_STATUS", "MENU_HELP"]
    assert d.rows(Inquiry) == []
