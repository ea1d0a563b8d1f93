"""The admins' NLU inbox (issue 13): what the conversation records, the inbox's order,
filters and groups, decisions (bad input, discarded items, two admins at once), personal
data out of training text, the Rasa file and conflicts, and the training queue's refusals.

Models are not trained here (tests/test_tuning_training.py does that); the records that do
not come through the worker are written with tuning.records.record, the conversation's own
call, on a real database.
"""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from nlu.classifier import Classification
from store import ClassificationRecord, Inquiry
from tests.conftest import FIXTURE_PAGE, REPO, SECOND_PAGE, load_fixture, signed_post, with_text
from tuning import dataset
from tuning.inbox import Inbox, InboxError, InboxFilter, UnknownIntent
from tuning.jobs import TrainingBusy, TrainingQueue, TrainingRefused
from tuning.privacy import scrub
from tuning.records import record
from tuning.similarity import group, key

PROJECT = REPO / "nlu"
INTENTS = dataset.intents(PROJECT)


def add(db, clock, text, intent, confidence, *, needs_review=False, routed=True, page=FIXTURE_PAGE, lang="vi",
        runner=("hai_quan", 0.1), inquiry_id=None, outcome="inquiry"):
    result = Classification(text=text, intent=intent, confidence=confidence, normalized=text,
                            ranking=[(intent or "thue", confidence), runner], needs_review=needs_review,
                            model_version="nlu-test")
    with db.session() as s:
        row = record(s, result, event_id=None, page_id=page, channel="messenger", language=lang, outcome=outcome,
                     routed_automatically=routed, inquiry_id=inquiry_id, at=clock())
        s.flush()
        return row.id


@pytest.fixture
def inbox(db, clock, tmp_path):
    return Inbox.for_project(db=db, project_dir=PROJECT, data_dir=tmp_path / "inbox", clock=clock)


# ---- personal data ---------------------------------------------------------------------------
@pytest.mark.parametrize("text, gone, expected", [
    ("Em tên là Nguyễn Thị Hoa, sđt 0912 345 678, email hoa.nguyen@gmail.com hỏi hoàn thuế",
     ["Hoa", "0912 345 678", "hoa.nguyen@gmail.com"],
     "Em tên là Nguyễn Văn A, sđt [0900 000 000](phone), email [email@example.com](email) hỏi hoàn thuế"),
    ("cty MST 5701234567 và chi nhánh 5701234567-001 bị khóa hóa đơn",
     ["5701234567"], "cty MST [0100000000](tax_code) và chi nhánh [0100000000-001](tax_code) bị khóa hóa đơn"),
    ("mã QN-2026-004512 của chị Lan sao chưa xử lý",
     ["004512", "Lan"], "mã [QN-2026-000001](tracking_code) của chị A sao chưa xử lý"),
    # typed back loosely (a walkthrough: kept as written), but a plan's years are no code
    ("status of qn 2026 4512 please, quy hoạch QN 2021-2030", ["4512"],
     "status of [QN-2026-000001](tracking_code) please, quy hoạch QN 2021-2030"),
    ("ten em la tran van binh, cho em hoi thu tuc", ["binh"], "ten em la Nguyễn Văn A, cho em hoi thu tuc"),
    ("Giám đốc Phạm Minh Tuấn đề nghị hướng dẫn", ["Tuấn"], "Giám đốc Nguyễn Văn A đề nghị hướng dẫn"),
    ("My name is John Smith, call +84 912 345 678", ["Smith", "912"],
     "My name is Nguyễn Văn A, call [0900 000 000](phone)"),
    # a review: these two forms of a phone number reached the training data as written
    ("LH (+84) 912 345 678 hoặc +84 (0) 987 654 321", ["912", "987"],
     "LH [0900 000 000](phone) hoặc [0900 000 000](phone)"),
    ("liên hệ 0912-555-777 hoặc +84-987-654-321 nhé", ["555", "654"],  # dashes (a review)
     "liên hệ [0900 000 000](phone) hoặc [0900 000 000](phone) nhé"),
    # places whose first word is a family name or a pronoun are not people (the gazetteer and
    # EXTRA_PLACES); "em" and English titles address a person
    ("Dự án ở Vân Đồn, kỹ sư Hàn Quốc, cửa khẩu Bắc Luân, sông Ba Chẽ; liên hệ em Linh hoặc Ms. Wang Li",
     ["Linh", "Wang"], "Dự án ở Vân Đồn, kỹ sư Hàn Quốc, cửa khẩu Bắc Luân, sông Ba Chẽ; liên hệ em A hoặc "
     "Ms. Nguyễn Văn A"),
    ("uu dai o khu kinh te Van Don, song Ba Che, doi Than Quang Ninh", [],
     "uu dai o khu kinh te Van Don, song Ba Che, doi Than Quang Ninh"),
    # chat shorthand for anh / chị / em, in Vietnamese only; "quán" (a shop) is not "quận" (a district)
    ("c Phương đã hỗ trợ, e Linh bên cty, a Vương bên ban qlda; chủ quán Nguyễn Thu Hà",
     ["Phương", "Linh", "Vương", "Thu Hà"], "c A đã hỗ trợ, e A bên cty, a A bên ban qlda; chủ quán Nguyễn Văn A"),
    ("We are a Korean investor, e.g. a Japanese firm", [], "We are a Korean investor, e.g. a Japanese firm"),
    # introducing oneself, or named by one's job (round 4 of the simulated traffic leaked these)
    ("Em là Linh phòng hành chính, e là Phương kế toán; liên hệ lễ tân Hùng", ["Linh", "Phương", "Hùng"],
     "Em là A phòng hành chính, e là A kế toán; liên hệ lễ tân A"),
    ("Chào ad ạ, em là Vương bên cty tư vấn; em la Tuan ke toan", ["Vương", "Tuan"],
     "Chào ad ạ, em là A bên cty tư vấn; em la A ke toan"),
    ("tôi là Giám đốc, em là Doanh nghiệp nhỏ, nhân viên Sở Tài chính bảo câu hỏi của em là Luật đất đai", [],
     "tôi là Giám đốc, em là Doanh nghiệp nhỏ, nhân viên Sở Tài chính bảo câu hỏi của em là Luật đất đai"),
    ("Dạ. C Phương đã gửi hồ sơ; E Linh hỏi thêm", ["Phương", "Linh"], "Dạ. C A đã gửi hồ sơ; E A hỏi thêm"),
    ("hồ sơ gồm: a) Giấy đề nghị; c) Hợp đồng; theo điểm c Khoản 2 Điều 5, phụ lục A Mẫu 01; ok e, Cảm ơn a",
     [], "hồ sơ gồm: a) Giấy đề nghị; c) Hợp đồng; theo điểm c Khoản 2 Điều 5, phụ lục A Mẫu 01; ok e, Cảm ơn a"),
    ("quan Nguyen Trai, quận Lê Chân", [], "quan Nguyen Trai, quận Lê Chân"),
    # not people: a street, a ward, a title, a city; and square brackets cannot fake an annotation
    ("đường Lê Lợi phường Hoàng Quế ngập, ông Chủ tịch xã ở Hồ Chí Minh [x](phone)", [],
     "đường Lê Lợi phường Hoàng Quế ngập, ông Chủ tịch xã ở Hồ Chí Minh (x)(phone)"),
])
def test_personal_data_is_replaced_before_an_example_is_accepted(text, gone, expected):
    result = scrub(text)
    assert result.annotated == expected
    for value in gone:
        assert value not in result.annotated and value not in result.text
    assert "[" not in result.text
    # the pieces the admins' page shows: the same text, every replacement marked with its kind
    assert "".join(piece for piece, _ in result.parts) == result.text
    assert [(v, k) for v, k in result.parts if k] == [(r.value, r.kind) for r in result.replacements]


def test_similarity_key_and_groups():
    assert key("mã QN-2026-000123 xử lý chưa ạ?") == key("ma QN-2026-000456 xu ly chua a")
    assert key("sđt 0912 345 678") == key("SDT 0988.123.456")
    groups = group(["cho em hoi thu tuc hoan thue GTGT", "Cho em hỏi thủ tục hoàn thuế GTGT ạ",
                    "cho em hỏi thủ tục hải quan", "cho em hoi thu tuc hoan thue GTGT voi"], lambda t: t)
    assert [len(g) for g in groups] == [3, 1]


# ---- the conversation records what it classified ---------------------------------------------
def test_every_classified_message_is_recorded_with_its_outcome(make_app, trained_model, clock):
    from bot import context, runtime

    app = make_app()
    client = app.test_client()
    base = load_fixture("text_message.json")
    signed_post(client, with_text(base, "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả",
                                  mid="m1", sender="s1"))
    signed_post(client, with_text(base, "Xin chào ad ạ", mid="m2", sender="s2"))
    with app.app_context():
        runtime.worker(context.settings(), context.db(), clock).run_once()
        unsure = make_app(nlu__threshold=0.9999)  # the same database: everything goes to triage
    signed_post(unsure.test_client(), with_text(base, "cho em hoi thu tuc hoan thue GTGT", mid="m3", sender="s3"))
    with unsure.app_context():
        runtime.worker(context.settings(), context.db(), clock).run_once()
        db = context.db()
    with db.session() as s:
        rows = {r.text: r for r in s.execute(select(ClassificationRecord)).scalars()}
        inquiries = {i.text: i for i in s.execute(select(Inquiry)).scalars()}
    building = rows["Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả"]
    assert (building.outcome, building.intent, building.routed_automatically, building.needs_review) == \
        ("inquiry", "xay_dung", True, False)
    assert building.inquiry_id == inquiries[building.text].id and building.event_id is not None
    assert building.runner_up and building.runner_up_confidence < building.confidence
    assert building.ranking[0][0] == "xay_dung" and building.model_version.startswith("nlu-")
    greeting = rows["Xin chào ad ạ"]
    assert (greeting.outcome, greeting.intent, greeting.routed_automatically, greeting.inquiry_id) == \
        ("small_talk", "chao_hoi", True, None)
    tax = rows["cho em hoi thu tuc hoan thue GTGT"]
    assert (tax.outcome, tax.routed_automatically, tax.needs_review) == ("inquiry", False, True)
    assert inquiries[tax.text].status == "triage" and tax.normalized == tax.text

    # The standing office assigns it with a domain correction (issue 11's column): it lands
    # pre-labelled, first in the inbox; then the unsure ones; then the lowest confidence.
    with db.session() as s:
        s.get(Inquiry, tax.inquiry_id).corrected_intent = "hai_quan"
    inbox = Inbox.for_project(db=db, project_dir=PROJECT, data_dir=Path(app.instance_path) / "x", clock=clock)
    items = inbox.items()
    assert items[0].id == tax.id and {i.id for i in items[1:]} == {building.id, greeting.id}
    assert items[0].corrected and items[0].suggested_label == "hai_quan" and items[0].inquiry_code
    rest = items[1:]
    assert rest[0].confidence <= rest[1].confidence
    report = inbox.decide([tax.id], "confirm", by="admin@bxt")
    assert report.applied[0].label == "hai_quan" and report.applied[0].status == "relabelled"


def test_a_retried_event_keeps_one_record(make_app, trained_model, clock):
    """The record commits with the event's outcome: a crash before the commit leaves neither."""
    from bot import context, runtime

    app = make_app()
    signed_post(app.test_client(), with_text(load_fixture("text_message.json"), "Xin chào ad ạ"))
    with app.app_context():
        worker = runtime.worker(context.settings(), context.db(), clock)
        real = worker.conversation._small_talk

        def crash(*args, **kwargs):
            raise RuntimeError("killed before the commit")

        worker.conversation._small_talk = crash
        assert worker.process_next().status == "error"
        with context.db().session() as s:
            assert s.execute(select(ClassificationRecord)).scalars().all() == []
        worker.conversation._small_talk = real
        worker.process_next()
        with context.db().session() as s:
            assert len(s.execute(select(ClassificationRecord)).scalars().all()) == 1


# ---- listing ---------------------------------------------------------------------------------
def test_inbox_order_filters_groups_and_known_texts(db, clock, inbox):
    start = clock()
    a = add(db, clock, "cho em hoi thu tuc hoan thue GTGT", "thue", 0.9)
    b = add(db, clock, "Cho em hỏi thủ tục hoàn thuế GTGT ạ", "thue", 0.8)
    c = add(db, clock, "thủ tục hải quan nhập máy móc", "hai_quan", 0.4, needs_review=True, routed=False,
            page=SECOND_PAGE)
    clock.advance(days=2)
    d = add(db, clock, "How do we apply for a work permit?", "lao_dong", 0.7, lang="en")
    known = dataset.hand_written(PROJECT, Path("/nonexistent"))[0]
    e = add(db, clock, known.text, known.intent, 0.95)

    assert [i.id for i in inbox.items()] == [c, d, b, a, e]
    assert [i.id for i in inbox.items() if i.in_training_data] == [e]
    groups = inbox.groups()
    assert [g.ids for g in groups] == [(c,), (d,), (b, a), (e,)]

    def ids(**kw):
        return [i.id for i in inbox.items(InboxFilter(**kw))]

    assert ids(intents=("thue",)) == [b, a]
    assert ids(min_confidence=0.75, max_confidence=0.9) == [b, a]
    assert ids(since=start + timedelta(days=1)) == [d, e]
    assert ids(until=start + timedelta(days=1)) == [c, b, a]
    assert ids(page_id=SECOND_PAGE) == [c]
    assert ids(language="en") == [d]
    assert ids(routed_automatically=False) == [c]
    assert ids(ids=(a, c)) == [c, a]
    inbox.decide([a], "discard", by="admin")
    assert a not in ids() and ids(statuses=("discarded",)) == [a]


# ---- decisions -------------------------------------------------------------------------------
def test_unknown_intent_and_bad_decisions_are_clear_errors_and_write_nothing(db, clock, inbox):
    a = add(db, clock, "thủ tục hải quan", "hai_quan", 0.6)
    with pytest.raises(UnknownIntent, match="unknown intent 'thue_dat'"):
        inbox.decide([a], "relabel", by="admin", intent="thue_dat")
    with pytest.raises(InboxError, match="unknown decision"):
        inbox.decide([a], "approve", by="admin")
    with pytest.raises(InboxError, match="needs the intent"):
        inbox.decide([a], "relabel", by="admin")
    with pytest.raises(InboxError, match="must be named"):
        inbox.decide([a], "confirm", by=" ")
    [item] = inbox.items()
    assert (item.status, item.version, item.label) == ("pending", 0, None)
    assert inbox.decide([a, 999], "confirm", by="admin").missing == (999,)


def test_a_discarded_message_stays_discarded(db, clock, inbox):
    a = add(db, clock, "mua đất nền giá rẻ liên hệ 0912345678", "dat_dai", 0.5)
    inbox.decide([a], "discard", by="first@admin")
    [item] = inbox.items(InboxFilter(statuses=("discarded",)))
    for action, intent in (("relabel", "ngoai_pham_vi"), ("confirm", None)):
        report = inbox.decide([a], action, by="second@admin", intent=intent, expected={a: item.version})
        assert not report.applied and report.refused[0].status == "discarded"
        assert "stays discarded" in report.refused[0].message and "first@admin" in report.refused[0].message
    with db.session() as s:
        row = s.get(ClassificationRecord, a)
        assert (row.status, row.label, row.decided_by) == ("discarded", None, "first@admin")


def test_two_admins_deciding_at_once_the_second_sees_the_first_decision(db, clock, tmp_path):
    a = add(db, clock, "thủ tục hải quan nhập khẩu máy móc", "thue", 0.5)
    first = Inbox.for_project(db=db, project_dir=PROJECT, data_dir=tmp_path / "d", clock=clock)
    second = Inbox.for_project(db=db, project_dir=PROJECT, data_dir=tmp_path / "d", clock=clock)
    seen_by_first, seen_by_second = first.groups()[0], second.groups()[0]  # both read version 0
    done = first.decide_group(seen_by_first, "relabel", by="lan@bxt", intent="hai_quan")
    late = second.decide_group(seen_by_second, "confirm", by="minh@bxt")
    assert done.ok and not late.applied
    [conflict] = late.conflicts
    assert (conflict.status, conflict.label, conflict.decided_by) == ("relabelled", "hai_quan", "lan@bxt")
    assert "lan@bxt" in conflict.message and "not applied" in conflict.message
    # Without a version, a second decision on a decided message is refused the same way.
    assert second.decide([a], "discard", by="minh@bxt").conflicts[0].decided_by == "lan@bxt"
    # Changing a decision one has seen is allowed.
    [current] = second.items(InboxFilter(statuses=("relabelled",)))
    changed = second.decide([a], "relabel", by="minh@bxt", intent="thue", expected={a: current.version})
    assert changed.applied[0].status == "confirmed" and changed.applied[0].label == "thue"


def test_accepted_examples_are_written_in_rasa_format_without_personal_data(db, clock, inbox, tmp_path):
    a = add(db, clock, "Em tên là Nguyễn Thị Hoa, MST 5701234567 bị khóa hóa đơn, gọi 0912 345 678", "thue", 0.5)
    b = add(db, clock, "tờ khai hải quan của anh Tuấn bị phân luồng đỏ", "thue", 0.4)
    c = add(db, clock, "to khai hai quan cua anh Tuan bi phan luong do", "thue", 0.4)  # a near-duplicate of b
    d = add(db, clock, "bán sim số đẹp", "ngoai_pham_vi", 0.9)
    inbox.decide([a], "confirm", by="admin")
    report = inbox.decide([b, c], "relabel", by="admin", intent="hai_quan")
    assert report.ok and len(report.applied) == 2
    inbox.decide([d], "discard", by="admin")
    path = tmp_path / "inbox" / dataset.INBOX_FILE
    assert report.data_file == str(path)
    text = path.read_text(encoding="utf-8")
    for private in ("Hoa", "5701234567", "0912 345 678", "Tuấn", "Tuan"):
        assert private not in text
    doc = yaml.safe_load(text)
    assert doc["version"] == "3.1"
    assert {i["intent"]: i["examples"].splitlines() for i in doc["nlu"]} == {
        # the unaccented near-duplicate has the same (accent-folded) features: written once
        "hai_quan": ["- tờ khai hải quan của anh A bị phân luồng đỏ"],
        "thue": ["- Em tên là Nguyễn Văn A, MST [0100000000](tax_code) bị khóa hóa đơn, gọi "
                 "[0900 000 000](phone)"],
    }
    # Rasa reads it as training data with its entities...
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    assert {e["entity"] for m in data.training_examples for e in m.get("entities") or []} == {"tax_code", "phone"}
    # ... and `rasa data validate` accepts it beside the project's configuration.
    domain = tmp_path / "domain.yml"
    domain.write_text('version: "3.1"\nintents:\n' + "".join(f"- {i}\n" for i in sorted(INTENTS))
                      + "entities:\n- phone\n- tax_code\n- email\n- tracking_code\n- location\n", encoding="utf-8")
    run = subprocess.run([str(Path(sys.executable).with_name("rasa")), "data", "validate", "--data", str(path.parent),
                          "--domain", str(domain), "--config", str(PROJECT / "config.yml")],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "Validating intents" in run.stdout + run.stderr
    # Nothing accepted any more: the file goes away (the fingerprint is the project's alone).
    inbox.decide([a], "discard", by="admin", expected={a: 1})
    inbox.decide([b, c], "discard", by="admin", expected={b: 1, c: 1})
    assert not path.exists()


def test_conflicts_are_shown_and_refuse_training_until_settled(db, clock, inbox, tmp_path):
    known = next(e for e in dataset.hand_written(PROJECT, Path("/nonexistent")) if e.intent == "thue")
    a = add(db, clock, known.text.upper(), "thue", 0.9)  # the same text after normalisation and folding
    inbox.decide([a], "relabel", by="admin", intent="hai_quan")
    queue = TrainingQueue(db=db, clock=clock, project_dir=PROJECT, inbox_dir=tmp_path / "inbox")
    with pytest.raises(TrainingRefused) as refused:
        queue.request(by="admin")
    [conflict] = refused.value.conflicts
    assert conflict.intents == ("hai_quan", "thue")
    assert {e.source for e in conflict.examples} == {known.source, f"inbox #{a}"}
    assert "settle them before training" in str(refused.value) and known.text in str(refused.value)
    [item] = inbox.items(InboxFilter(statuses=("relabelled",)))
    inbox.decide([a], "relabel", by="admin", intent="thue", expected={a: item.version})
    assert queue.request(by="admin").status == "queued"


def test_a_second_training_request_is_refused_while_one_waits_or_runs(db, clock, tmp_path):
    queue = TrainingQueue(db=db, clock=clock, project_dir=PROJECT, inbox_dir=tmp_path / "inbox")
    first = queue.request(by="lan@bxt")
    with pytest.raises(TrainingBusy, match=f"training job #{first.id} \\(queued, asked by lan@bxt\\)"):
        queue.request(by="minh@bxt")
    assert queue.claim() == first.id
    with pytest.raises(TrainingBusy, match="running"):
        queue.request(by="minh@bxt")
    queue.finish(first.id, "done")
    assert queue.request(by="minh@bxt").status == "queued"


def test_a_job_whose_worker_died_does_not_block_training_forever(db, clock, tmp_path):
    queue = TrainingQueue(db=db, clock=clock, project_dir=PROJECT, inbox_dir=tmp_path / "inbox",
                          stale_after=timedelta(minutes=30))
    job = queue.request(by="lan@bxt")
    queue.claim()
    clock.advance(minutes=20)
    with pytest.raises(TrainingBusy):
        queue.request(by="minh@bxt")
    clock.advance(minutes=11)
    assert queue.request(by="minh@bxt").status == "queued"
    dead = queue.get(job.id)
    assert dead.status == "failed" and "the worker stopped" in dead.error


# ---- JSON lines ------------------------------------------------------------------------------
def test_inbox_export_and_import_with_decisions(app, clock):
    from bot import context

    runner = app.test_cli_runner()
    with app.app_context():
        db = context.db()
        a = add(db, clock, "thủ tục hải quan nhập khẩu", "thue", 0.5)
        b = add(db, clock, "xin chào", "chao_hoi", 0.9)
    lines = [json.dumps({"id": a, "decision": "relabel", "intent": "hai_quan"}),
             json.dumps({"id": b, "decision": "relabel", "intent": "khong_ton_tai"}),
             "not json",
             json.dumps({"text": "hỏi về thuế môn bài, sđt 0912345678", "status": "confirmed", "label": "thue",
                         "id": 987654})]
    result = runner.invoke(args=["nlu", "inbox", "import", "-", "--by", "admin"], input="\n".join(lines))
    assert result.exit_code == 1
    assert "line 2: unknown intent 'khong_ton_tai'" in result.stderr and "line 3:" in result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"applied": 2, "errors": 2, "skipped": 0}
    from store import AuditEntry

    with app.app_context(), context.db().session() as s:  # the import is in the audit log, as the console's decisions
        [entry] = s.execute(select(AuditEntry)).scalars().all()
        assert (entry.action, entry.actor.startswith("cli:"), entry.details) == (
            "nlu.inbox.import", True, {"on_behalf_of": "admin", "applied": 2, "errors": 2, "skipped": 0})
    exported = runner.invoke(args=["nlu", "inbox", "export"])
    rows = {r["id"]: r for r in map(json.loads, exported.stdout.strip().splitlines())}
    assert (rows[a]["status"], rows[a]["label"], rows[a]["decided_by"]) == ("relabelled", "hai_quan", "admin")
    assert rows[b]["status"] == "pending"
    imported = next(r for r in rows.values() if r["outcome"] == "imported")
    assert imported["label"] == "thue" and "0912345678" not in imported["training_text"]
