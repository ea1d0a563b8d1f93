"""Walk EVERY route of the app (app.url_map) as nobody, as users of two units, as the
standing office and as an admin, and check what each gets.

A route added later is covered automatically: it fails here until it has a line in
EXPECTED (one status per person), and a route that takes an inquiry `code` is also requested
with the other unit's inquiry (unit A's officer must get 404, not 403: existence is not
leaked) and with a code that does not exist (404 for everyone). POSTs carry a valid CSRF
token and an empty form (test_console_security.py checks that a missing token gets 400).

To add a route: one line in EXPECTED, e.g.
    ("console.queue.index", "GET"): LOGGED_IN,
and, if it takes a new URL argument, a sample value in `samples` (the `world` fixture).
"""
from __future__ import annotations

import re

import pytest
from werkzeug.routing import Rule

from store import User
from tests.console import PEOPLE, Person, add_user, csrf_from, login, open_inquiry

WHO = ("anon", "officer_a", "head_a", "officer_b", "office", "admin")


def expect(anon, officer_a, head_a, officer_b, office, admin) -> dict[str, int]:
    return dict(zip(WHO, (anon, officer_a, head_a, officer_b, office, admin)))


def everyone(status: int) -> dict[str, int]:
    return expect(*[status] * len(WHO))


LOGGED_IN = expect(302, 200, 200, 200, 200, 200)  # anyone logged in; nobody else (to the login page)
STAFF = expect(302, 403, 403, 403, 200, 200)  # the standing office and admins
ADMIN = expect(302, 403, 403, 403, 403, 200)
# routes taking an inquiry code are walked with unit A's inquiry: unit B gets 404
UNIT_A_INQUIRY = expect(302, 200, 200, 404, 200, 200)
# actions on unit A's inquiry with an empty form: those who may get 422 (incomplete), others 403
TRIAGE_ACTION = expect(302, 403, 403, 404, 422, 403)  # the standing office's
LEAD_UNIT_ACTION = expect(302, 422, 422, 404, 403, 403)  # the lead unit's

EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    # the console
    ("console.static", "GET"): everyone(200),
    ("console.auth.login", "GET"): expect(200, 302, 302, 302, 302, 302),  # logged in: on to the home page
    ("console.auth.login", "POST"): everyone(200),  # an empty form comes back with its errors
    ("console.auth.logout", "POST"): everyone(302),
    ("console.auth.change_password", "GET"): LOGGED_IN,
    ("console.auth.change_password", "POST"): LOGGED_IN,
    ("console.auth.open_link", "GET"): everyone(404),  # a token that was never issued
    ("console.auth.set_password", "GET"): everyone(404),  # no link opened in this session
    ("console.auth.set_password", "POST"): everyone(404),
    ("console.home.index", "GET"): LOGGED_IN,  # each role's own first page, rendered in place
    ("console.queue.index", "GET"): LOGGED_IN,
    ("console.triage.index", "GET"): STAFF,
    ("console.triage.assign", "POST"): TRIAGE_ACTION,
    ("console.overview.index", "GET"): LOGGED_IN,
    ("console.overview.report", "GET"): STAFF,  # the sample: last week's workbook, built on first request
    ("console.inquiries.index", "GET"): LOGGED_IN,
    ("console.inquiries.show", "GET"): UNIT_A_INQUIRY,
    ("console.inquiries.thread", "GET"): UNIT_A_INQUIRY,
    # the inquiry's actions, posted with an empty form (the sample draft is withdrawn): 422 an
    # incomplete form, 403 not theirs to do, 409 the draft is no longer in that state
    ("console.actions.draft", "POST"): expect(302, 422, 422, 404, 422, 403),
    ("console.actions.edit", "POST"): expect(302, 422, 422, 404, 422, 422),
    ("console.actions.submit", "POST"): expect(302, 409, 403, 404, 403, 403),  # the author only
    ("console.actions.withdraw", "POST"): expect(302, 409, 403, 404, 403, 403),
    ("console.actions.approve", "POST"): expect(302, 409, 409, 404, 409, 409),  # nothing awaits approval
    ("console.actions.return_draft", "POST"): expect(302, 422, 422, 404, 422, 422),
    ("console.actions.record", "POST"): LEAD_UNIT_ACTION,
    ("console.actions.give_input", "POST"): expect(302, 403, 403, 404, 403, 403),  # nobody coordinates
    ("console.actions.mark_complex", "POST"): expect(302, 422, 422, 404, 422, 403),
    ("console.actions.send_back", "POST"): LEAD_UNIT_ACTION,
    ("console.actions.assign", "POST"): TRIAGE_ACTION,
    ("console.actions.coordinate", "POST"): TRIAGE_ACTION,
    ("console.actions.remind", "POST"): TRIAGE_ACTION,
    ("console.audit.index", "GET"): STAFF,
    ("console.admin.users", "GET"): ADMIN,
    ("console.admin.users", "POST"): ADMIN,  # the empty form again, with its errors
    ("console.admin.edit_user", "GET"): ADMIN,
    ("console.admin.edit_user", "POST"): ADMIN,
    ("console.admin.disable_user", "POST"): expect(302, 403, 403, 403, 403, 302),
    ("console.admin.enable_user", "POST"): expect(302, 403, 403, 403, 403, 302),
    ("console.admin.reset_user", "POST"): ADMIN,  # the page with the new link
    ("console.admin.units", "GET"): ADMIN,
    # the admins' NLU pages: admins only (the standing office corrects domains in triage, which
    # pre-labels the inbox; it does not decide training data). POSTs with an empty form:
    ("console.nlu_inbox.index", "GET"): ADMIN,
    ("console.nlu_inbox.decide", "POST"): expect(302, 403, 403, 403, 403, 302),  # nothing chosen: back, with the reason
    ("console.nlu_models.training", "GET"): ADMIN,
    ("console.nlu_models.train", "POST"): expect(302, 403, 403, 403, 403, 302),  # a job queued, back to the page
    ("console.nlu_models.job", "GET"): ADMIN,
    ("console.nlu_models.models", "GET"): ADMIN,
    ("console.nlu_models.compare", "GET"): ADMIN,
    ("console.nlu_models.activate", "POST"): expect(302, 403, 403, 403, 403, 409),  # the sample's archive is no model
    ("console.nlu_models.rollback", "POST"): expect(302, 403, 403, 403, 403, 409),  # nothing to roll back to
    # not the console: machines and development
    ("health.healthz", "GET"): everyone(200),
    ("health.favicon", "GET"): everyone(204),  # browsers ask for it: no icon, no 404 in the logs
    ("metrics.metrics", "GET"): everyone(200),  # from loopback, login or not (tests/test_metrics.py: who else)
    ("webhook.subscribe", "GET"): everyone(403),  # no verify token
    ("webhook.receive", "POST"): everyone(403),  # not signed by Facebook
    ("sandbox.page", "GET"): everyone(200),  # development only (SANDBOX)
    ("sandbox.send_as_business", "POST"): everyone(400),  # empty message
    ("sandbox.conversation", "GET"): everyone(200),
    ("sandbox.mail", "GET"): everyone(200),
    ("sandbox.graph_send", "POST"): everyone(400),  # no page token
    ("sandbox.graph_profile", "POST"): everyone(400),
    ("sandbox.graph_comment_reply", "POST"): everyone(400),
    ("sandbox.graph_subscribe", "POST"): everyone(400),  # no page token
    ("sandbox.graph_user_profile", "GET"): everyone(400),
    ("sandbox.graph_hide_comment", "POST"): everyone(400),
}

VICTIM = Person("victim", "bi.khoa@soxd.example", "SO_XD", "officer")  # the target of admin actions


def nlu_samples(app) -> dict:
    """A finished training job and a registered model (an archive that is no model), so the NLU
    pages that take one have something to show."""
    from bot import context, runtime
    from nlu.training import TrainResult

    with app.app_context():
        settings, db, clock = context.settings(), context.db(), context.clock()
        queue = runtime.training_queue(settings, db, clock)
        job = queue.request(by="walk@bxt")
        queue.finish(job.id, "failed", error="walk")
        settings.model_dir.mkdir(parents=True, exist_ok=True)
        archive = settings.model_dir / "nlu-walk00000000.tar.gz"
        archive.write_bytes(b"not a model")
        runtime.model_registry(settings, db, clock).register(
            TrainResult("nlu-walk00000000", archive, False, 1.0, 3, "walk"), by="walk@bxt",
            scores={"heldout": "x", "n": 1, "macro_f1": {"all": 1.0}, "per_intent": {"thue": 1.0},
                    "routing": {"threshold": 0.5, "min_margin": 0.3, "auto_share": 1.0, "auto_precision": 1.0}})
    return {"job_id": job.id, "model": "nlu-walk00000000"}


@pytest.fixture
def world(make_app, tmp_path):
    # the development routes are walked too; models in a folder of this test (activation writes there)
    app = make_app({"SANDBOX": True}, nlu__model_dir=str(tmp_path / "models"))
    for person in PEOPLE.values():
        add_user(app, person)
    victim = add_user(app, VICTIM)
    mine = open_inquiry(app, "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng", "xay_dung")
    theirs = open_inquiry(app, "Hỏi về hoàn thuế giá trị gia tăng", "thue", sender="900000000000002")
    draft = withdrawn_draft(app, mine, PEOPLE["officer_a"])
    samples = {"filename": "console.css", "code": mine, "user_id": victim, "token": "never-issued",
               "version": "v21.0", "comment_id": "123_456", "draft_id": draft, "kind": "weekly",
               "label": "2026-W47", "fmt": "xlsx", "page_id": "371024009436368", "psid": "900000000000001",
               "object_id": "123_456", **nlu_samples(app)}
    their_draft = withdrawn_draft(app, theirs, PEOPLE["officer_b"])
    return app, samples, {"code": theirs, "draft_id": their_draft}


def withdrawn_draft(app, code: str, author: Person) -> int:
    """A draft of `code` by `author`, withdrawn: every draft action on it is refused the same
    way whoever posts, so the walk changes nothing."""
    from bot import context, runtime
    from cases import Actor

    with app.app_context():
        answers = runtime.casework(context.settings(), context.db(), context.clock()).answers
        who = Actor(author.email, author.role, author.unit)
        d = answers.draft(code, actor=who, text="Dự thảo mẫu cho lượt đi qua các trang.")
        return answers.withdraw(d.id, actor=who).id


def without_token(html: str) -> str:
    """The page without its CSRF tokens (itsdangerous' value.timestamp.signature)."""
    return re.sub(r'"[\w-]+\.[\w-]+\.[\w-]+"', '""', html)


def methods(rule: Rule) -> list[str]:
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


class Walker:
    """One client per person, logged in through the real form, again after any POST (a POST
    may end the session: logout)."""

    def __init__(self, app):
        self.app, self.clients = app, {}

    def client(self, who: str, fresh: bool = False):
        if fresh or who not in self.clients:
            client = self.app.test_client()
            if who != "anon":
                assert login(client, PEOPLE[who]).status_code == 302, who
            self.clients[who] = client
        return self.clients[who]

    def request(self, who: str, method: str, url: str):
        client = self.client(who)
        if method == "GET":
            return client.get(url)
        page = client.get("/password" if who != "anon" else "/login")
        response = client.open(url, method=method, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
        self.client(who, fresh=True)
        return response


def test_every_route_answers_each_person_as_it_should(world):
    app, samples, theirs = world
    walker = Walker(app)
    rules = list(app.url_map.iter_rules())
    missing = sorted({(r.endpoint, m) for r in rules for m in methods(r)} - set(EXPECTED))
    assert missing == [], f"routes without an expectation (add them to EXPECTED): {missing}"
    stale = sorted(set(EXPECTED) - {(r.endpoint, m) for r in rules for m in methods(r)})
    assert stale == [], f"expectations for routes that no longer exist: {stale}"
    unknown = sorted({a for r in rules for a in r.arguments} - set(samples))
    assert unknown == [], f"URL arguments without a sample value (add them to samples): {unknown}"
    got, want = {}, {}
    for rule in rules:
        url = rule.build(samples)[1]
        for method in methods(rule):
            for who in WHO:
                response = walker.request(who, method, url)
                got[(rule.endpoint, method, who)] = response.status_code
                want[(rule.endpoint, method, who)] = EXPECTED[(rule.endpoint, method)][who]
                if response.status_code == 302 and want[(rule.endpoint, method, who)] == 302 and who == "anon" \
                        and rule.endpoint.startswith("console.") and rule.endpoint != "console.auth.logout":
                    assert response.headers["Location"].startswith("/login"), (rule.endpoint, method)
    wrong = {k: (got[k], want[k]) for k in got if got[k] != want[k]}
    assert wrong == {}, "\n".join(f"{e} {m} as {w}: got {g}, expected {x}" for (e, m, w), (g, x) in sorted(wrong.items()))


def test_every_route_with_an_inquiry_code_hides_other_units_inquiries(world):
    """The other unit's inquiry and a code that does not exist read the same: 404."""
    app, samples, theirs = world
    walker = Walker(app)
    rules = [r for r in app.url_map.iter_rules() if "code" in r.arguments]
    assert {r.endpoint for r in rules} >= {"console.inquiries.show", "console.inquiries.thread"}
    for rule in rules:
        for method in methods(rule):
            other = rule.build({**samples, **theirs})[1]
            absent = rule.build({**samples, "code": "QN-2026-999999"})[1]
            for who in ("officer_a", "head_a"):
                assert walker.request(who, method, other).status_code == 404, (rule.endpoint, method, who)
            for who in ("officer_b", "office", "admin"):
                assert walker.request(who, method, other).status_code != 404, (rule.endpoint, method, who)
            for who in ("officer_a", "office", "admin"):
                assert walker.request(who, method, absent).status_code == 404, (rule.endpoint, method, who)
            if "draft_id" in rule.arguments:  # a draft of another inquiry, under one the person sees
                mixed = rule.build({**samples, "draft_id": theirs["draft_id"]})[1]
                for who in ("officer_a", "office", "admin"):
                    assert walker.request(who, method, mixed).status_code == 404, (rule.endpoint, method, who)
            # the two 404s are the same page (but for the CSRF token, signed with the time)
            assert without_token(walker.request("officer_a", method, other).get_data(as_text=True)) == \
                without_token(walker.request("officer_a", method, absent).get_data(as_text=True))


def test_routes_with_a_user_id_answer_404_for_an_account_that_does_not_exist(world):
    app, samples, _ = world
    walker = Walker(app)
    rules = [r for r in app.url_map.iter_rules() if "user_id" in r.arguments]
    assert len(rules) >= 4
    for rule in rules:
        for method in methods(rule):
            assert walker.request("admin", method, rule.build({**samples, "user_id": 999999})[1]).status_code == 404


def test_the_walk_itself_changed_only_the_victim(world):
    """Admin actions in the walk hit the victim account only; the walkers are intact."""
    app, samples, _ = world
    Walker(app).request("admin", "POST", f"/admin/users/{samples['user_id']}/disable")
    from bot import context

    with app.app_context(), context.db().session() as s:
        states = {u.email: u.active for u in s.query(User)}
    assert states.pop(VICTIM.email) is False and all(states.values())


def test_an_id_past_any_row_is_404_not_500(world):
    """A row id no database can hold (past 64 bits) reads as one that does not exist, for
    each route with an id, as a person who may use the route (SQLite raised OverflowError)."""
    app, samples, _ = world
    walker = Walker(app)
    huge = 10 ** 20
    rules = [r for r in app.url_map.iter_rules() if {"user_id", "draft_id", "job_id"} & set(r.arguments)]
    assert len(rules) >= 10
    for rule in rules:
        who = "officer_a" if "draft_id" in rule.arguments else "admin"
        url = rule.build({**samples, "user_id": huge, "draft_id": huge, "job_id": huge})[1]
        for method in methods(rule):
            assert walker.request(who, method, url).status_code == 404, (rule.endpoint, method, who)
