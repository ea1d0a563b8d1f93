"""The admins' loop with real Rasa models (issue 13): retraining in the worker's runner, the
fingerprint skip, the evaluation gate refusing a harmful relabelling (and its audited
override), activation and rollback picked up by a running worker, a corrupt archive never
activated, and activation on a real Rasa server (`PUT /model`).

Models come from a tiny two-intent project with the real pipeline (like tests/test_nlu.py's
hot-reload test), so each trains in seconds.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from store import ClassificationRecord, Inquiry, NluActivation
from tests.conftest import REPO, free_port, load_fixture, signed_post, with_text

TAX = ["hoàn thuế GTGT cho doanh nghiệp", "quyết toán thuế thu nhập doanh nghiệp", "hóa đơn điện tử bị khóa",
       "nộp tờ khai thuế quý", "mã số thuế chi nhánh", "tax refund for exporters"]
CUSTOMS = ["thủ tục hải quan nhập khẩu máy móc", "tờ khai hải quan bị phân luồng đỏ", "kho ngoại quan Móng Cái",
           "thông quan hàng hóa tại cảng Cái Lân", "mã HS hàng nhập khẩu", "customs clearance at the border"]
# held-out messages of the tiny project (never trained on)
HELDOUT = {"vi": {"thue": ["cho em hỏi hoàn thuế GTGT", "quyết toán thuế năm nay nộp khi nào"],
                  "hai_quan": ["thông quan lô hàng ở cảng", "tờ khai hải quan nhập khẩu"]},
           "en": {"thue": ["how to get a tax refund"], "hai_quan": ["customs clearance for imported machines"]}}
# what real traffic would say, labelled the wrong way round by a careless admin
TAX_TRAFFIC = ["thuế GTGT được hoàn sau bao lâu", "hoàn thuế cho doanh nghiệp xuất khẩu", "quyết toán thuế TNDN",
               "hóa đơn điện tử của công ty", "thuế thu nhập doanh nghiệp quý này", "nộp thuế qua mạng",
               "tax refund application", "tax finalisation for our company"]
CUSTOMS_TRAFFIC = ["hàng nhập khẩu qua cảng Cái Lân", "tờ khai hải quan điện tử", "thông quan ở cửa khẩu Móng Cái",
                   "kho ngoại quan thuê ở đâu", "phân luồng đỏ tờ khai", "mã HS của máy móc nhập khẩu",
                   "customs declaration for machines", "clearance of goods at the port"]


def tiny_project(root: Path, swap: bool = False) -> Path:
    labels = ("hai_quan", "thue") if swap else ("thue", "hai_quan")
    (root / "data").mkdir(parents=True)
    (root / "heldout").mkdir()
    shutil.copy(REPO / "nlu" / "config.yml", root / "config.yml")
    body = 'version: "3.1"\nnlu:\n'
    for label, examples in zip(labels, (TAX, CUSTOMS)):
        body += f"- intent: {label}\n  examples: |\n" + "".join(f"    - {e}\n" for e in examples)
    (root / "data" / "nlu.yml").write_text(body, encoding="utf-8")
    for subset, intents in HELDOUT.items():
        text = 'version: "3.1"\nnlu:\n' + "".join(
            f"- intent: {i}\n  examples: |\n" + "".join(f"    - {e}\n" for e in es) for i, es in intents.items())
        (root / "heldout" / f"{subset}.yml").write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def tiny_archives(tmp_path_factory):
    """Two trained archives of the tiny project: right labels (A) and swapped (B)."""
    from nlu.training import train_candidate

    root = tmp_path_factory.mktemp("tiny")
    a = train_candidate(tiny_project(root / "a"), root / "models", progress=lambda m: None)
    b = train_candidate(tiny_project(root / "b", swap=True), root / "models", progress=lambda m: None)
    return a, b


@pytest.fixture
def tiny_app(make_app, tmp_path):
    project = tiny_project(tmp_path / "project")
    return make_app(nlu__project_dir=str(project), nlu__model_dir=str(tmp_path / "models"),
                    nlu__inbox_data_dir=str(tmp_path / "inbox"), nlu__threshold=0.0, nlu__min_margin=0.0)


def _ask(app, worker, text: str, mid: str) -> Inquiry:
    signed_post(app.test_client(), with_text(load_fixture("text_message.json"), text, mid=mid, sender=f"s-{mid}"))
    worker.run_once()
    from bot import context

    with context.db().session() as s:
        return s.execute(select(Inquiry).order_by(Inquiry.id.desc())).scalars().first()


def _model_a_then_a_careless_relabelling(app, clock):
    """Model A from `flask nlu train` (the first model: activated as trained), real traffic
    classified by a running worker, and a careless admin who labels it the wrong way round.
    Inside `app`'s context; returns the CLI runner, A's version and the worker."""
    from bot import context, runtime
    from tuning.inbox import InboxFilter

    runner = app.test_cli_runner()
    trained = runner.invoke(args=["nlu", "train", "--by", "ops"])
    assert trained.exit_code == 0, trained.output
    version_a = json.loads(trained.stdout.strip().splitlines()[-1])["version"]
    settings, db = context.settings(), context.db()
    worker = runtime.worker(settings, db, clock)
    for n, text in enumerate(TAX_TRAFFIC + CUSTOMS_TRAFFIC):
        _ask(app, worker, text, f"t{n}")
    inbox = runtime.nlu_inbox(settings, db, clock)
    items = {i.text: i for i in inbox.items(InboxFilter(limit=100))}
    inbox.decide([items[t].id for t in TAX_TRAFFIC], "relabel", by="careless@bxt", intent="hai_quan")
    inbox.decide([items[t].id for t in CUSTOMS_TRAFFIC], "relabel", by="careless@bxt", intent="thue")
    return runner, version_a, worker


def test_harmful_relabelling_is_refused_by_the_gate_then_overridden_activated_and_rolled_back(tiny_app, clock):
    from bot import context, runtime
    from tuning.versions import GateRefused

    with tiny_app.app_context():
        # Real traffic comes in; a careless admin labels it the wrong way round.
        runner, version_a, worker = _model_a_then_a_careless_relabelling(tiny_app, clock)
        settings, db = context.settings(), context.db()
        assert _ask(tiny_app, worker, "cho em hỏi hoàn thuế GTGT", "q1").intent == "thue"

        queue, training = runtime.training_queue(settings, db, clock), runtime.training_runner(settings, db, clock)
        job = queue.request(by="careless@bxt")
        done = training.run_pending()
        assert (done.id, done.status, done.progress) == (job.id, "done", 100), done.log + str(done.error)
        version_b = done.candidate_version
        assert version_b != version_a and "[2/3] Training" in done.log and "Evaluating" in done.log
        comparison = done.comparison
        assert comparison["active_version"] == version_a and not comparison["allowed"]
        overall = comparison["macro_f1"][0]
        assert overall["name"] == "all" and overall["change"] < -0.005
        assert {r["name"] for r in comparison["per_intent"]} == {"thue", "hai_quan"}
        assert set(comparison["routing"]["candidate"]) >= {"auto_share", "auto_precision", "threshold"}

        registry = runtime.model_registry(settings, db, clock)
        with pytest.raises(GateRefused, match="macro-F1 all drops by"):
            registry.activate(version_b, by="careless@bxt")
        refused = runner.invoke(args=["nlu", "activate", version_b, "--by", "careless@bxt"])
        assert refused.exit_code == 1 and "refused by the evaluation gate" in refused.output
        assert registry.active_version() == version_a
        assert _ask(tiny_app, worker, "cho em hỏi hoàn thuế GTGT", "q2").intent == "thue"

        # The same data again: nothing to train (same fingerprint as the model already trained).
        queue.request(by="careless@bxt")
        again = training.run_pending()
        assert (again.status, again.candidate_version) == ("skipped", version_b) and "skipped" in again.log

        # An override with a written reason: recorded, returned for the audit log.
        done_cli = runner.invoke(args=["nlu", "activate", version_b, "--by", "lead@bxt",
                                       "--override-reason", "thử nghiệm có chủ đích"])
        assert done_cli.exit_code == 0, done_cli.output
        audit = json.loads(done_cli.stdout)
        assert (audit["action"], audit["version"], audit["previous_version"], audit["by"], audit["override_reason"]) \
            == ("nlu.activate", version_b, version_a, "lead@bxt", "thử nghiệm có chủ đích")
        assert audit["gate_refusals"]
        # The same running worker answers with B at once: no restart.
        inquiry = _ask(tiny_app, worker, TAX_TRAFFIC[1], "q3")  # a message B learnt the wrong way round
        assert (inquiry.intent, inquiry.model_version) == ("hai_quan", version_b)

        rolled = runner.invoke(args=["nlu", "rollback", "--by", "lead@bxt"])
        assert rolled.exit_code == 0, rolled.output
        assert json.loads(rolled.stdout)["version"] == version_a
        inquiry = _ask(tiny_app, worker, TAX_TRAFFIC[1], "q4")
        assert (inquiry.intent, inquiry.model_version) == ("thue", version_a)
        with db.session() as s:
            kinds = [(a.kind, a.version, a.by) for a in s.execute(select(NluActivation).order_by(NluActivation.id))
                     .scalars()]
            assert s.execute(select(ClassificationRecord).where(ClassificationRecord.model_version == version_b)) \
                .scalars().first() is not None
        assert kinds == [("train", version_a, "ops"), ("activate", version_b, "lead@bxt"),
                         ("rollback", version_a, "lead@bxt")]
        from store import AuditEntry

        # the CLI's switches are in the audit log as the console's are (the refused one is not)
        with db.session() as s:  # a session of its own: one left open holds PostgreSQL's locks
            entries = [(e.action, e.object_id, e.actor.startswith("cli:"), e.details["on_behalf_of"],
                        e.details.get("gate_refusals"))
                       for e in s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()]
        assert [e[:4] for e in entries] == [("nlu.train", version_a, True, "ops"),
                                            ("nlu.activate.override", version_b, True, "lead@bxt"),
                                            ("nlu.rollback", version_a, True, "lead@bxt")]
        assert entries[0][4] == [] and entries[1][4] and entries[2][4] == []
        listed = runner.invoke(args=["nlu", "versions", "--json"])
        versions = {v["version"]: v for v in map(json.loads, listed.stdout.strip().splitlines())}
        assert versions[version_a]["active"] and versions[version_a]["trained_by"] == "ops"
        assert versions[version_b]["trained_by"] == "careless@bxt" and versions[version_b]["macro_f1"]["all"] < \
            versions[version_a]["macro_f1"]["all"]


def _registered(app, clock, archives):
    """A registry over a fresh model directory holding both tiny archives, A active."""
    from bot import context, runtime
    from nlu.training import TrainResult

    settings = context.settings()
    settings.model_dir.mkdir(parents=True, exist_ok=True)
    registry = runtime.model_registry(settings, context.db(), clock)
    out = []
    for result in archives:
        path = settings.model_dir / result.path.name
        shutil.copy(result.path, path)
        out.append(registry.register(TrainResult(result.version, path, False, 1.0, 12, result.fingerprint), by="t",
                                     scores={"heldout": "x", "macro_f1": {"all": 1.0}, "per_intent": {},
                                             "routing": {}}))
    return registry, out


def test_flask_nlu_train_goes_through_the_gate_once_a_model_is_active(tiny_app, clock):
    """`flask nlu train` activated whatever it trained, so a harmful relabelling went live from
    the command line while the admins' page refused it (a review). The first model is still
    activated as trained; after it, the command runs a training job and activates through the
    gate: a refusal keeps the active model and exits 3, --override-reason is audited, and a
    second training while one runs is refused."""
    from bot import context, runtime
    from store import AuditEntry, TrainingJob

    with tiny_app.app_context():
        runner, version_a, worker = _model_a_then_a_careless_relabelling(tiny_app, clock)
        settings, db = context.settings(), context.db()
        registry = runtime.model_registry(settings, db, clock)

        refused = runner.invoke(args=["nlu", "train", "--by", "ops"])
        assert refused.exit_code == 3, refused.output
        assert "is trained but not activated" in refused.output and "macro-F1 all drops by" in refused.output
        assert f"The active model stays {version_a}" in refused.output
        assert "[2/3]" in refused.stderr and "Evaluating" in refused.stderr  # the job's log, as it goes
        assert registry.active_version() == version_a
        assert _ask(tiny_app, worker, TAX_TRAFFIC[1], "q1").intent == "thue"  # the worker kept A
        with db.session() as s:
            jobs = [(j.status, j.requested_by, j.busy) for j in s.execute(select(TrainingJob)).scalars()]
        assert jobs == [("done", "ops", None)]
        version_b = registry.versions()[0].version
        assert version_b != version_a and registry.get(version_b).scores is not None

        queue = runtime.training_queue(settings, db, clock)
        queued = queue.request(by="admin@bxt")  # the admins' page asked the worker for one
        busy = runner.invoke(args=["nlu", "train", "--by", "ops"])
        assert busy.exit_code == 3 and f"#{queued.id}" in busy.output, busy.output  # the active model stays
        queue.finish(queued.id, "failed", error="cancelled by the test")

        overridden = runner.invoke(args=["nlu", "train", "--by", "lead@bxt", "--override-reason", "thử nghiệm"])
        assert overridden.exit_code == 0, overridden.output
        done = json.loads(overridden.stdout.strip().splitlines()[-1])
        assert (done["version"], done["activated"], done["skipped"]) == (version_b, True, True)  # trained already
        assert registry.active_version() == version_b
        assert _ask(tiny_app, worker, TAX_TRAFFIC[1], "q2").intent == "hai_quan"
        with db.session() as s:
            entries = [(e.action, e.object_id, e.details.get("on_behalf_of"), e.details.get("override_reason"))
                       for e in s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()]
        assert entries[-1] == ("nlu.activate.override", version_b, "lead@bxt", "thử nghiệm"), entries


def test_flask_nlu_train_activates_a_better_model_and_never_bypasses_the_gate(tiny_app, clock, monkeypatch):
    """The other ways through `flask nlu train` once a model is active (a review): labels that
    help are activated without a reason; with the database down a changed model is refused,
    not activated ungated; --force never retrains the active model in place; a training
    stopped by Ctrl-C frees the one training slot, and the admins' page says why."""
    import tuning.jobs
    from bot import context, runtime
    from bot.console.tuning_texts import job_error
    from nlu.training import read_active
    from store import TrainingJob
    from tuning import dataset

    runner = tiny_app.test_cli_runner()
    first = runner.invoke(args=["nlu", "train", "--by", "ops"])
    assert first.exit_code == 0, first.output
    version_a = json.loads(first.stdout.strip().splitlines()[-1])["version"]
    with tiny_app.app_context():
        settings, db = context.settings(), context.db()
        registry = runtime.model_registry(settings, db, clock)
        forced = runner.invoke(args=["nlu", "train", "--force", "--by", "ops"])
        assert forced.exit_code == 1 and "without evaluation" in forced.output
        more = settings.nlu_project_dir / "data" / "more.yml"
        more.write_text('version: "3.1"\nnlu:\n- intent: thue\n  examples: |\n    - nộp thuế môn bài\n'
                        "    - khai thuế thu nhập cá nhân\n", encoding="utf-8")

        def stopped(*args, **kwargs):
            raise KeyboardInterrupt

        with monkeypatch.context() as m:
            m.setattr(tuning.jobs, "train_candidate", stopped)
            interrupted = runner.invoke(args=["nlu", "train", "--by", "ops"])
        assert interrupted.exit_code != 0 and read_active(settings.model_dir)["version"] == version_a
        with db.session() as s:
            [job] = s.execute(select(TrainingJob)).scalars().all()
            assert (job.status, job.busy) == ("failed", None)
            assert "bị dừng giữa chừng" in job_error(job.error)

        def down(*args, **kwargs):
            from sqlalchemy.exc import OperationalError

            raise OperationalError("SELECT 1", {}, Exception("could not connect to server"))

        with monkeypatch.context() as m:
            m.setattr(dataset, "write_inbox_file", down)
            no_db = runner.invoke(args=["nlu", "train", "--by", "ops"])
        assert no_db.exit_code == 1 and "needs the database" in no_db.output
        assert read_active(settings.model_dir)["version"] == version_a

        better = runner.invoke(args=["nlu", "train", "--by", "ops"])
        assert better.exit_code == 0, better.output
        said = json.loads(better.stdout.strip().splitlines()[-1])
        assert said["activated"] and said["version"] != version_a and said["comparison"]["allowed"]
        assert said["examples"] > 0 and said["path"].endswith(".tar.gz")
        assert registry.active_version() == read_active(settings.model_dir)["version"] == said["version"]
        assert [a.kind for a in registry.history()] == ["activate", "train"]  # newest first


def test_a_corrupt_archive_is_never_activated(tiny_app, tiny_archives, clock):
    from tuning.versions import CorruptModel

    with tiny_app.app_context():
        registry, (a, b) = _registered(tiny_app, clock, tiny_archives)
        registry.activate(a.version, by="admin")
        archive = registry.model_dir / b.archive
        archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])  # cut short
        with pytest.raises(CorruptModel, match="cut short"):
            registry.activate(b.version, by="admin")
        assert registry.active_version() == a.version
        # Even an archive that passes as the registered bytes must read as a complete model.
        from tuning.versions import check_archive

        with pytest.raises(CorruptModel, match="not a complete model archive"):
            check_archive(archive)


def test_the_worker_keeps_its_model_when_the_active_one_does_not_load(tiny_archives, tmp_path):
    from nlu.classifier import RasaClassifier
    from nlu.training import activate

    a, b = tiny_archives
    models = tmp_path / "models"
    models.mkdir()
    for r in (a, b):
        shutil.copy(r.path, models / r.path.name)
    activate(models, {"version": a.version, "model": a.path.name})
    classifier = RasaClassifier(models, threshold=0.0)
    assert classifier.classify("hoàn thuế GTGT").model_version == a.version
    broken = models / b.path.name
    broken.write_bytes(broken.read_bytes()[:1000])
    activate(models, {"version": b.version, "model": b.path.name})  # written by hand, past the registry
    result = classifier.classify("hoàn thuế GTGT")
    assert (result.model_version, result.intent) == (a.version, "thue")


def test_activation_loads_the_model_on_the_rasa_server(make_app, tmp_path, tiny_archives, clock):
    """With nlu.server_url, activation is `PUT /model` on a real `rasa run --enable-api`;
    a model the server cannot load switches nothing."""
    from nlu import server
    from tuning.versions import RemoteLoadFailed

    a, b = tiny_archives
    rasa = server.start(a.path, tmp_path / "rasa.log", port=free_port())
    try:
        try:
            rasa.wait_ready(tries=300)
        except server.ServerFailed as exc:
            pytest.fail(str(exc))
        app = make_app(nlu__project_dir=str(tiny_project(tmp_path / "p")), nlu__model_dir=str(tmp_path / "models"),
                       nlu__server_url=rasa.url)
        with app.app_context():
            from bot import context, runtime

            registry, (va, vb) = _registered(app, clock, tiny_archives)
            registry.activate(va.version, by="admin")
            assert requests.get(f"{rasa.url}/status", timeout=10).json()["model_file"] == a.path.name
            worker_side = runtime.classifier(context.settings())  # a running worker's, in remote mode
            assert (worker_side.classify("hoàn thuế GTGT").model_version, worker_side.version) == (va.version,) * 2
            registry.activate(vb.version, by="admin", override_reason="same scores in this test")
            assert requests.get(f"{rasa.url}/status", timeout=10).json()["model_file"] == b.path.name
            parsed = requests.post(f"{rasa.url}/model/parse", json={"text": "hoàn thuế GTGT"}, timeout=10).json()
            assert parsed["intent"]["name"] == "hai_quan"  # B's swapped labels, served by the server
            # the worker records the version it was served with, without a restart
            for got in [worker_side.classify("hoàn thuế GTGT")] + worker_side.classify_many(["hoàn thuế", "thuế"]):
                assert (got.intent, got.model_version) == ("hai_quan", vb.version)
            registry.server_url = rasa.url + "/nowhere"
            with pytest.raises(RemoteLoadFailed, match="refused"):
                registry.rollback(by="admin")
            assert registry.active_version() == vb.version
    finally:
        rasa.stop()


def test_flask_nlu_train_loads_the_first_model_on_the_rasa_server(make_app, tmp_path, tiny_archives):
    """With nlu.server_url, `flask nlu train`'s first model (none active) reached only
    active.json, which the workers do not read: the Rasa server kept serving whatever it had
    been started with. Now the server loads it first (`PUT /model`); a server that will not
    leaves the archive trained and nothing active (exit 1)."""
    from bot import context
    from nlu import server
    from nlu.training import read_active
    from store import AuditEntry

    _, swapped = tiny_archives
    rasa = server.start(swapped.path, tmp_path / "rasa.log", port=free_port())  # serving B's swapped labels
    try:
        try:
            rasa.wait_ready(tries=300)
        except server.ServerFailed as exc:
            pytest.fail(str(exc))
        models, project = tmp_path / "models", tiny_project(tmp_path / "p")

        def app_with(server_url: str):
            return make_app(nlu__project_dir=str(project), nlu__model_dir=str(models),
                            nlu__inbox_data_dir=str(tmp_path / "inbox"), nlu__server_url=server_url)

        app = app_with(rasa.url + "/nowhere")
        refused = app.test_cli_runner().invoke(args=["nlu", "train", "--by", "ops"])
        assert refused.exit_code == 1 and "is trained but not activated" in refused.output, refused.output
        assert "HTTP 404" in refused.output
        assert read_active(models) is None
        with app.app_context(), context.db().session() as s:
            assert s.execute(select(NluActivation)).scalars().all() == []
        assert requests.get(f"{rasa.url}/status", timeout=10).json()["model_file"] == swapped.path.name

        app = app_with(rasa.url)
        trained = app.test_cli_runner().invoke(args=["nlu", "train", "--by", "ops"])
        assert trained.exit_code == 0, trained.output
        said = json.loads(trained.stdout.strip().splitlines()[-1])
        assert said["activated"] and read_active(models)["version"] == said["version"]
        status = requests.get(f"{rasa.url}/status", timeout=10).json()
        assert status["model_file"] == Path(said["path"]).name
        parsed = requests.post(f"{rasa.url}/model/parse", json={"text": "hoàn thuế GTGT"}, timeout=10).json()
        assert parsed["intent"]["name"] == "thue"  # the trained labels, no longer B's
        with app.app_context(), context.db().session() as s:
            [activation] = s.execute(select(NluActivation)).scalars().all()
            assert (activation.version, activation.kind, activation.previous_version) == (said["version"], "train",
                                                                                          None)
            entries = s.execute(select(AuditEntry).where(AuditEntry.action == "nlu.train")).scalars().all()
            assert [(e.object_id, e.details["on_behalf_of"]) for e in entries] == [(said["version"], "ops")]
    finally:
        rasa.stop()
