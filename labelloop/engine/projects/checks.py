"""What a project's settings and schema must be before anything is stored.

Settings that can never train are refused when set, naming the setting changed: a
``model`` the model layer cannot build or that gives no ``predict_proba``, and a
committee strategy (`labelloop.selection.COMMITTEE_STRATEGIES`) with a model that gives
no member probabilities (`labelloop.models.spec.gives_members`).
"""

from __future__ import annotations

from typing import Any

from labelloop.engine.core.settings import check_settings
from labelloop.exceptions import ValidationError

__all__ = ["check_name", "check_project_settings", "check_strategy", "check_trainable"]

_MAX_NAME = 200


def check_strategy(name: Any) -> str:
    """A strategy name the selection layer knows."""
    # Imported here: the selection layer loads scikit-learn, which most commands never need.
    from labelloop.selection import check_strategy

    return check_strategy(name)


def check_name(name: Any) -> str:
    """A project name: non-empty, at most 200 characters, not all digits."""
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("a project name must be a non-empty string", field="name")
    name = name.strip()
    if len(name) > _MAX_NAME:
        raise ValidationError(f"a project name has at most {_MAX_NAME} characters", field="name")
    if name.isdigit():
        raise ValidationError(
            f"project name {name!r} is a number: numbers refer to project ids, pick a word",
            field="name",
        )
    return name


def check_project_settings(changes: Any) -> dict[str, Any]:
    """Settings changes, by the settings table, and a ``model`` by the model layer too."""
    clean = check_settings(changes)
    if clean.get("model") is not None:
        # Imported here: the model layer pulls in scikit-learn, which the API loads lazily.
        from labelloop.models.spec import check_model_spec

        check_model_spec(clean["model"])
    return clean


def check_trainable(strategy: str, model: Any, *, multi_label: bool, changed: set[str]) -> None:
    """Refuse a committee strategy with a model that cannot serve it, naming what changed."""
    # Imported here: the selection and model layers load scikit-learn.
    from labelloop.models.spec import gives_members
    from labelloop.selection import COMMITTEE_STRATEGIES

    if strategy not in COMMITTEE_STRATEGIES or gives_members(model, multi_label=multi_label):
        return
    field = "strategy" if "strategy" in changed or "model" not in changed else "model"
    model_text = "the default model" if model is None else f"model {model!r}"
    if multi_label:
        model_text += " of a multi-label project"
    raise ValidationError(
        f"setting {field!r}: strategy {strategy!r} needs a committee or sampled "
        f"predictions, which {model_text} cannot give: "
        "set model to an ensemble such as sklearn.ensemble:RandomForestClassifier, "
        "or pick another strategy",
        field=field,
    )


# --------------------------------------------------------------------------- lookups
