"""classify(text): Rasa in process by default, or a Rasa server's /model/parse, same result."""
from __future__ import annotations

import asyncio
import logging
import re
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Protocol

from concurrent.futures import ThreadPoolExecutor

import requests

from nlu.entities import resolve
from nlu.normalize import normalize
from nlu.training import read_active

log = logging.getLogger(__name__)
# The classifier reads at most this much of a message: the question is at its start, and a
# bounded input keeps a huge paste from costing seconds.
MAX_CLASSIFY_CHARS = 4000
_LEADING_SLASHES = re.compile(r"^[\s/]+")


class NoModel(Exception):
    """No trained model is active yet (run `flask nlu train`)."""


@dataclass(frozen=True)
class Classification:
    text: str  # as the business wrote it; entity offsets refer to `normalized`
    intent: Optional[str]
    confidence: float
    entities: list[dict[str, Any]] = field(default_factory=list)
    ranking: list[tuple[str, float]] = field(default_factory=list)
    needs_review: bool = True
    model_version: Optional[str] = None
    normalized: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ranking"] = [list(r) for r in self.ranking]
        return data


class Classifier(Protocol):
    def classify(self, text: str) -> Classification: ...


# Texts per run of the Rasa graph in classify_many: measured on the held-out messages
# (the chosen pipeline, one core), 16 texts in one run cost 2.4 ms a text against 12 ms one
# by one; 64 in one run cost 8.9 ms a text (the featurizers' work grows faster than the batch).
GRAPH_BATCH = 16
REMOTE_IN_FLIGHT = 4  # /model/parse requests at once to a Rasa server in classify_many


def needs_review(confidence: float, ranking: list[tuple[str, float]], threshold: float, min_margin: float) -> bool:
    """Unsure when below the threshold, or when the runner-up is within `min_margin`."""
    if confidence < threshold:
        return True
    if min_margin > 0 and len(ranking) > 1 and ranking[0][1] - ranking[1][1] < min_margin:
        return True
    return False


def _from_parse(text: str, parsed: dict, threshold: float, min_margin: float, version: Optional[str]) -> Classification:
    intent = (parsed.get("intent") or {}).get("name")
    confidence = float((parsed.get("intent") or {}).get("confidence") or 0.0)
    ranking = [(r["name"], float(r["confidence"])) for r in parsed.get("intent_ranking") or []]
    entities = resolve(parsed.get("text") or text, [
        {k: e[k] for k in ("entity", "value", "start", "end") if k in e}
        for e in parsed.get("entities") or []
    ])
    return Classification(
        text=text,
        intent=intent,
        confidence=round(confidence, 4),
        entities=entities,
        ranking=ranking[:5],
        needs_review=intent is None or needs_review(confidence, ranking, threshold, min_margin),
        model_version=version,
        normalized=parsed.get("text") or text,
    )


def for_rasa(text: str) -> str:
    """The normalised text as Rasa must see it. Rasa reads a message that starts with "/" as
    an intent typed by hand ("/thue" -> intent "thue", confidence 1.0; "/ hỏi thuế" -> an
    intent named "hỏi thuế"), so a business typing a slash first would bypass the model and
    the abstention: the leading slashes are dropped."""
    return _LEADING_SLASHES.sub("", normalize(text))


def _no_words(text: str, version: Optional[str]) -> Classification:
    """What a text with nothing left after normalisation (only emoji, zero-width or control
    characters) is: no intent, for a person to look at. Rasa is not asked: its featurizers
    have nothing to work with."""
    return Classification(text=text, intent=None, confidence=0.0, needs_review=True, model_version=version,
                          normalized="")


def _parse_many(agent, cleans: list[str]) -> list[dict]:
    """Rasa's parse of several texts in ONE run of the model's graph (each component's
    `process` takes a list of messages), the same dicts `Agent.parse_message` returns one by
    one (tests/test_nlu.py compares them). Falls back to one parse per text where the
    processor does not expose its graph (another Rasa version)."""
    processor = agent.processor
    runner = getattr(processor, "graph_runner", None)
    metadata = getattr(processor, "model_metadata", None)
    if runner is None or metadata is None or getattr(processor, "http_interpreter", None) is not None:
        loop = asyncio.new_event_loop()
        try:
            return [loop.run_until_complete(agent.parse_message(text)) for text in cleans]
        finally:
            loop.close()
    from rasa.core.channels.channel import UserMessage
    from rasa.core.processor import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
    from rasa.shared.core.trackers import DialogueStateTracker

    out: list[dict] = []
    for start in range(0, len(cleans), GRAPH_BATCH):
        chunk = cleans[start:start + GRAPH_BATCH]
        messages = [UserMessage(text) for text in chunk]
        tracker = DialogueStateTracker.from_events(messages[0].sender_id, [])
        results = runner.run(inputs={PLACEHOLDER_MESSAGE: messages, PLACEHOLDER_TRACKER: tracker},
                             targets=[metadata.nlu_target])
        for parsed in results[metadata.nlu_target]:
            data = {"text": "", "intent": {"name": None, "confidence": 0.0}, "entities": []}
            data.update(parsed.as_dict(only_output_properties=True))
            update = getattr(processor, "_update_full_retrieval_intent", None)
            if update is not None:
                update(data)
            out.append(data)
    return out


def _classify_with_agent(agent, texts: list[str], threshold: float, min_margin: float,
                         version: Optional[str]) -> list[Classification]:
    """classify() of each text with a loaded agent, the texts with words in one graph run."""
    cleans = [for_rasa(text) for text in texts]
    worded = [i for i, clean in enumerate(cleans) if clean]
    parsed = dict(zip(worded, _parse_many(agent, [cleans[i] for i in worded]))) if worded else {}
    return [_from_parse(text, parsed[i], threshold, min_margin, version) if i in parsed else _no_words(text, version)
            for i, text in enumerate(texts)]


def classify_many(classifier, texts: list[str]) -> list[Classification]:
    """Each text's classification, in one model call where the classifier can (in process:
    one graph run per GRAPH_BATCH texts; a Rasa server: REMOTE_IN_FLIGHT requests at once),
    else one by one."""
    many = getattr(classifier, "classify_many", None)
    if many is not None:
        return many(list(texts))
    return [classifier.classify(text) for text in texts]


class Batched:
    """A classifier that answers from results classified ahead, in one call, for a batch of
    messages (the worker primes it with the texts of the events it has just claimed, issue
    14); a text it was not primed with is classified on its own, as before. The results of a
    prime are kept until the next prime, so one claimed batch never sees another's. Used by
    one thread (the worker's event loop)."""

    def __init__(self, classifier, limit: int = 0):
        self.classifier, self.limit = classifier, limit or MAX_CLASSIFY_CHARS
        self._ahead: dict[str, Classification] = {}

    @property
    def version(self) -> Optional[str]:
        return getattr(self.classifier, "version", None)

    def prime(self, texts) -> int:
        """Classify these texts now, together; returns how many were classified."""
        cut = list(dict.fromkeys(text[:self.limit] for text in texts if text))
        self._ahead = dict(zip(cut, classify_many(self.classifier, cut))) if cut else {}
        return len(cut)

    def classify(self, text: str) -> Classification:
        cut = text[:self.limit]
        ahead = self._ahead.get(cut)
        return ahead if ahead is not None else self.classifier.classify(cut)


def load_agent(path: Path):
    """A Rasa agent for one model archive (Rasa is imported here, not at module import)."""
    from nlu import quiet_rasa

    with quiet_rasa():
        from rasa.core.agent import Agent
        from rasa.utils.log_utils import configure_structlog

        configure_structlog(logging.WARNING)
        agent = Agent.load(str(path))
    if agent.processor is None:  # Rasa logs a bad archive and returns an agent without a model
        raise ValueError(f"{path} is not a loadable Rasa model")
    return agent


class ArchiveClassifier:
    """One given model archive, whatever is active: for evaluating a candidate before it
    is activated (tuning.gate)."""

    def __init__(self, archive: Path, *, threshold: float, min_margin: float = 0.0):
        self.threshold, self.min_margin = threshold, min_margin
        self.version = Path(archive).name.replace(".tar.gz", "")
        self._agent = load_agent(Path(archive))
        self._loop = asyncio.new_event_loop()

    def classify(self, text: str) -> Classification:
        clean = normalize(text)
        if not clean:
            return _no_words(text, self.version)
        parsed = self._loop.run_until_complete(self._agent.parse_message(clean))
        return _from_parse(text, parsed, self.threshold, self.min_margin, self.version)

    def classify_many(self, texts: list[str]) -> list[Classification]:
        return _classify_with_agent(self._agent, texts, self.threshold, self.min_margin, self.version)

    def close(self) -> None:
        self._loop.close()


class RasaClassifier:
    """Loads the active model once and reloads it when active.json names another one.

    A model that fails to load is not taken: the worker keeps classifying with the one it
    has (and says so in its log) rather than stopping; activation checks the archive
    first (tuning.versions), so this is the last line of defence."""

    def __init__(self, model_dir: Path, *, threshold: float, min_margin: float = 0.0):
        self.model_dir = Path(model_dir)
        self.threshold = threshold
        self.min_margin = min_margin
        self._agent = None
        self._version: Optional[str] = None
        self._failed: Optional[str] = None  # a version that did not load: not tried again
        self._loop = asyncio.new_event_loop()
        self._lock = threading.Lock()

    @property
    def version(self) -> Optional[str]:
        return self._version

    @property
    def ready(self) -> bool:
        """A model is loaded: the worker claims no event before (bot/worker.py)."""
        return self._agent is not None

    def refresh(self) -> Optional[str]:
        """Load the active model if it changed since the last call; returns its version."""
        active = read_active(self.model_dir)
        if not active:
            return self._version
        if active["version"] != self._version and active["version"] != self._failed:
            path = self.model_dir / active["model"]
            log.info("loading NLU model %s", path)
            try:
                agent = load_agent(path)
            except Exception:  # a broken archive must not stop the worker's loop
                log.exception("NLU model %s could not be loaded; keeping %s", path, self._version)
                self._failed = active["version"]
                if self._agent is None:
                    raise
                return self._version
            self._agent, self._version, self._failed = agent, active["version"], None
        return self._version

    def classify(self, text: str) -> Classification:
        with self._lock:
            self.refresh()
            if self._agent is None:
                raise NoModel(f"no active model in {self.model_dir}; run `flask nlu train`")
            clean = for_rasa(text)
            if not clean:
                return _no_words(text, self._version)
            parsed = self._loop.run_until_complete(self._agent.parse_message(clean))
            return _from_parse(text, parsed, self.threshold, self.min_margin, self._version)

    def classify_many(self, texts: list[str]) -> list[Classification]:
        """classify() of each text, in one run of the graph per GRAPH_BATCH texts."""
        with self._lock:
            self.refresh()
            if self._agent is None:
                raise NoModel(f"no active model in {self.model_dir}; run `flask nlu train`")
            return _classify_with_agent(self._agent, texts, self.threshold, self.min_margin, self._version)


class RemoteRasaClassifier:
    """The same interface over a Rasa server started with `rasa run --enable-api`.

    The model version recorded with each classification is the one the server says it serves
    (`/status`), asked again whenever `active.json` in `model_dir` names another model: an
    activation or rollback loads the model on the server (`PUT /model`, tuning.versions) and
    then rewrites `active.json`, so the running worker records the new version without a
    restart, as it does in process. Without `model_dir` the version is asked once."""

    def __init__(self, server_url: str, *, threshold: float, min_margin: float = 0.0, timeout: float = 10.0,
                 model_dir: Optional[Path] = None):
        self.server_url = server_url.rstrip("/")
        self.threshold = threshold
        self.min_margin = min_margin
        self.timeout = timeout
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self._http = requests.Session()
        self._version: Optional[str] = None
        self._active: Optional[str] = None  # the version active.json named when /status was last asked
        self._following = threading.Lock()

    @property
    def version(self) -> Optional[str]:
        return self._version

    def refresh(self) -> Optional[str]:
        try:
            status = self._http.get(f"{self.server_url}/status", timeout=self.timeout).json()
            self._version = Path(status.get("model_file") or "").name.replace(".tar.gz", "") or None
        except (requests.RequestException, ValueError) as exc:
            log.warning("Rasa server status unavailable: %s", exc)
        return self._version

    def _follow_activations(self) -> None:
        if self.model_dir is None:
            return
        with self._following:  # classify_many's threads: one of them asks
            active = (read_active(self.model_dir) or {}).get("version")
            if active != self._active:
                before = self._version
                self.refresh()
                if self._version != before or self._version == active:  # asked: else again next time
                    self._active = active

    def classify(self, text: str) -> Classification:
        self._follow_activations()
        clean = for_rasa(text)
        if not clean:
            return _no_words(text, self._version)
        response = self._http.post(f"{self.server_url}/model/parse", json={"text": clean}, timeout=self.timeout)
        response.raise_for_status()
        if self._version is None:
            self.refresh()
        return _from_parse(text, response.json(), self.threshold, self.min_margin, self._version)

    def classify_many(self, texts: list[str]) -> list[Classification]:
        """classify() of each text; Rasa's /model/parse takes one text, so up to
        REMOTE_IN_FLIGHT requests are in flight at once (the network waits overlap)."""
        if len(texts) < 2:
            return [self.classify(text) for text in texts]
        self._follow_activations()
        with ThreadPoolExecutor(max_workers=min(REMOTE_IN_FLIGHT, len(texts)),
                                thread_name_prefix="rasa-parse") as pool:
            return list(pool.map(self.classify, texts))


def build_classifier(model_dir: Path, threshold: float, min_margin: float, server_url: Optional[str]) -> Classifier:
    if server_url:
        return RemoteRasaClassifier(server_url, threshold=threshold, min_margin=min_margin, model_dir=model_dir)
    return RasaClassifier(model_dir, threshold=threshold, min_margin=min_margin)
