"""What one selection reads and what it returns.

Rules kept here:

1. Every array derived from the inputs (the pool's probabilities, the embeddings of the
   pool and of the labelled items) is computed at most once per selection, and only when
   a strategy asks for it.
2. The probabilities of a single-label task have at least two columns: an estimator that
   knows a single class is refused with what to do, never scored.
3. Multi-label means a 2-D label matrix with more than one column (or one column when
   ``classes`` names a single label); the classes default to the estimator's.
4. A reason in words reads the same probabilities the scores came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labelloop import strategies
from labelloop.exceptions import ValidationError
from labelloop.models.adapters import class_list, embed, predict_proba

__all__ = ["Selection", "SelectionContext", "uncertainty_reason"]


@dataclass(frozen=True)
class Selection:
    """A batch picked from the pool.

    Attributes
    ----------
    indices : ndarray of shape (k,)
        Indices into ``X_pool``, in pick order.
    scores : ndarray of shape (n_pool,)
        Informativeness of every pool item; higher means ask a human first.
    reasons : list of str
        Why each picked item was picked, in words, aligned with ``indices``.
    strategy : str
        The strategy actually used: the name asked for, ``"cold-start"`` when the model
        could not be trusted yet, or for ``"auto"`` the arm that picked most of the batch.
    state : dict
        JSON-serialisable; pass it back as ``state=`` on the next call.
    """

    indices: np.ndarray
    scores: np.ndarray
    reasons: list[str]
    strategy: str
    state: dict = field(default_factory=dict)


class SelectionContext:
    """The checked inputs of one selection and the arrays derived from them, lazily.

    Validation is assumed done (:func:`labelloop.selection.select_batch` does it).
    """

    def __init__(
        self,
        estimator: Any,
        X_labelled: Any,
        y_labelled: np.ndarray,
        X_pool: Any,
        classes: Any,
        rng: np.random.Generator,
    ) -> None:
        self.estimator = estimator
        self.X_labelled = X_labelled
        self.y_labelled = y_labelled
        self.X_pool = X_pool
        self.rng = rng
        self.multilabel = y_labelled.ndim == 2 and (
            y_labelled.shape[1] > 1 or (classes is not None and len(classes) == 1)
        )
        if classes is None and estimator is not None and not self.multilabel:
            fitted = class_list(estimator)
            classes = None if fitted is None else list(fitted)
        self.classes = None if classes is None else list(classes)
        self._proba: np.ndarray | None = None
        self._pool_embedding: Any = None
        self._labelled_embedding: Any = None

    @property
    def n_pool(self) -> int:
        return self.X_pool.shape[0]

    @property
    def proba(self) -> np.ndarray:
        if self._proba is None:
            if not callable(getattr(self.estimator, "predict_proba", None)):
                raise ValidationError(
                    f"the estimator ({type(self.estimator).__name__}) has no predict_proba: "
                    "use a probabilistic classifier, or strategy='random'",
                    field="estimator",
                )
            self._proba = predict_proba(
                self.estimator, self.X_pool, classes=self.classes, multilabel=self.multilabel
            )
            if not self.multilabel and self._proba.shape[1] < 2:
                raise ValidationError(
                    "the estimator knows a single class; pass classes= with every class of "
                    "the task, or use strategy='auto' until a second class is labelled",
                    field="estimator",
                )
        return self._proba

    @property
    def pool_embedding(self) -> Any:
        if self._pool_embedding is None:
            self._pool_embedding = embed(self.estimator, self.X_pool)
        return self._pool_embedding

    @property
    def labelled_embedding(self) -> Any:
        if self._labelled_embedding is None:
            self._labelled_embedding = embed(self.estimator, self.X_labelled)
        return self._labelled_embedding

    def uncertainty(self, method: str = "margin") -> np.ndarray:
        score = getattr(strategies, method)
        if self.multilabel:
            return score(self.proba, multilabel=True)
        return score(self.proba)

    def class_name(self, column: int) -> str:
        return str(self.classes[column]) if self.classes is not None else str(column)


def uncertainty_reason(context: SelectionContext, index: int) -> str:
    """Why the model is unsure about pool item ``index``, in words."""
    row = context.proba[index]
    if context.multilabel:
        closest = np.argsort(np.abs(row - 0.5))[:2]
        parts = ", ".join(f"{context.class_name(c)} {row[c]:.2f}" for c in closest)
        return f"the model is unsure which labels apply ({parts})"
    first, second = np.argsort(-row)[:2]
    return (
        f"the model is torn between {context.class_name(first)} ({row[first]:.2f}) "
        f"and {context.class_name(second)} ({row[second]:.2f})"
    )
