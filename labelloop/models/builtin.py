"""Built-in models per task type: a featurizer (items to features) and a classifier.

The two halves stay separate because selection needs the pool's feature vectors
(diversity strategies measure distances between them) as well as the classifier's
probabilities::

    model = build_model("classification", labels=["neg", "pos"])
    model.featurizer.fit(items)
    X = model.featurizer.transform(items)
    model.fit(X, model.encode_labels(labels))
    proba = model.predict_proba(X)          # columns in ``model.labels`` order

Task types: ``classification`` (text: TF-IDF + logistic regression), ``tabular``
(numeric payload columns: imputation + scaling + logistic regression or gradient
boosting), ``image`` (small grayscale pixels + logistic regression). Any of them can
take a configurable estimator by import path instead of the default classifier.

The ``model`` setting and the classifier it names are `labelloop.models.spec`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.impute import SimpleImputer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import StandardScaler

from labelloop.exceptions import ValidationError
from labelloop.models.logistic import logistic_proba
from labelloop.models.spec import build_classifier, check_model_spec
from labelloop.models.text import TfidfFeaturizer

__all__ = [
    "TASK_TYPES",
    "ItemInput",
    "PixelFeaturizer",
    "ProjectModel",
    "TabularFeaturizer",
    "TextFeaturizer",
    "build_classifier",
    "build_model",
    "check_model_spec",
    "cross_validated_metrics",
    "label_metrics",
    "wilson_interval",
]

TASK_TYPES = ("classification", "tabular", "image")


@dataclass(frozen=True)
class ItemInput:
    """What a featurizer sees of an item: its payload and its media reference."""

    payload: Mapping[str, Any]
    media_ref: str | None = None


class TextFeaturizer:
    """TF-IDF features of an item's text (``payload[field]``).

    Parameters
    ----------
    field : str, default="text"
        The payload field holding the text; items without it use their string fields.
    max_features : int, default=20000
        Vocabulary size cap (unigrams and bigrams, most frequent first).
    """

    def __init__(
        self,
        *,
        field: str = "text",
        max_features: int = 20_000,
    ) -> None:
        self.field = field
        self.max_features = max_features

    def _texts(self, items: Sequence[ItemInput]) -> list[str]:
        texts = []
        for item in items:
            value = item.payload.get(self.field)
            if value is None:
                value = " ".join(str(v) for v in item.payload.values() if isinstance(v, str))
            texts.append(str(value))
        return texts

    def fit(self, items: Sequence[ItemInput]) -> TextFeaturizer:
        """Learn the vocabulary and document frequencies from ``items``.

        Terms seen in a single text are dropped (they cannot generalise), unless the
        texts are so few that nothing else would remain.
        """
        texts = self._texts(items)
        try:
            self.tfidf_ = TfidfFeaturizer(min_df=2, max_features=self.max_features).fit(texts)
        except ValidationError:
            self.tfidf_ = TfidfFeaturizer(min_df=1, max_features=self.max_features).fit(texts)
        vectorizer = self.tfidf_.vectorizer_
        # Plain ints: the artifact stores the vocabulary as one JSON object, not an array per term.
        vectorizer.vocabulary_ = {term: int(i) for term, i in vectorizer.vocabulary_.items()}
        self.n_features_ = len(vectorizer.vocabulary_)
        return self

    def transform(self, items: Sequence[ItemInput]) -> sp.csr_matrix:
        """Sparse TF-IDF matrix of shape (n_items, n_terms)."""
        if not items:
            return sp.csr_matrix((0, self.n_features_), dtype=np.float32)
        return self.tfidf_.transform(self._texts(items))


class TabularFeaturizer:
    """Numeric payload columns, median-imputed and standardised.

    Parameters
    ----------
    columns : list of str, optional
        The feature columns. Default: every payload field whose values are numbers
        in the items `fit` sees.
    """

    def __init__(self, *, columns: Sequence[str] | None = None) -> None:
        self.columns = list(columns) if columns is not None else None

    def _matrix(self, items: Sequence[ItemInput]) -> np.ndarray:
        matrix = np.full((len(items), len(self.columns_)), np.nan, dtype=np.float64)
        for row, item in enumerate(items):
            for col, name in enumerate(self.columns_):
                value = item.payload.get(name)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    matrix[row, col] = value
                elif isinstance(value, bool):
                    matrix[row, col] = float(value)
        return matrix

    def fit(self, items: Sequence[ItemInput]) -> TabularFeaturizer:
        """Choose the numeric columns (unless given) and learn their medians and scales."""
        if self.columns is not None:
            columns = list(self.columns)
        else:
            seen: dict[str, bool] = {}
            for item in items:
                for name, value in item.payload.items():
                    numeric = isinstance(value, int | float) or value is None
                    seen[name] = seen.get(name, True) and numeric
            columns = sorted(name for name, numeric in seen.items() if numeric)
        if not columns:
            raise ValidationError(
                "a tabular project needs numeric payload fields to learn from; "
                "none of the items has one",
                field="payload",
            )
        self.columns_ = columns
        matrix = self._matrix(items)
        self.imputer_ = SimpleImputer(strategy="median", keep_empty_features=True).fit(matrix)
        self.scaler_ = StandardScaler().fit(self.imputer_.transform(matrix))
        return self

    def transform(self, items: Sequence[ItemInput]) -> np.ndarray:
        """Dense matrix of shape (n_items, n_columns)."""
        if not items:
            return np.zeros((0, len(self.columns_)))
        return self.scaler_.transform(self.imputer_.transform(self._matrix(items)))


class PixelFeaturizer:
    """Grayscale pixels of small images, resized to ``size`` x ``size`` and scaled to [0, 1].

    Parameters
    ----------
    size : int, default=16
        Side of the square the image is resized to.
    media_root : str, optional
        Directory that relative media references are resolved against.
    """

    def __init__(self, *, size: int = 16, media_root: str | None = None) -> None:
        self.size = size
        self.media_root = media_root

    def _path(self, item: ItemInput) -> Path:
        ref = item.media_ref or item.payload.get("path") or item.payload.get("image")
        if not ref:
            raise ValidationError("an image item has no media reference", field="media_ref")
        path = Path(str(ref))
        if not path.is_absolute() and self.media_root:
            path = Path(self.media_root) / path
        return path

    def fit(self, items: Sequence[ItemInput]) -> PixelFeaturizer:
        """Nothing to learn: pixels are features as they are."""
        self.n_features_ = self.size * self.size
        return self

    def transform(self, items: Sequence[ItemInput]) -> np.ndarray:
        """Dense matrix of shape (n_items, size * size)."""
        from PIL import Image, UnidentifiedImageError

        matrix = np.empty((len(items), self.size * self.size), dtype=np.float32)
        for row, item in enumerate(items):
            path = self._path(item)
            try:
                with Image.open(path) as image:
                    small = image.convert("L").resize((self.size, self.size))
            except (OSError, UnidentifiedImageError) as exc:
                raise ValidationError(
                    f"cannot read image {path}: {exc}", field="media_ref"
                ) from exc
            matrix[row] = np.asarray(small, dtype=np.float32).ravel() / 255.0
        return matrix


@dataclass
class ProjectModel:
    """A project's model: featurizer, classifier, and the project's label order.

    Attributes
    ----------
    featurizer : TextFeaturizer, TabularFeaturizer or PixelFeaturizer
        Turns `ItemInput` sequences into feature matrices.
    classifier : scikit-learn classifier
        Fitted on the featurizer's output by `fit`; has ``predict_proba``.
    labels : list of str
        The project's labels; `predict_proba` columns follow this order.
    multi_label : bool
        One-vs-rest over ``labels`` with an indicator matrix as ``y``.
    """

    featurizer: Any
    classifier: Any
    labels: list[str]
    multi_label: bool = False
    params: dict[str, Any] = field(default_factory=dict)

    def encode_labels(self, labels: Sequence[Any]) -> np.ndarray:
        """Stored labels as ``y``: label strings, or an indicator matrix for multi-label."""
        if not self.multi_label:
            return np.asarray([str(label) for label in labels], dtype=object)
        index = {name: i for i, name in enumerate(self.labels)}
        y = np.zeros((len(labels), len(self.labels)), dtype=np.int64)
        for row, names in enumerate(labels):
            for name in names or ():
                y[row, index[name]] = 1
        return y

    def fit(self, X, y: np.ndarray) -> ProjectModel:
        """Fit the classifier on features ``X`` and encoded labels ``y``."""
        self.classifier.fit(X, y)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities of shape (n_samples, n_labels), columns in ``labels`` order.

        A built-in `LogisticRegression`'s are computed in numpy, equal to scikit-learn's
        (`labelloop.models.logistic`); any other classifier's are its own.
        """
        proba = logistic_proba(self.classifier, X)
        if proba is None:
            proba = np.asarray(self.classifier.predict_proba(X), dtype=np.float64)
        if self.multi_label:
            return proba
        out = np.zeros((proba.shape[0], len(self.labels)), dtype=np.float64)
        index = {name: i for i, name in enumerate(self.labels)}
        for col, name in enumerate(self.classifier.classes_):
            out[:, index[str(name)]] = proba[:, col]
        return out

    def predict_labels(self, X) -> np.ndarray:
        """Predicted ``y`` in the encoding of `encode_labels`."""
        proba = self.predict_proba(X)
        if self.multi_label:
            return (proba >= 0.5).astype(np.int64)
        return np.asarray(self.labels, dtype=object)[proba.argmax(axis=1)]


def build_model(
    task_type: str,
    *,
    labels: Sequence[str],
    multi_label: bool = False,
    spec: Mapping[str, Any] | None = None,
    media_root: str | None = None,
) -> ProjectModel:
    """The unfitted built-in model for a project.

    Parameters
    ----------
    task_type : {"classification", "tabular", "image"}
        The project's task type.
    labels : sequence of str
        The project's labels.
    multi_label : bool, default=False
        Whether an item may carry several labels.
    spec : dict, optional
        The project's ``model`` setting (see `build_classifier`); for text it may also
        hold ``text_field`` and ``max_features``, for tabular ``columns``, for images
        ``image_size``.
    media_root : str, optional
        Where relative media references of image items are resolved.
    """
    if task_type not in TASK_TYPES:
        raise ValidationError(
            f"no built-in model for task type {task_type!r}: built-in models cover "
            f"{', '.join(TASK_TYPES)}",
            field="task_type",
        )
    spec = dict(spec or {})
    if task_type == "classification":
        featurizer: Any = TextFeaturizer(
            field=spec.get("text_field", "text"),
            max_features=int(spec.get("max_features", 20_000)),
        )
    elif task_type == "tabular":
        featurizer = TabularFeaturizer(columns=spec.get("columns"))
    else:
        featurizer = PixelFeaturizer(size=int(spec.get("image_size", 16)), media_root=media_root)
    classifier = build_classifier(spec, task_type=task_type, multi_label=multi_label)
    params = {
        "task_type": task_type,
        "featurizer": type(featurizer).__name__,
        "classifier": _describe(classifier),
        "spec": spec,
    }
    return ProjectModel(featurizer, classifier, list(labels), multi_label, params)


def _describe(classifier: Any) -> dict[str, Any]:
    inner = classifier.estimator if isinstance(classifier, OneVsRestClassifier) else classifier
    kind = f"{type(inner).__module__}:{type(inner).__name__}"
    plain = {k: v for k, v in inner.get_params(deep=False).items() if _is_plain(v)}
    return {"estimator": kind, "params": plain, "one_vs_rest": inner is not classifier}


def _is_plain(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion: ``successes`` of ``n``.

    It stays inside [0, 1] and is honest at small ``n`` and at 0 or n successes, where
    the normal approximation collapses to a point (0 of 3 gives (0, 0.5615)).

    Examples
    --------
    >>> [round(x, 4) for x in wilson_interval(8, 10)]
    [0.4902, 0.9433]
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValidationError(f"n must be a positive integer, got {n!r}", field="n")
    if isinstance(successes, bool) or not isinstance(successes, int | np.integer):
        raise ValidationError(f"successes must be an integer, got {successes!r}", field="successes")
    if not 0 <= successes <= n:
        raise ValidationError(
            f"successes must lie in [0, n={n}], got {successes}", field="successes"
        )
    if not 0 < confidence < 1:
        raise ValidationError(
            f"confidence must lie in (0, 1), got {confidence!r}", field="confidence"
        )
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / n
    spread = z * z / n
    centre = (p + spread / 2) / (1 + spread)
    half = z * np.sqrt(p * (1 - p) / n + spread / (4 * n)) / (1 + spread)
    # At 0 or n successes a bound is exactly 0 or 1; the formula leaves rounding dust.
    low = 0.0 if successes == 0 else max(0.0, float(centre - half))
    high = 1.0 if successes == n else min(1.0, float(centre + half))
    return low, high


def label_metrics(model: ProjectModel, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """Accuracy (subset accuracy for multi-label) with its 95% Wilson interval
    (``accuracy_ci``), macro-F1 and ``n`` of a prediction."""
    n = int(len(y_true))
    if n == 0:
        return {"n": 0}
    if model.multi_label:
        macro_f1 = f1_score(y_true, y_pred, average="macro", zero_division=0)
    else:
        present = sorted(set(map(str, y_true)) | set(map(str, y_pred)))
        macro_f1 = f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
    correct = int(round(accuracy_score(y_true, y_pred, normalize=False)))
    return {
        "accuracy": round(correct / n, 6),
        "accuracy_ci": [round(bound, 6) for bound in wilson_interval(correct, n)],
        "macro_f1": round(float(macro_f1), 6),
        "n": n,
    }


def cross_validated_metrics(
    model: ProjectModel, X, y: np.ndarray, *, max_folds: int = 5, random_state: int = 0
) -> dict[str, Any] | None:
    """Metrics of out-of-fold predictions on the training set, or None when too few labels.

    Single-label sets need at least 2 labels of every class present (stratified folds);
    multi-label sets at least 10 items.
    """
    if model.multi_label:
        if len(y) < 10:
            return None
        folds: Any = KFold(
            n_splits=min(max_folds, len(y) // 5), shuffle=True, random_state=random_state
        )
    else:
        _, counts = np.unique(y, return_counts=True)
        if len(counts) < 2 or counts.min() < 2:
            return None
        folds = StratifiedKFold(
            n_splits=int(min(max_folds, counts.min())), shuffle=True, random_state=random_state
        )
    predicted = cross_val_predict(clone(model.classifier), X, y, cv=folds)
    metrics = label_metrics(model, y, predicted)
    metrics["folds"] = int(folds.get_n_splits())
    return metrics
