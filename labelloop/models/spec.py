"""A project's ``model`` setting: its check, and the unfitted classifier it names.

Rules, so a setting that can never train is refused when it is set, not when a round
runs:

1. An estimator by import path is a class whose instance, built with the setting's
   params, has ``fit`` and ``predict_proba`` (``sklearn.svm:SVC`` has neither by
   default: scikit-learn hides ``predict_proba`` unless ``probability`` is true).
2. Committee strategies need a model that gives one probability table per member or
   per sample (`gives_members`, the static side of
   `labelloop.models.adapters.member_proba`): a `Committee`, a model with
   ``sample_proba``, or a scikit-learn bagging, forest, AdaBoost, voting or stacking
   ensemble of classifiers with ``predict_proba``; never a multi-label model.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from sklearn.ensemble import (
    BaseEnsemble,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    StackingClassifier,
    VotingClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

from labelloop.exceptions import ValidationError
from labelloop.models.adapters import Committee, SamplesProba

__all__ = ["NAMED_CLASSIFIERS", "build_classifier", "check_model_spec", "gives_members"]

NAMED_CLASSIFIERS = ("logistic_regression", "gradient_boosting")


def check_model_spec(value: Any) -> dict[str, Any]:
    """A project's ``model`` setting in its normal form (a dict), validated.

    Accepts None (the built-in default), a classifier name (``"logistic_regression"``,
    ``"gradient_boosting"``), an import path (``"package.module:ClassName"``), or a dict
    ``{"name": ..., "params": {...}}`` / ``{"estimator": "module:Class", "params": {...}}``
    (texts may add ``text_field``/``max_features``, tabular ``columns``, images
    ``image_size``).

    Raises
    ------
    ValidationError
        ``field="model"``, saying which form is expected.
    """
    if value is None:
        return {}
    if isinstance(value, str):
        if value in NAMED_CLASSIFIERS:
            return {"name": value}
        if ":" not in value and "." in value:
            module, _, name = value.rpartition(".")
            value = f"{module}:{name}"
        _estimator(value, {})
        return {"estimator": value}
    if not isinstance(value, Mapping):
        raise ValidationError(
            f"setting 'model' must be null, a classifier name, an import path or an object, "
            f"got {value!r}",
            field="model",
        )
    spec = dict(value)
    if "estimator" in spec and "name" in spec:
        raise ValidationError(
            "setting 'model' takes 'name' or 'estimator', not both", field="model"
        )
    if not isinstance(spec.get("params", {}), Mapping):
        raise ValidationError("model params must be an object of keyword arguments", field="model")
    if "estimator" in spec:
        _estimator(spec["estimator"], spec.get("params") or {})
    elif spec.get("name", "logistic_regression") not in NAMED_CLASSIFIERS:
        raise ValidationError(
            f"unknown model name {spec.get('name')!r}: use one of {', '.join(NAMED_CLASSIFIERS)}",
            field="model",
        )
    return spec


def gives_members(spec: Any, *, multi_label: bool = False) -> bool:
    """Whether a ``model`` setting's classifier, once fitted, gives member probabilities.

    Rule 2: what `labelloop.models.adapters.member_proba` will find in the fitted
    model, read from the unfitted one, so committee strategies are refused when set.

    Parameters
    ----------
    spec : str, dict or None
        A project's ``model`` setting (validated here by `check_model_spec`).
    multi_label : bool, default=False
        Multi-label models are one-vs-rest: committee strategies score single labels.

    Examples
    --------
    >>> gives_members(None)
    False
    >>> gives_members("sklearn.ensemble:RandomForestClassifier")
    True
    """
    spec = check_model_spec(spec)
    if multi_label or "estimator" not in spec:
        return False  # the named classifiers are single models
    return _gives_members(_estimator(spec["estimator"], spec.get("params") or {}))


def _gives_members(estimator: Any) -> bool:
    if isinstance(estimator, SamplesProba | Committee):
        return True
    if isinstance(estimator, GradientBoostingClassifier):
        return False  # its members are regression trees, without predict_proba
    if isinstance(estimator, BaseEnsemble):
        member = getattr(estimator, "estimator", None)
        return member is None or hasattr(member, "predict_proba")
    if isinstance(estimator, VotingClassifier | StackingClassifier):
        members = [m for _, m in estimator.estimators if m != "drop"]
        return len(members) >= 2 and all(hasattr(m, "predict_proba") for m in members)
    return False


def build_classifier(
    spec: Mapping[str, Any] | None = None, *, task_type: str, multi_label: bool = False
):
    """An unfitted classifier from a project's ``model`` setting.

    Parameters
    ----------
    spec : dict, optional
        ``{}`` or ``{"name": "logistic_regression"}`` (default),
        ``{"name": "gradient_boosting"}`` (dense features: tabular and image), or
        ``{"estimator": "package.module:ClassName", "params": {...}}`` for any importable
        classifier with ``fit`` and ``predict_proba``.
    task_type : str
        The project's task type.
    multi_label : bool, default=False
        Wrap the classifier one-vs-rest.

    Raises
    ------
    ValidationError
        An unknown name, an estimator that cannot be imported or lacks
        ``fit``/``predict_proba``, or parameters it does not take (``field="model"``).
    """
    spec = dict(spec or {})
    params = spec.get("params") or {}
    if not isinstance(params, Mapping):
        raise ValidationError("model params must be an object of keyword arguments", field="model")
    if "estimator" in spec:
        base = _estimator(spec["estimator"], params)
    else:
        name = spec.get("name", "logistic_regression")
        if name not in NAMED_CLASSIFIERS:
            raise ValidationError(
                f"unknown model name {name!r}: use one of {', '.join(NAMED_CLASSIFIERS)} "
                "or {'estimator': 'module:Class'}",
                field="model",
            )
        try:
            if name == "gradient_boosting":
                if task_type == "classification":
                    raise ValidationError(
                        "gradient_boosting needs dense features: use it for tabular or image "
                        "projects, or logistic_regression for text",
                        field="model",
                    )
                base = HistGradientBoostingClassifier(**params)
            else:
                base = LogisticRegression(**{"max_iter": 1000, **params})
        except TypeError as exc:
            raise ValidationError(
                f"model {name!r} rejects its params: {exc}", field="model"
            ) from exc
    return OneVsRestClassifier(base) if multi_label else base


def _import_estimator(path: Any) -> type:
    if not isinstance(path, str) or ":" not in path:
        raise ValidationError(
            f"model estimator must be 'package.module:ClassName', got {path!r}", field="model"
        )
    module_name, _, class_name = path.partition(":")
    try:
        value = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ValidationError(
            f"cannot import model estimator {path!r}: {exc}", field="model"
        ) from exc
    if not (isinstance(value, type) and hasattr(value, "fit") and hasattr(value, "predict_proba")):
        raise ValidationError(
            f"model estimator {path!r} is not a classifier class with fit and predict_proba",
            field="model",
        )
    return value


def _estimator(path: Any, params: Mapping[str, Any]) -> Any:
    """An unfitted estimator of ``path`` with ``params`` that can fit and predict_proba (rule 1)."""
    estimator_class = _import_estimator(path)
    try:
        estimator = estimator_class(**params)
    except TypeError as exc:
        raise ValidationError(
            f"model estimator {path!r} rejects its params: {exc}", field="model"
        ) from exc
    try:  # scikit-learn hides predict_proba on instances whose params cannot give it (SVC)
        estimator.predict_proba  # noqa: B018
    except AttributeError as exc:
        raise ValidationError(
            f"model estimator {path!r} gives no predict_proba with params {dict(params)} "
            f"({exc}); pick a classifier that gives probabilities, such as "
            "logistic_regression or sklearn.ensemble:RandomForestClassifier",
            field="model",
        ) from exc
    return estimator
