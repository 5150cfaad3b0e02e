"""Argument checks shared by the strategies; each raises a ValidationError naming the argument."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import scipy.sparse as sp

from labelloop.exceptions import ValidationError

__all__ = [
    "check_committee_proba",
    "check_embeddings",
    "check_finite",
    "check_k",
    "check_ndim",
    "check_proba",
    "check_random_state",
    "check_scores",
    "check_threshold",
]

# Probabilities from float32 models drift from 1 by a few ulps per class.
_SUM_TOLERANCE = 1e-3
_RANGE_TOLERANCE = 1e-6


def check_random_state(random_state: None | int | np.random.Generator) -> np.random.Generator:
    """Turn None, an int seed or a Generator into a Generator (a Generator is used as is)."""
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValidationError(
                f"random_state must be a non-negative int seed, got {random_state}",
                field="random_state",
            )
        return np.random.default_rng(int(random_state))
    raise ValidationError(
        "random_state must be None, an int seed or a numpy.random.Generator, "
        f"got {type(random_state).__name__}",
        field="random_state",
    )


def _as_float_array(values: Any, name: str) -> np.ndarray:
    if sp.issparse(values):
        raise ValidationError(f"{name} must be a dense array, got a sparse matrix", field=name)
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as error:
        raise ValidationError(f"{name} must be a numeric array: {error}", field=name) from None
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_
    ):
        raise ValidationError(f"{name} must be numeric, got dtype {array.dtype}", field=name)
    if np.issubdtype(array.dtype, np.complexfloating):
        raise ValidationError(f"{name} must be real, got dtype {array.dtype}", field=name)
    if array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float64)
    return array


def _check_probability_values(
    array: np.ndarray, name: str, *, rows_sum_to_one: bool, hint: str = ""
) -> None:
    # einsum's row sums are several times faster than sum(axis=-1) on short rows.
    sums = np.einsum("...i->...", array)
    if not np.isfinite(sums).all():
        raise ValidationError(f"{name} contains NaN or infinite values", field=name)
    if array.min() < -_RANGE_TOLERANCE or array.max() > 1 + _RANGE_TOLERANCE:
        raise ValidationError(f"{name} must hold probabilities in [0, 1]", field=name)
    if rows_sum_to_one:
        bad = np.flatnonzero(np.abs(sums.reshape(-1) - 1) > _SUM_TOLERANCE)
        if bad.size:
            raise ValidationError(
                f"{name} rows must sum to 1 (row {int(bad[0])} sums to "
                f"{float(sums.reshape(-1)[bad[0]]):.6g}){hint}",
                field=name,
            )


def check_ndim(array: np.ndarray, axes: tuple[str, ...], *, name: str) -> np.ndarray:
    """Return ``array`` if it has one dimension per name in ``axes`` (its shape in words)."""
    if array.ndim != len(axes):
        # Written as Python writes a tuple: "(n_samples,)", "(n_samples, n_classes)".
        shape = ", ".join(axes) + ("," if len(axes) == 1 else "")
        raise ValidationError(
            f"{name} must be {len(axes)}-D ({shape}), got {array.ndim}-D shape {array.shape}",
            field=name,
        )
    return array


def check_proba(proba: Any, *, name: str = "proba", multilabel: bool = False) -> np.ndarray:
    """Return ``proba`` as a float (n_samples, n_classes) array of checked probabilities.

    Rows must sum to 1 unless ``multilabel`` (one column per label, each in [0, 1]).
    """
    array = _as_float_array(proba, name)
    check_ndim(array, ("n_samples", "n_classes"), name=name)
    if array.shape[0] == 0:
        raise ValidationError(f"{name} is empty: the pool has no samples", field=name)
    if array.shape[1] == 0:
        raise ValidationError(f"{name} has no class columns", field=name)
    if not multilabel and array.shape[1] < 2:
        raise ValidationError(
            f"{name} needs at least 2 class columns, got {array.shape[1]}; "
            "pass multilabel=True for one column per label",
            field=name,
        )
    _check_probability_values(
        array,
        name,
        rows_sum_to_one=not multilabel,
        hint="; pass multilabel=True for one-vs-rest label probabilities",
    )
    return array


def check_committee_proba(proba: Any, *, name: str = "proba") -> np.ndarray:
    """Return ``proba`` as a float (n_members, n_samples, n_classes) array of probabilities."""
    array = _as_float_array(proba, name)
    check_ndim(array, ("n_members", "n_samples", "n_classes"), name=name)
    n_members, n_samples, n_classes = array.shape
    if n_members == 0:
        raise ValidationError(f"{name} has no committee members", field=name)
    if n_samples == 0:
        raise ValidationError(f"{name} is empty: the pool has no samples", field=name)
    if n_classes < 2:
        raise ValidationError(f"{name} needs at least 2 class columns, got {n_classes}", field=name)
    _check_probability_values(array, name, rows_sum_to_one=True)
    return array


def check_scores(scores: Any, *, name: str = "scores") -> np.ndarray:
    """Return ``scores`` as a finite, non-empty 1-D float array."""
    array = check_ndim(_as_float_array(scores, name), ("n_samples",), name=name)
    if array.size == 0:
        raise ValidationError(f"{name} is empty: the pool has no samples", field=name)
    if not np.isfinite(array.sum()):
        raise ValidationError(f"{name} contains NaN or infinite values", field=name)
    return array


def check_k(k: Any, n_pool: int, *, name: str = "k") -> int:
    """Return ``k`` as an int in [1, n_pool]."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise ValidationError(f"{name} must be an int, got {type(k).__name__}", field=name)
    k = int(k)
    if k < 1:
        raise ValidationError(f"{name} must be at least 1, got {k}", field=name)
    if k > n_pool:
        raise ValidationError(
            f"{name}={k} is larger than the pool ({n_pool} samples available)", field=name
        )
    return k


def check_embeddings(embeddings: Any, *, name: str = "embeddings") -> np.ndarray | sp.csr_matrix:
    """Return a finite 2-D float array, or a CSR matrix for scipy sparse input."""
    if sp.issparse(embeddings):
        matrix = sp.csr_matrix(embeddings)
        if matrix.dtype not in (np.float32, np.float64):
            matrix = matrix.astype(np.float64)
        data = matrix.data
    else:
        matrix = check_ndim(
            _as_float_array(embeddings, name), ("n_samples", "n_features"), name=name
        )
        data = matrix
    if matrix.shape[0] == 0:
        raise ValidationError(f"{name} is empty: the pool has no samples", field=name)
    if matrix.shape[1] == 0:
        raise ValidationError(f"{name} has no feature columns", field=name)
    check_finite(data, name=name)
    return matrix


def check_finite(values: Any, *, name: str) -> None:
    """Refuse NaN or infinite values in a numeric array or a sparse matrix's entries
    (arrays of other kinds, texts for instance, pass unchecked)."""
    data = values.data if sp.issparse(values) else values
    if not isinstance(data, np.ndarray) or data.dtype.kind not in "fc" or data.size == 0:
        return
    # min and max propagate NaN and reach any infinity without a full boolean temporary.
    if not (np.isfinite(data.min()) and np.isfinite(data.max())):
        raise ValidationError(
            f"{name} contains NaN or infinite values: impute or drop them first", field=name
        )


def check_threshold(threshold: Any, *, name: str = "threshold") -> float:
    """Return ``threshold`` as a finite float."""
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise ValidationError(
            f"{name} must be a number, got {type(threshold).__name__}", field=name
        )
    if not np.isfinite(threshold):
        raise ValidationError(f"{name} must be finite, got {threshold}", field=name)
    return float(threshold)
