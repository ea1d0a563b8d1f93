"""The admins' retraining and model pages (issue 13): conflicts to settle and the Train button,
the job's progress and log (an htmx fragment polled every 2 s while the job is queued or
running), a candidate side by side with the active model and the gate's verdict, every
version with activate and roll back in one action.

Training runs in the worker (tuning.jobs), never here: the page only queues a job and reads
its row. Activation and rollback are tuning.versions': the gate, the corrupt-archive check and
the remote Rasa server are all there; this module says in Vietnamese what they decided and
writes the audit log with Activation.audit(). An activation the gate refuses goes through only
with a written reason, audited as its own action (nlu.activate.override) so it can be found.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from bot import context
from bot.console import nlu
from bot.console.access import roles
from bot.console.audit import audit
from bot.console.tuning_texts import activation_entry, gate_reason
from store import ClassificationRecord
from tuning import dataset
from tuning.gate import MAX_OVERALL_DROP, MAX_VARIANT_DROP
from tuning.jobs import TrainingBusy, TrainingError, TrainingRefused
from tuning.versions import CorruptModel, GateRefused, RemoteLoadFailed, UnknownVersion, VersionError

bp = Blueprint("nlu_models", __name__, url_prefix="/nlu")
MAX_REASON = 2000
_INBOX_SOURCE = re.compile(r"^inbox #(\d+)$")


@dataclass(frozen=True)
class Side:
    """One side of a conflict: a hand-written example (record_id None) or an accepted message."""

    text: str
    intent: str
    source: str
    record_id: Optional[int]
    version: Optional[int]


def conflicts() -> list[tuple[str, list[Side]]]:
    settings = context.settings()
    with context.db().session() as s:
        found = dataset.find_conflicts(s, settings.nlu_project_dir, settings.inbox_data_dir)
        ids = [int(m[1]) for c in found for e in c.examples if (m := _INBOX_SOURCE.match(e.source))]
        versions = dict(s.execute(select(ClassificationRecord.id, ClassificationRecord.version)
                                  .where(ClassificationRecord.id.in_(ids))).all()) if ids else {}
    out = []
    for c in found:
        sides = []
        for e in c.examples:
            m = _INBOX_SOURCE.match(e.source)
            record_id = int(m[1]) if m else None
            sides.append(Side(e.text, e.intent, e.source, record_id, versions.get(record_id)))
        out.append((c.examples[0].text, sides))
    return out


def _busy(jobs) -> Optional[object]:
    return next((j for j in jobs if not j.finished), None)


def _panel(messages=()) -> dict:
    """What the panel of conflicts and the Train button shows; the button is refused while a
    conflict exists or a job is queued or running."""
    return {"conflicts": conflicts(), "busy": _busy(nlu.queue().recent(5)), "messages": list(messages),
            "intents": nlu.intent_choices(nlu.inbox().intents), "token": nlu.token}


def train_panel(messages=()) -> str:
    """htmx fragment: the panel again, after a conflict was settled from it."""
    return render_template("console/_nlu_train_panel.html", **_panel(messages))


@bp.get("/training")
@roles("admin")
def training(messages=(), status: int = 200):
    jobs = nlu.queue().recent(10)
    return render_template("console/nlu_training.html", jobs=jobs, current=jobs[0] if jobs else None,
                           counts=nlu.inbox().counts(), **_panel(messages)), status


def _busy_message(exc: TrainingBusy) -> str:
    job = exc.job
    at = current_app.jinja_env.filters["local_datetime"](job.requested_at)
    state = "đang chờ worker nhận" if job.status == "queued" else "đang chạy"
    return (f"Chưa thể huấn luyện: lượt huấn luyện #{job.id} do {job.requested_by} yêu cầu lúc {at} {state}. "
            "Hãy chờ lượt đó xong rồi yêu cầu lại.")


@bp.post("/training")
@roles("admin")
def train():
    try:
        job = nlu.queue().request(by=current_user.email)
    except TrainingBusy as exc:
        return training([("error", _busy_message(exc))], 409)
    except TrainingRefused as exc:
        return training([("error", f"Chưa thể huấn luyện: {len(exc.conflicts)} câu đang mang hai nhãn khác nhau. "
                                   "Hãy xử lý các xung đột dưới đây trước.")], 409)
    except TrainingError:
        return training([("error", "Chưa thể huấn luyện lúc này (một lượt khác vừa xong). Hãy thử lại.")], 409)
    with context.db().session() as s:
        audit(s, "nlu.train.request", object_type="training_job", object_id=str(job.id))
    flash(f"Đã gửi yêu cầu huấn luyện #{job.id}. Worker sẽ chạy; tiến độ hiện bên dưới.", "success")
    return redirect(url_for("console.nlu_models.training"))


@bp.get("/training/jobs/<int:job_id>")
@roles("admin")
def job(job_id: int):
    """htmx fragment: the job's progress and log; it polls itself while the job is not finished."""
    try:
        view = nlu.queue().get(job_id)
    except TrainingError:
        abort(404)
    html = render_template("console/_nlu_job.html", job=view)
    if view.finished and request.headers.get("HX-Request") == "true":
        # the last poll: the Train button's panel is current again (it said "a job runs")
        html += render_template("console/_nlu_train_panel.html", oob=True, **_panel())
    return html


# ---- versions ---------------------------------------------------------------------------------
def _rollback_target(registry) -> Optional[str]:
    """What rollback would return to (tuning.versions.rollback's rule)."""
    active = registry.active_version()
    last = next((a for a in registry.history() if a.version == active), None)
    return last.previous_version if last else None


@bp.get("/models")
@roles("admin")
def models(messages=(), status: int = 200):
    registry = nlu.registry()
    try:
        registry.adopt_active()  # a model activated by `flask nlu train` before the registry knew it
    except OSError:
        pass  # active.json names an archive that is gone: listed as it is, activation checks again
    return render_template("console/nlu_models.html", versions=registry.versions(), history=registry.history(),
                           active=registry.active_version(), target=_rollback_target(registry),
                           messages=list(messages)), status


def _model_or_404(registry, version: str):
    try:
        return registry.get(version)
    except UnknownVersion:
        abort(404)


@bp.get("/models/<model>")
@roles("admin")
def compare(model: str, messages=(), status: int = 200, refused: bool = False, reason: str = ""):
    registry = nlu.registry()
    candidate = _model_or_404(registry, model)
    active_version = registry.active_version()
    active = registry.get(active_version) if active_version and active_version != model else None
    comparison = registry.comparison(model)
    per_intent = sorted(comparison.per_intent, key=lambda r: (r.change is None, r.change or 0, r.name))
    return render_template("console/nlu_compare.html", candidate=candidate, active=active, comparison=comparison,
                           per_intent=per_intent, reasons=[gate_reason(r) for r in comparison.refusals],
                           refused=refused, reason=reason, messages=list(messages), max_reason=MAX_REASON,
                           limits={"all": MAX_OVERALL_DROP, "variant": MAX_VARIANT_DROP}), status


def _record(activation) -> None:
    action, data = activation_entry(activation)
    with context.db().session() as s:
        audit(s, action, object_type="nlu_model", object_id=activation.version, details=data)


def _version_error(exc: VersionError, version: str) -> str:
    if isinstance(exc, CorruptModel):
        return (f"Không kích hoạt {version}: tệp mô hình không còn là tệp đã được huấn luyện và đánh giá "
                "(bị sửa, thiếu hoặc hỏng). Mô hình đang dùng giữ nguyên.")
    if isinstance(exc, RemoteLoadFailed):
        return f"Máy chủ Rasa không nạp được mô hình {version}; không có gì thay đổi."
    return f"Không thực hiện được với {version}. Mô hình đang dùng giữ nguyên."


@bp.post("/models/<model>/activate")
@roles("admin")
def activate(model: str):
    registry = nlu.registry()
    _model_or_404(registry, model)
    reason = " ".join((request.form.get("override_reason") or "").split())
    if len(reason) > MAX_REASON:
        return compare(model, [("error", f"Lý do quá dài (tối đa {MAX_REASON} ký tự).")], 422, reason=reason[:MAX_REASON])
    if registry.active_version() == model:
        return compare(model, [("error", f"{model} đã là mô hình đang dùng.")], 409)
    # a reason is an override: kept only when the gate refuses (else nothing is overridden)
    allowed = registry.comparison(model).allowed
    try:
        activation = registry.activate(model, by=current_user.email, override_reason=None if allowed else reason)
    except GateRefused:
        return compare(model, [("error", "Cổng đánh giá từ chối kích hoạt mô hình này (lý do bên dưới). Muốn vẫn "
                                         "kích hoạt, hãy ghi lý do vượt cổng; lý do được lưu vào nhật ký.")], 409,
                       refused=True)
    except VersionError as exc:
        return compare(model, [("error", _version_error(exc, model))], 409, reason=reason)
    _record(activation)
    flash(f"Đã kích hoạt {model}" + (" (vượt cổng đánh giá, lý do đã ghi vào nhật ký)" if activation.override_reason
                                     else "") + ". Worker dùng mô hình mới từ tin nhắn tiếp theo.", "success")
    return redirect(url_for("console.nlu_models.models"))


@bp.post("/rollback")
@roles("admin")
def rollback():
    registry = nlu.registry()
    target = _rollback_target(registry)
    if not target:
        return models([("error", "Chưa có mô hình nào được dùng trước mô hình hiện tại để quay lại.")], 409)
    try:
        activation = registry.rollback(by=current_user.email)
    except VersionError as exc:
        return models([("error", _version_error(exc, target))], 409)
    _record(activation)
    flash(f"Đã quay lại mô hình {activation.version} (thay cho {activation.previous_version}).", "success")
    return redirect(url_for("console.nlu_models.models"))
