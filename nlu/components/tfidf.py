"""TF-IDF n-gram features, optionally on the text with Vietnamese diacritics removed.

Why not Rasa's CountVectorsFeaturizer: raw counts of thousands of character n-grams make
the logistic regression slow to converge (about two minutes on two cores) and let long
messages dominate; sublinear TF-IDF with L2 normalisation trains in seconds and scored
better in `python -m nlu.compare`. Folding diacritics ("thuế" and "thue" give the same
n-grams) makes text typed without a Vietnamese keyboard look like the accented examples,
without doubling the training data. An optional English -> Vietnamese glossary adds the
Vietnamese terms of an English message's administrative phrases, so English messages use
what the model learned from the much larger Vietnamese data. An optional list of Vietnamese
abbreviations (GTGT = giá trị gia tăng, MST = mã số thuế, ...) adds the other form of each
one found, so a message that spells a term out looks like the examples that abbreviate it,
and the other way round.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple, Type

import numpy as np
import scipy.sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import normalize as l2_normalize

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

import nlu.normalize
from nlu.normalize import detect_language, strip_diacritics

logger = logging.getLogger(__name__)

# Single-letter words matter in chat ("k", "j", "e", "a"); sklearn's default pattern drops them.
WORD_PATTERN = r"(?u)\b\w+\b"
GLOSSARY_DIR = Path(__file__).resolve().parent


def _read_pairs(path: Path) -> List[Tuple[Text, Text]]:
    """The non-empty `left | right` pairs of a file's lines; # starts a comment."""
    pairs = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "|" in line:
            left, right = (part.strip() for part in line.split("|", 1))
            if left and right:
                pairs.append((left, right))
    return pairs


def read_glossary(path: Path) -> Dict[Text, Text]:
    """`english phrase | vietnamese terms` lines."""
    return {english.lower(): vietnamese for english, vietnamese in _read_pairs(path)}


class Glossary:
    """Adds the Vietnamese terms of the glossary phrases found in an English message."""

    def __init__(self, entries: Dict[Text, Text]):
        self.entries = entries
        phrases = sorted(entries, key=len, reverse=True)  # longest first: "tax code" before "tax"
        # A plural ("e-invoices", "work permits") counts as its phrase.
        self._pattern = (re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, phrases)) + r")(?:e?s)?(?![\w-])")
                         if phrases else None)

    def expand(self, text: Text) -> Text:
        """`text` (lowercase) plus the Vietnamese terms, only when the message is English."""
        if self._pattern is None or detect_language(text) != "en":
            return text
        terms = [self.entries[m.group(1)] for m in self._pattern.finditer(text)]
        return f"{text} {' '.join(terms)}" if terms else text


def read_abbreviations(path: Path) -> Dict[Text, List[Text]]:
    """`abbreviation | full form [; full form]` lines, matched unaccented and lowercase."""
    out: Dict[Text, List[Text]] = {}
    for short, long in _read_pairs(path):
        forms = [strip_diacritics(f.strip().lower()) for f in long.split(";") if f.strip()]
        if forms:
            out[strip_diacritics(short.lower())] = forms
    return out


class Abbreviations:
    """Adds, for each abbreviation or full form found in the (folded) text, the other form(s)."""

    def __init__(self, entries: Dict[Text, List[Text]]):
        self.entries = entries
        self._other: Dict[Text, List[Text]] = {}
        for short, forms in entries.items():
            self._other.setdefault(short, []).extend(forms)
            for form in forms:
                self._other.setdefault(form, []).append(short)
        phrases = sorted(self._other, key=len, reverse=True)
        self._pattern = re.compile(r"(?<!\w)(" + "|".join(map(re.escape, phrases)) + r")(?!\w)") if phrases else None

    def additions(self, folded: Text) -> List[Text]:
        """The other forms of the terms found in `folded` (text already without diacritics)."""
        if self._pattern is None:
            return []
        found = {m.group(1) for m in self._pattern.finditer(folded)}
        return [other for term in sorted(found) for other in self._other[term] if other not in found]

    def expand(self, text: Text) -> Text:
        """`text` plus the other forms of the terms it contains (matched without diacritics)."""
        added = self.additions(strip_diacritics(text))
        return f"{text} {' '.join(added)}" if added else text


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class TfidfFeaturizer(SparseFeaturizer, GraphComponent):
    """Sentence (whole text) and sequence (per token) TF-IDF features of the message text."""

    @classmethod
    def required_components(cls) -> List[Type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **SparseFeaturizer.get_default_config(),
            "analyzer": "char_wb",  # "word", "char" or "char_wb"
            "min_ngram": 2,
            "max_ngram": 5,
            "fold_diacritics": True,  # strip Vietnamese diacritics (and đ -> d) first
            "sublinear_tf": True,
            "min_df": 1,
            # Per-token features are only needed by DIET; the logistic regression reads
            # the sentence features, so its pipeline turns them off to save time.
            "sequence_features": True,
            # A glossary file in nlu/components/ (e.g. glossary_en_vi.txt) or null; it is
            # stored in the model, so a model keeps the glossary it was trained with.
            "glossary": None,
            # A file of Vietnamese abbreviations in nlu/components/ (abbreviations_vi.txt) or
            # null; stored in the model like the glossary.
            "abbreviations": None,
        }

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[Text]:
        """Rasa's training cache keys a component on its class source and config only; add the
        rest of what shapes the features (this module, normalisation, the glossary file), so an
        edit there is never answered with stale cached features."""
        digest = hashlib.sha256(Path(__file__).read_bytes())
        digest.update(Path(nlu.normalize.__file__).read_bytes())
        for option in ("glossary", "abbreviations"):
            if config.get(option):
                digest.update((GLOSSARY_DIR / config[option]).read_bytes())
        return digest.hexdigest()

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        if config["analyzer"] not in ("word", "char", "char_wb"):
            raise InvalidConfigException(f"TfidfFeaturizer: unknown analyzer {config['analyzer']!r}")
        if not 1 <= config["min_ngram"] <= config["max_ngram"]:
            raise InvalidConfigException("TfidfFeaturizer: need 1 <= min_ngram <= max_ngram")

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        vocabulary: Optional[Dict[Text, int]] = None,
        idf: Optional[np.ndarray] = None,
        glossary: Optional[Dict[Text, Text]] = None,
        abbreviations: Optional[Dict[Text, List[Text]]] = None,
    ) -> None:
        super().__init__(execution_context.node_name, config)
        self._model_storage = model_storage
        self._resource = resource
        self.vocabulary = vocabulary
        self.idf = idf
        if glossary is None and config.get("glossary"):
            glossary = read_glossary(GLOSSARY_DIR / config["glossary"])
        self.glossary = Glossary(glossary or {})
        if abbreviations is None and config.get("abbreviations"):
            abbreviations = read_abbreviations(GLOSSARY_DIR / config["abbreviations"])
        self.abbreviations = Abbreviations(abbreviations or {})
        self._counter = self._make_counter(vocabulary) if vocabulary else None

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "TfidfFeaturizer":
        return cls({**cls.get_default_config(), **config}, model_storage, resource, execution_context)

    # ---- text -> matrix ---------------------------------------------------------------------
    def _prepare(self, text: Text) -> Text:
        text = self.glossary.expand(text.lower())
        folded = strip_diacritics(text)  # once: the abbreviations match on it, and it may be the result
        base = folded if self._config["fold_diacritics"] else text
        added = self.abbreviations.additions(folded)
        return f"{base} {' '.join(added)}" if added else base

    def _vectorizer_args(self) -> Dict[Text, Any]:
        args: Dict[Text, Any] = {
            "analyzer": self._config["analyzer"],
            "ngram_range": (self._config["min_ngram"], self._config["max_ngram"]),
            "lowercase": False,  # _prepare has done it
            "dtype": np.float64,
        }
        if self._config["analyzer"] == "word":
            args["token_pattern"] = WORD_PATTERN
        return args

    def _make_counter(self, vocabulary: Dict[Text, int]) -> CountVectorizer:
        return CountVectorizer(vocabulary=vocabulary, **self._vectorizer_args())

    def _transform(self, texts: List[Text]) -> scipy.sparse.csr_matrix:
        counts = self._counter.transform([self._prepare(t) for t in texts]).astype(np.float64).tocsr()
        if self._config["sublinear_tf"]:
            counts.data = 1.0 + np.log(counts.data)
        # Each stored count times its term's idf: what `counts @ diags(idf)` computes, without
        # building a vocabulary-sized diagonal matrix at every call (that was most of this
        # method's time when the worker classifies a batch).
        counts.data *= self.idf[counts.indices]
        return l2_normalize(counts, norm="l2", copy=False)

    # ---- graph component API ----------------------------------------------------------------
    def train(self, training_data: TrainingData) -> Resource:
        texts = [self._prepare(m.get(TEXT)) for m in training_data.training_examples if m.get(TEXT)]
        if not texts:
            logger.debug("TfidfFeaturizer: no texts to train on")
            return self._resource
        fitted = TfidfVectorizer(sublinear_tf=self._config["sublinear_tf"], min_df=self._config["min_df"],
                                 **self._vectorizer_args()).fit(texts)
        self.vocabulary = {term: int(i) for term, i in fitted.vocabulary_.items()}
        self.idf = np.asarray(fitted.idf_, dtype=np.float64)
        self._counter = self._make_counter(self.vocabulary)
        self._persist()
        return self._resource

    def _featurize(self, messages: List[Message]) -> None:
        if self._counter is None:
            return
        messages = [m for m in messages if m.get(TEXT)]
        if not messages:
            return
        sentences = self._transform([m.get(TEXT) for m in messages])
        sequences: List[Optional[scipy.sparse.spmatrix]] = [None] * len(messages)
        if self._config["sequence_features"]:
            tokens = [m.get(TOKENS_NAMES[TEXT]) or [] for m in messages]
            flat = self._transform([t.text for ts in tokens for t in ts])
            start = 0
            for i, ts in enumerate(tokens):
                if ts:
                    sequences[i] = flat[start:start + len(ts)].tocoo()
                start += len(ts)
        for i, message in enumerate(messages):
            sequence = sequences[i]
            if sequence is None and self._config["sequence_features"]:
                continue  # no tokens: nothing consistent to add
            self.add_features_to_message(sequence, sentences[i].tocoo(), TEXT, message)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize(messages)
        return messages

    # ---- storage ----------------------------------------------------------------------------
    def _persist(self) -> None:
        with self._model_storage.write_to(self._resource) as model_dir:
            (model_dir / "vocabulary.json").write_text(json.dumps(self.vocabulary, ensure_ascii=False),
                                                       encoding="utf-8")
            (model_dir / "idf.json").write_text(json.dumps(self.idf.tolist()), encoding="utf-8")
            (model_dir / "glossary.json").write_text(json.dumps(self.glossary.entries, ensure_ascii=False),
                                                     encoding="utf-8")
            (model_dir / "abbreviations.json").write_text(
                json.dumps(self.abbreviations.entries, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "TfidfFeaturizer":
        config = {**cls.get_default_config(), **config}
        try:
            with model_storage.read_from(resource) as model_dir:
                vocabulary = json.loads((model_dir / "vocabulary.json").read_text(encoding="utf-8"))
                idf = np.asarray(json.loads((model_dir / "idf.json").read_text(encoding="utf-8")))
                glossary_file = model_dir / "glossary.json"
                glossary = json.loads(glossary_file.read_text(encoding="utf-8")) if glossary_file.exists() else {}
                abbreviations_file = model_dir / "abbreviations.json"
                abbreviations = (json.loads(abbreviations_file.read_text(encoding="utf-8"))
                                 if abbreviations_file.exists() else {})
            if idf.ndim != 1 or len(idf) != len(vocabulary) or sorted(vocabulary.values()) != list(range(len(idf))):
                # _transform indexes idf by the vocabulary's columns: a mismatch would weight
                # the wrong terms (or fail), not stop at a dimension error as a matrix product did.
                raise ValueError(f"{len(idf)} idf values for {len(vocabulary)} terms")
        except (ValueError, FileNotFoundError):
            logger.warning("TfidfFeaturizer: no stored vocabulary in %s; features are off", resource.name)
            return cls(config, model_storage, resource, execution_context)
        return cls(config, model_storage, resource, execution_context, vocabulary=vocabulary, idf=idf,
                   glossary=glossary, abbreviations=abbreviations)
