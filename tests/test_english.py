"""A business writing in English reads English in every reply (issue 11, point 4): one walk
through every reply path, end to end, asserting that no Vietnamese diacritic reaches it
(except in the Decision's own number, "3887/QĐ-UBND")."""
from __future__ import annotations

import copy

from sqlalchemy import select

from nlu.normalize import has_diacritics
from store import Inquiry
from tests.conftest import FIXTURE_PAGE, SECOND_PAGE, load_fixture, signed_post

PAGE, PSID = "1234567890", "5678"  # image_attachment.json, postback_get_started.json
COMMENT_PAGE = "100473908465587"  # feed_comment_add.json
PAGES = [
    {"id": FIXTURE_PAGE, "name": "DDCI Quảng Ninh (test)", "unit": "BXT", "access_token_env": "TEST_TOKEN_DDCI"},
    {"id": SECOND_PAGE, "name": "Sở Xây dựng (test)", "unit": "SO_XD", "access_token_env": "TEST_TOKEN_SXD"},
    {"id": PAGE, "name": "DDCI (test 2)", "unit": "BXT", "access_token_env": "TEST_TOKEN_DDCI"},
    {"id": COMMENT_PAGE, "name": "DDCI (test 3)", "unit": "BXT", "access_token_env": "TEST_TOKEN_DDCI"},
]


def _text_of(call) -> str:
    message = call.body.get("message")
    if isinstance(message, str):  # a public reply under a comment
        return message
    titles = [q.get("title", "") for q in (message or {}).get("quick_replies") or []]
    return "\n".join([(message or {}).get("text", ""), *titles])


def test_every_reply_to_an_english_writer_is_english(make_app, trained_model, clock, graph, smtp):
    from bot import context, runtime

    app = make_app(pages=PAGES)
    client = app.test_client()
    with app.app_context():
        worker = runtime.worker(context.settings(), context.db(), clock)
    n = iter(range(1, 1000))

    def post(body):
        assert signed_post(client, body).status_code == 200
        worker.run_once()

    def message(**fields):
        body = load_fixture("image_attachment.json")
        body["entry"][0]["messaging"][0]["message"] = {"mid": f"m_en_{next(n)}", **fields}
        return body

    def say(text, **fields):
        post(message(text=text, **fields))

    def tap(payload):
        body = copy.deepcopy(load_fixture("postback_get_started.json"))
        event = body["entry"][0]["messaging"][0]
        event["postback"]["payload"], event["timestamp"] = payload, event["timestamp"] + next(n)
        post(body)

    def cli(*args):
        result = app.test_cli_runner().invoke(args=list(args))
        assert result.exit_code == 0, result.output
        worker.run_once()

    def inquiries():
        with app.app_context(), context.db().session() as s:
            return s.execute(select(Inquiry).order_by(Inquiry.id)).scalars().all()

    photo = {"attachments": [{"type": "image", "payload": {"url": "https://x.example/site.jpg"}}]}
    say("Hello!")  # small talk
    tap("get_started")  # welcome with the menu
    tap("MENU_HELP")
    tap("MENU_SUBMIT")
    say("Check an inquiry")  # the label typed: nothing open yet
    post(message(**photo))  # a photo alone: for the standing office (triage)
    clock.advance(hours=1)
    say("How do we apply for a construction permit for a new warehouse in Cam Pha?")  # assigned; contact asked
    say("0912 345 678")  # contact noted
    clock.advance(minutes=5)
    say("The warehouse is 2000 m2")  # a short addition joins
    post(message(**photo))  # an attachment joins
    clock.advance(minutes=5)
    say("How do we register social insurance for our new employees?")  # a new matter: asked
    choice = graph.messages_to(PSID)[-1].body["message"]["quick_replies"][1]["payload"]
    say("New question", quick_reply={"payload": choice})  # a new inquiry
    say("New question", quick_reply={"payload": choice})  # tapped again: already done
    say("Check an inquiry")  # status lines, with the units' English names
    tap("MENU_STATUS")
    say("Thank you so much")
    say("What's the weather going to be like in Ha Long this weekend?")  # out of scope
    warehouse = next(i for i in inquiries() if i.intent == "xay_dung")
    cli("inquiries", "assign", warehouse.code, "SO_NNMT", "--by", "bxt", "--reason", "đất đai")
    cli("inquiries", "answer", warehouse.code, "--by", "so.nnmt", "--text", "Please submit form 01 online.",
        "--approved-by", "giamdoc@sonnmt.quangninh.example")
    comment = load_fixture("feed_comment_add.json")
    comment["entry"][0]["changes"][0]["value"]["message"] = "How can we get a fire safety inspection for our factory?"
    post(comment)  # private and public acknowledgements

    replies = [(c.path, _text_of(c)) for c in graph.calls if "is_hidden" not in c.body]
    seen = "\n".join(text for _, text in replies)
    for expected in ("Hello!", "Welcome to DDCI Quang Ninh", "How it works:", "Please describe", "Submit an inquiry",
                     "You have no open inquiry", "Quang Ninh Investment Promotion and Support Board",
                     "leave a phone number", "noted your contact details", "Answering unit: Department of Construction",
                     "We have added this to your inquiry", "We have added the attachment",
                     "Does this add to your inquiry", "Add to my inquiry", "New question",
                     "already received as a new inquiry", "in progress, Department of Construction",
                     "Quang Ninh Social Insurance", "Thank you for contacting", "Answering unit: Department of Agriculture",
                     "Answer to inquiry", "has received this inquiry", "outside that scope"):
        assert expected in seen, f"{expected!r} was not sent: the walk missed a reply path"
    for path, text in replies:
        assert not has_diacritics(text.replace("3887/QĐ-UBND", "")), (path, text)
    assert len(inquiries()) == 4  # the photo, the warehouse, social insurance, the comment
