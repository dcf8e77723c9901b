"""The text classifier of smart dispatch: a citizen's appeal (free Chinese text) → a label with a probability.

DRAFT: figures to come from bench/dispatch_model.py.
"""

from __future__ import annotations

import io
import json
import math
import re
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np
from scipy import sparse

FORMAT: Final = 1
MAX_CHARS: Final = 1000  # bench/dispatch.py: 2,000 put a guess's p99 at 5.9 ms, over the 5 ms budget
MAGIC: Final = b"GZTEXT1\n"

_INVISIBLE = re.compile("[\x00-\x08\x0e-\x1f\x7f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]")
_DIGITS = re.compile(r"\d+")
_GAPS = re.compile(r"[\W_]+")


def normalise(text: str) -> str:
    """The one form every text takes before features are cut from it, in training and in prediction alike.

    NFKC folds full-width latin, digits and punctuation into their plain forms; digit runs become one "0"
    (a house number, a date or a phone number says nothing about the category, and otherwise each would
    be a feature of its own); punctuation, symbols, emoji and whitespace runs become one space, so
    "路灯，坏了！！" and "路灯 坏了" are the same text. Only the first MAX_CHARS characters are kept: an
    appeal's opening says what it is about, and a 10,000-character text must predict as fast as a short
    one. The raw text is cut first too (at four times the limit) so that normalising is bounded."""
    text = unicodedata.normalize("NFKC", text[: MAX_CHARS * 4])
    text = _INVISIBLE.sub("", text).lower()
    text = _DIGITS.sub("0", text)
    text = _GAPS.sub(" ", text).strip()
    return text[:MAX_CHARS]


def _char_ngrams(lo: int, hi: int) -> Callable[[str], list[str]]:
    def analyse(doc: str) -> list[str]:
        size = len(doc)
        grams: list[str] = []
        for n in range(lo, hi + 1):
            grams.extend(doc[i : i + n] for i in range(size - n + 1))
        return grams

    return analyse


ANALYZERS: dict[str, Callable[[str], list[str]]] = {
    "char12": _char_ngrams(1, 2),
    "char13": _char_ngrams(1, 3),
}
DEFAULT_ANALYZER: Final = "char13"
DEFAULT_PARAMS: Final[dict[str, Any]] = {
    "analyzer": DEFAULT_ANALYZER,
    "classifier": "logreg",
    "max_features": 150_000,
    "min_df": 2,
    "C": 10.0,
    "max_iter": 300,
}


class _Analyse:
    """What the vectoriser calls on each raw text: normalise, then cut features (a class, not a lambda,
    so that its name shows in a traceback)."""

    def __init__(self, name: str) -> None:
        self.cut = ANALYZERS[name]

    def __call__(self, doc: str) -> list[str]:
        return self.cut(normalise(doc))


def build_pipeline(params: dict[str, Any], *, seed: int = 0, min_df: int | None = None) -> Any:
    """The scikit-learn pipeline that fit() trains; TextModel keeps only its numbers."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.pipeline import Pipeline

    vectoriser = TfidfVectorizer(
        analyzer=_Analyse(params["analyzer"]),
        lowercase=False,
        sublinear_tf=True,
        min_df=params["min_df"] if min_df is None else min_df,
        max_features=params["max_features"],
        dtype=np.float64,
    )
    if params["classifier"] == "logreg":
        classifier: Any = LogisticRegression(C=params["C"], max_iter=params["max_iter"], random_state=seed)
    elif params["classifier"] == "sgd":
        classifier = SGDClassifier(
            loss="log_loss", alpha=params.get("alpha", 1e-5), max_iter=params.get("max_iter", 20), tol=1e-4,
            random_state=seed, n_jobs=params.get("n_jobs"),
        )  # fmt: skip
    else:
        raise ValueError(f"unknown classifier {params['classifier']!r}")
    return Pipeline([("tfidf", vectoriser), ("clf", classifier)])


class TextModel:
    """A trained classifier reduced to numbers: vocabulary, idf, coefficients, intercepts.

    Prediction does the TF-IDF transform itself (the same analyser, sublinear tf × idf, l2 norm) and one
    dense product, so a loaded model needs no scikit-learn object, holds nothing mutable and is safe to
    share between threads."""

    labels: tuple[str, ...]
    info: dict[str, Any]

    def __init__(
        self,
        *,
        labels: Sequence[str],
        vocabulary: Sequence[str],
        idf: np.ndarray,
        coef: np.ndarray,
        intercept: np.ndarray,
        link: str,
        params: dict[str, Any],
        trained_on: int,
    ) -> None:
        n_features = len(vocabulary)
        width = 1 if len(labels) == 2 else len(labels)
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise ValueError("a model needs at least two distinct labels")
        if idf.shape != (n_features,) or coef.shape != (n_features, width) or intercept.shape != (width,):
            raise ValueError("the model's arrays do not fit its vocabulary and labels")
        if link not in ("softmax", "ovr"):
            raise ValueError(f"unknown link {link!r}")
        if params.get("analyzer") not in ANALYZERS:
            raise ValueError(f"unknown analyzer {params.get('analyzer')!r}")
        self.labels = tuple(labels)
        self._terms = list(vocabulary)
        self._index = {t: i for i, t in enumerate(self._terms)}
        if len(self._index) != n_features:
            raise ValueError("the model's vocabulary repeats a term")
        self._idf = np.ascontiguousarray(idf, dtype=np.float64)
        self._coef = np.ascontiguousarray(coef, dtype=np.float32)
        self._intercept = np.ascontiguousarray(intercept, dtype=np.float64)
        for a in (self._idf, self._coef, self._intercept):
            a.setflags(write=False)
        self._link = link
        self._params = dict(params)
        self._cut = ANALYZERS[params["analyzer"]]
        self.info = {
            "format": FORMAT,
            "analyzer": params["analyzer"],
            "classifier": params.get("classifier", ""),
            "features": n_features,
            "labels": len(self.labels),
            "trained_on": trained_on,
        }

    # --- training ------------------------------------------------------------------------------------

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[str], *, seed: int = 0, **overrides: Any) -> TextModel:
        """Train on a county's closed orders. `overrides` change DEFAULT_PARAMS (the benchmark's candidates)."""
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels: they must pair up one to one")
        if not texts:
            raise ValueError("no training texts: a model needs closed orders to learn from")
        labels = [str(x) for x in labels]
        if any(not x for x in labels):
            raise ValueError("a training label is empty")
        distinct = set(labels)
        if len(distinct) < 2:
            raise ValueError(
                f"only one label ({next(iter(distinct))!r}) in the training data: a model needs at least two"
            )
        params = {**DEFAULT_PARAMS, **overrides}
        pipeline = build_pipeline(params, seed=seed)
        try:
            pipeline.fit(list(texts), labels)
        except ValueError as exc:
            if "no terms remain" not in str(exc) and "empty vocabulary" not in str(exc):
                raise
            # A handful of short texts may share no feature twice; every feature then counts.
            pipeline = build_pipeline(params, seed=seed, min_df=1)
            try:
                pipeline.fit(list(texts), labels)
            except ValueError as again:
                raise ValueError("the training texts have no characters to learn from") from again
        return cls.from_pipeline(pipeline, params, trained_on=len(texts))

    @classmethod
    def from_pipeline(cls, pipeline: Any, params: dict[str, Any], *, trained_on: int) -> TextModel:
        """The numbers of a fitted build_pipeline(), without the scikit-learn objects."""
        vectoriser = pipeline.named_steps["tfidf"]
        classifier = pipeline.named_steps["clf"]
        vocabulary = vectoriser.vocabulary_
        terms = [""] * len(vocabulary)
        for term, j in vocabulary.items():
            terms[j] = term
        link = "softmax" if params["classifier"] == "logreg" else "ovr"
        return cls(
            labels=[str(x) for x in classifier.classes_],
            vocabulary=terms,
            idf=np.asarray(vectoriser.idf_, dtype=np.float64),
            coef=np.asarray(classifier.coef_, dtype=np.float32).T,
            intercept=np.asarray(classifier.intercept_, dtype=np.float64),
            link=link,
            params={k: params[k] for k in ("analyzer", "classifier", "max_features", "min_df") if k in params},
            trained_on=trained_on,
        )

    # --- prediction ----------------------------------------------------------------------------------

    def _features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Column indices and l2-normalised sublinear tf-idf weights of one text."""
        get = self._index.get
        columns: list[int] = []
        counts: list[int] = []
        for term, count in Counter(self._cut(normalise(text))).items():
            j = get(term)
            if j is not None:
                columns.append(j)
                counts.append(count)
        idx = np.array(columns, dtype=np.intp)
        weights = (1.0 + np.log(np.array(counts, dtype=np.float64))) * self._idf[idx]
        norm = math.sqrt(float(weights @ weights))
        if norm > 0.0:
            weights /= norm
        return idx, weights

    def _probabilities(self, scores: np.ndarray) -> np.ndarray:
        """Scores (n, width) → probabilities (n, labels), as the trained classifier's predict_proba."""
        if len(self.labels) == 2:
            p = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.column_stack([1.0 - p, p])
        if self._link == "softmax":
            scores = scores - scores.max(axis=1, keepdims=True)
            e = np.exp(scores)
            return e / e.sum(axis=1, keepdims=True)
        p = 1.0 / (1.0 + np.exp(-scores))
        total = p.sum(axis=1, keepdims=True)
        return np.divide(p, total, out=np.full_like(p, 1.0 / p.shape[1]), where=total > 0)

    def predict(self, text: str, k: int = 3) -> list[tuple[str, float]]:
        """The k likeliest labels with their probabilities, likeliest first."""
        idx, weights = self._features(text)
        scores = weights @ self._coef[idx] + self._intercept
        probs = self._probabilities(scores[np.newaxis, :])[0]
        k = max(0, min(k, len(self.labels)))
        order = np.argsort(-probs, kind="stable")[:k]
        return [(self.labels[i], float(probs[i])) for i in order]

    def matrix(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """The tf-idf rows of many texts (what the trained vectoriser's transform gives)."""
        indptr = [0]
        indices: list[np.ndarray] = []
        data: list[np.ndarray] = []
        for text in texts:
            idx, weights = self._features(text)
            indices.append(idx)
            data.append(weights)
            indptr.append(indptr[-1] + len(idx))
        return sparse.csr_matrix(
            (
                np.concatenate(data) if data else np.zeros(0),
                np.concatenate(indices) if indices else np.zeros(0, dtype=np.intp),
                np.array(indptr),
            ),
            shape=(len(texts), len(self._terms)),
        )

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities (len(texts), len(labels)), columns in the order of `labels`."""
        if not texts:
            return np.zeros((0, len(self.labels)))
        scores = np.asarray(self.matrix(texts) @ self._coef, dtype=np.float64) + self._intercept
        return self._probabilities(scores)

    def predict_many(self, texts: Sequence[str]) -> tuple[list[str], list[float]]:
        """The best label and its probability for each text."""
        probs = self.predict_proba(texts)
        best = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=np.intp)
        return [self.labels[i] for i in best], [float(p) for p in probs[np.arange(len(best)), best]]

    # --- storage -------------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """MAGIC, then an .npz of plain arrays (no pickled objects) whose "meta" entry is UTF-8 JSON."""
        meta = {
            "format": FORMAT,
            "labels": list(self.labels),
            "vocabulary": self._terms,
            "link": self._link,
            "params": self._params,
            "trained_on": self.info["trained_on"],
        }
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            meta=np.frombuffer(json.dumps(meta, ensure_ascii=False).encode(), dtype=np.uint8),
            idf=self._idf,
            coef=self._coef,
            intercept=self._intercept,
        )
        return MAGIC + buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> TextModel:
        """Load what to_bytes() wrote; ValueError on anything else (garbage, truncated, another format)."""
        if not isinstance(data, bytes | bytearray | memoryview) or bytes(data[: len(MAGIC)]) != MAGIC:
            raise ValueError("not a smart-dispatch text model (the header is missing)")
        try:
            with np.load(io.BytesIO(bytes(data[len(MAGIC) :])), allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in ("meta", "idf", "coef", "intercept")}
            meta = json.loads(arrays["meta"].tobytes().decode())
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
            raise ValueError(f"the text model's bytes are damaged or truncated ({exc})") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"unsupported text model format {meta.get('format') if isinstance(meta, dict) else '?'}")
        try:
            return cls(
                labels=[str(x) for x in meta["labels"]],
                vocabulary=[str(x) for x in meta["vocabulary"]],
                idf=arrays["idf"],
                coef=arrays["coef"],
                intercept=arrays["intercept"],
                link=str(meta["link"]),
                params=dict(meta["params"]),
                trained_on=int(meta["trained_on"]),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"the text model's description is incomplete ({exc})") from exc
