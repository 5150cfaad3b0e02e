"""A project's settings, declared once: name, default, check and help text.

`SETTINGS` is the only declaration. The engine's defaults (`DEFAULT_SETTINGS`), the
validation of every change (`check_settings`), the web UI's settings form, the CLI's
``--set`` help and the settings table of ``docs/concepts.md`` are all read from it.

Rules
-----
1. A project stores every setting; `effective_settings` lays a project's stored values
   over the defaults, so a setting added later reads as its default.
2. A change names known settings only: an unknown name is refused naming it, with the
   list of known ones; a value out of its range is refused naming the setting.
3. ``strategy`` is a project column, not a setting, but it changes through the same
   calls; its check belongs to the selection layer and is made by the use case.
4. ``model`` is checked here for its shape only; the use case that stores it also
   checks that the model layer can build it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from labelloop.exceptions import ValidationError

if TYPE_CHECKING:  # the CLI reads the table for its help without loading the store
    from labelloop.store.tables import ProjectRow

__all__ = [
    "BOX_SCORES",
    "BOX_FUSE_METHODS",
    "BOX_UNCERTAINTIES",
    "CONSENSUS_METHODS",
    "DEFAULT_SETTINGS",
    "NER_SCORES",
    "RELABEL_RULES",
    "REVIEW_POLICIES",
    "SETTINGS",
    "TARGET_METRICS",
    "Setting",
    "check_setting",
    "check_settings",
    "effective_settings",
    "hides_model_guess",
    "project_setting",
    "review_policies",
]

REVIEW_POLICIES: tuple[str, ...] = (
    "none",
    "all",
    "percent",
    "model_disagrees",
    "annotators_disagree",
)


@dataclass(frozen=True)
class Setting:
    """One project setting.

    Attributes
    ----------
    name : str
    default : object
        JSON-serialisable.
    help : str
        One line for people: the settings form's label, the docs' table, the CLI help.
    check : callable
        ``check(name, value) -> value``: the clean value, or `ValidationError` naming
        the setting.
    kind : {"int", "number", "bool", "policy", "choice", "text", "model"}
        How a form shows it (``choice``: one of ``choices``).
    minimum, maximum : float, optional
        The range of a number (``maximum`` None: unbounded).
    in_form : bool
        Whether the web UI's settings form edits it.
    choices : tuple of str
        The values of a ``choice`` setting.
    """

    name: str
    default: Any
    help: str
    check: Callable[[str, Any], Any]
    kind: str
    minimum: float | None = None
    maximum: float | None = None
    in_form: bool = False
    choices: tuple[str, ...] = ()


def _integer(minimum: int, maximum: int | None = None) -> Callable[[str, Any], int]:
    def check(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(f"setting {name!r} must be an integer, got {value!r}", field=name)
        if value < minimum or (maximum is not None and value > maximum):
            bound = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
            raise ValidationError(f"setting {name!r} must be {bound}, got {value}", field=name)
        return value

    return check


def _zero_or_at_least(minimum: int, maximum: int) -> Callable[[str, Any], int]:
    def check(name: str, value: Any) -> int:
        value = _integer(0, maximum)(name, value)
        if 0 < value < minimum:
            raise ValidationError(
                f"setting {name!r} must be 0 (off) or between {minimum} and {maximum}, got {value}",
                field=name,
            )
        return value

    return check


def _optional(check: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    return lambda name, value: None if value is None else check(name, value)


def _number(low: float, high: float, *, high_open: bool) -> Callable[[str, Any], float]:
    def check(name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError(f"setting {name!r} must be a number, got {value!r}", field=name)
        if value < low or value > high or (high_open and value == high):
            bracket = ")" if high_open else "]"
            raise ValidationError(
                f"setting {name!r} must be in [{low}, {high}{bracket}, got {value}", field=name
            )
        return value

    return check


def _open_fraction(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"setting {name!r} must be a number, got {value!r}", field=name)
    if not 0 < value < 1:
        raise ValidationError(
            f"setting {name!r} must be strictly between 0 and 1, got {value}", field=name
        )
    return float(value)


def _majority_share(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"setting {name!r} must be a number, got {value!r}", field=name)
    if not 0.5 < value <= 1:
        raise ValidationError(
            f"setting {name!r} must be above 0.5 and at most 1 (a majority), got {value}",
            field=name,
        )
    return float(value)


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"setting {name!r} must be true or false, got {value!r}", field=name)
    return value


def _review_policy(name: str, value: Any) -> str | list[str]:
    policies = [value] if isinstance(value, str) else value
    if not isinstance(policies, list | tuple) or not policies:
        raise ValidationError(
            f"setting {name!r} must be a policy name or a list of them", field=name
        )
    clean: list[str] = []
    for policy in policies:
        if policy not in REVIEW_POLICIES:
            raise ValidationError(
                f"unknown review policy {policy!r}: use {', '.join(REVIEW_POLICIES)}", field=name
            )
        if policy not in clean:
            clean.append(policy)
    if "none" in clean and len(clean) > 1:
        raise ValidationError("review policy 'none' cannot be combined with others", field=name)
    return clean[0] if len(clean) == 1 else clean


TARGET_METRICS: tuple[str, ...] = ("macro_f1", "accuracy")
CONSENSUS_METHODS: tuple[str, ...] = ("majority", "dawid_skene")
RELABEL_RULES: tuple[str, ...] = ("off", "activelab")
RARE_CLASS_MODES: tuple[str, ...] = ("off", "on")
GROUP_SAMPLING_MODES: tuple[str, ...] = ("off", "minmax", "balance")
#: How a box image's informativeness aggregates its boxes (`labelloop.boxes`).
BOX_SCORES: tuple[str, ...] = ("max", "mean", "sum", "topk", "unsure")
#: Where a box's uncertainty comes from: its score, or its class probabilities.
BOX_UNCERTAINTIES: tuple[str, ...] = ("score", "probabilities")
#: How several annotators' matched boxes combine into one (`labelloop.boxes.fuse_boxes`).
BOX_FUSE_METHODS: tuple[str, ...] = ("mean", "median")
# Sentence scores of an entity project's rounds (`labelloop.models.crf.SEQUENCE_SCORES`).
NER_SCORES: tuple[str, ...] = (
    "mnlp",
    "least_confidence",
    "token_entropy_mean",
    "token_entropy_max",
    "token_entropy_sum",
)


def _one_of(choices: tuple[str, ...]) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        if value not in choices:
            raise ValidationError(
                f"setting {name!r} must be one of {', '.join(choices)}, got {value!r}",
                field=name,
            )
        return value

    return check


def _target_metric(name: str, value: Any) -> str:
    if value not in TARGET_METRICS:
        raise ValidationError(
            f"setting {name!r} must be one of {', '.join(TARGET_METRICS)}, got {value!r}",
            field=name,
        )
    return value


def _directory(name: str, value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ValidationError(f"setting {name!r} must be a directory path", field=name)
    return value


def _field_name(name: str, value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ValidationError(f"setting {name!r} must be a field name", field=name)
    return value


def _model_shape(name: str, value: Any) -> Any:
    if value is not None and not isinstance(value, str | dict):
        raise ValidationError(
            f"setting {name!r} must be a model name, an import path or a mapping, got {value!r}",
            field=name,
        )
    return value


def _keys(name: str, value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or not all(
        isinstance(key, str) and key.strip() and len(key) <= 100 for key in value
    ):
        raise ValidationError(
            f"setting {name!r} must be a list of metadata keys, got {value!r}", field=name
        )
    if len(value) > 10:
        raise ValidationError(f"setting {name!r} takes at most 10 keys", field=name)
    return list(dict.fromkeys(value))


def _skip_reasons(name: str, value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or not all(
        isinstance(reason, str) and reason.strip() and len(reason) <= 100 for reason in value
    ):
        raise ValidationError(
            f"setting {name!r} must be a list of short reasons (text, at most 100 characters "
            f"each), got {value!r}",
            field=name,
        )
    if len(value) > 9:
        raise ValidationError(f"setting {name!r} takes at most 9 reasons (keys 1-9)", field=name)
    return list(dict.fromkeys(reason.strip() for reason in value))


_WEEK = 7 * 24 * 3600

SETTINGS: tuple[Setting, ...] = (
    Setting("batch_size", 20, "items picked per round", _integer(1, 100_000), "int",
            1, 100_000, in_form=True),
    Setting("retrain_every", 50,
            "new human labels between automatic retrains in the service, 0 for by hand only",
            _integer(0), "int", 0, in_form=True),
    Setting("overlap", 1, "annotations wanted per item, applied to the items still open",
            _integer(1, 20), "int", 1, 20, in_form=True),
    Setting("consensus", "majority",
            "how an item with two or more annotations gets its label: majority or "
            "dawid_skene (votes weighed by each annotator's estimated confusion matrix)",
            _one_of(CONSENSUS_METHODS), "choice", in_form=True, choices=CONSENSUS_METHODS),
    Setting("relabel", "off",
            "off, or activelab: each round gives labelled items another annotation where "
            "that is worth more than labelling a new item",
            _one_of(RELABEL_RULES), "choice", in_form=True, choices=RELABEL_RULES),
    Setting("review_policy", "none",
            "a review policy (none, all, percent, model_disagrees, annotators_disagree) "
            "or a list of them",
            _review_policy, "policy", in_form=True),
    Setting("review_percent", 10, "share of annotations reviewed under the percent policy",
            _number(0, 100, high_open=False), "number", 0, 100, in_form=True),
    Setting("lease_seconds", 600,
            "seconds a label or review lease lasts; serve --lease-seconds overrides it",
            _integer(1, _WEEK), "int", 1, _WEEK, in_form=True),
    Setting("eval_share", 0.05, "share of the pool set aside as the evaluation set",
            _number(0, 1, high_open=True), "number", 0, 1),
    Setting("eval_min", 50, "at least this many evaluation items, where the pool allows",
            _integer(0), "int", 0),
    Setting("eval_min_labels", 30,
            "evaluation items labelled before the queue serves them at their share "
            "(until then evaluation tasks come first), 0 for no minimum",
            _integer(0, 100_000), "int", 0, 100_000, in_form=True),
    Setting("show_model_guess", True,
            "whether annotators may see the model's guess, hidden until asked for",
            _flag, "bool", in_form=True),
    Setting("skip_reasons", ["ambiguous", "cannot see", "not in schema"],
            "the reasons annotators skip with, one key each (S then 1-9) on the labelling page",
            _skip_reasons, "text"),
    Setting("model", None,
            "the built-in model for the task type; or logistic_regression, "
            "gradient_boosting, an estimator by import path (package.module:Class), "
            'or {"estimator": ..., "params": {...}}',
            _model_shape, "model"),
    Setting("media_root", None, "the directory media items are relative to, set by a media import",
            _directory, "text"),
    Setting("label_budget", None,
            "labels the team can afford; the stopping verdict says stop once spent",
            _optional(_integer(1)), "int", 1, in_form=True),
    Setting("group_fields", [],
            "item metadata keys that name groups (e.g. sex, race) for the fairness report",
            _keys, "text"),
    Setting("rare_classes", "off",
            "auto: on fills up to half of a batch with the nearest neighbours of the "
            "labelled examples of classes rare among the labels or in the pool",
            _one_of(RARE_CLASS_MODES), "choice", in_form=True, choices=RARE_CLASS_MODES),
    Setting("group_sampling", "off",
            "auto, by the first of group_fields: minmax gives up to half of a batch to the "
            "group the model serves worst on the evaluation set, balance to the groups "
            "with the fewest labels; off for neither",
            _one_of(GROUP_SAMPLING_MODES), "choice", in_form=True,
            choices=GROUP_SAMPLING_MODES),
    Setting("stream_budget", 0.1,
            "stream mode: the share of arrivals that may be asked; never more than "
            "floor(budget x arrivals) + 1 asked at any moment",
            _number(0, 1, high_open=False), "number", 0, 1, in_form=True),
    Setting("stream_labels_per_hour", None,
            "stream mode: a rate budget (labels per hour since the first arrival) "
            "instead of the share",
            _optional(_number(0, 1_000_000, high_open=False)), "number", 0, 1_000_000),
    Setting("stream_explore", 0.1,
            "stream mode: the share of arrivals asked at random, whatever the model says",
            _number(0, 1, high_open=True), "number", 0, 1, in_form=True),
    Setting("stream_step", 0.01,
            "stream mode: how fast the uncertainty threshold follows the stream",
            _number(0, 1, high_open=True), "number", 0, 1),
    Setting("stream_window", 500,
            "stream mode: at most floor(budget x window) + 1 asks within any this many "
            "arrivals",
            _integer(1, 1_000_000), "int", 1, 1_000_000),
    Setting("auto_label", False,
            "whether each round labels the pool items the model is certified to get right",
            _flag, "bool", in_form=True),
    Setting("auto_label_precision", 0.95,
            "the precision auto-labels must reach (p*), certified on the evaluation set",
            _open_fraction, "number", 0, 1, in_form=True),
    Setting("auto_label_risk", 0.05,
            "the chance allowed that auto-labels fall short of that precision (delta)",
            _open_fraction, "number", 0, 1, in_form=True),
    Setting("auto_label_per_class", False,
            "whether each class gets its own certified threshold (all holding together)",
            _flag, "bool", in_form=True),
    Setting("auto_label_train", False,
            "whether rounds train on auto-labels too (off: self-training amplifies errors)",
            _flag, "bool", in_form=True),
    Setting("auto_label_spot_check", 0.05,
            "share of auto-labelled items sent to people as ordinary tasks to measure them",
            _number(0, 1, high_open=False), "number", 0, 1, in_form=True),
    Setting("label_check_folds", 5,
            "folds of each round's out-of-fold label check (suspect labels), 0 for no check",
            _zero_or_at_least(2, 20), "int", 0, 20, in_form=True),
    Setting("label_check_max_items", 20_000,
            "labels the round's label check looks at, at most: a random sample beyond it",
            _integer(10, 10_000_000), "int", 10, 10_000_000),
    Setting("target_score", None,
            "the evaluation score the team aims for; the forecast says how many labels it takes",
            _optional(_number(0.01, 1, high_open=False)), "number", 0.01, 1, in_form=True),
    Setting("target_metric", "macro_f1",
            "the evaluation score the forecast and the savings read: macro_f1 or accuracy",
            _target_metric, "text"),
    Setting("box_score", "mean",
            "box projects: an image's informativeness from its boxes' uncertainty: max, "
            "mean, sum, topk (mean of the box_topk most uncertain) or unsure (how many "
            "boxes score below box_unsure_below)",
            _one_of(BOX_SCORES), "choice", in_form=True, choices=BOX_SCORES),
    Setting("box_topk", 3, "box projects: the k of box_score topk", _integer(1, 10_000),
            "int", 1, 10_000, in_form=True),
    Setting("box_uncertainty", "score",
            "box projects: a box's uncertainty is 1 - score, or from its class probabilities "
            "on the project's uncertainty scale (1 - score for a box without them)",
            _one_of(BOX_UNCERTAINTIES), "choice", in_form=True, choices=BOX_UNCERTAINTIES),
    Setting("box_unsure_below", 0.5,
            "box projects: a box scored below this is unsure (counted per image)",
            _number(0, 1, high_open=False), "number", 0, 1, in_form=True),
    Setting("box_budget", None,
            "box projects: boxes the team can afford to draw or check; the stopping "
            "verdict says stop once spent",
            _optional(_integer(1)), "int", 1, in_form=True),
    Setting("box_consensus_iou", 0.5,
            "box projects with overlap: the IoU from which two annotators' same-label boxes "
            "are the same box",
            _number(0.05, 1, high_open=False), "number", 0.05, 1, in_form=True),
    Setting("box_consensus_share", 1.0,
            "box projects with overlap: the share of an item's annotators who must agree on "
            "each box (drawn, or not there); 1 for every annotator, else a majority above 0.5",
            _majority_share, "number", 0.5, 1, in_form=True),
    Setting("box_fuse", "mean",
            "box projects with overlap: how matched boxes combine into the final box: "
            "mean or median of each coordinate",
            _one_of(BOX_FUSE_METHODS), "choice", in_form=True, choices=BOX_FUSE_METHODS),
    Setting("ner_score", "mnlp",
            "entity projects: how a round scores a sentence: mnlp (length-normalised "
            "log-probability of the best tags), least_confidence, token_entropy_mean, "
            "token_entropy_max or token_entropy_sum",
            _one_of(NER_SCORES), "choice", in_form=True, choices=NER_SCORES),
    Setting("batch_tokens", 0,
            "entity projects: tokens picked per round (the most informative items whose "
            "tokens fit), 0 to pick batch_size items instead",
            _integer(0, 10_000_000), "int", 0, 10_000_000, in_form=True),
    Setting("ner_word_clusters", True,
            "entity projects: rounds learn word clusters from the project's own texts as "
            "CRF features, kept with the model and learned again once the texts grew by "
            "a quarter",
            _flag, "bool", in_form=True),
    Setting("ner_word_vectors", True,
            "entity projects: the word clusters also group words by a pre-trained "
            "sentence-embedding model's vector of each word (rare and new words too), "
            "when the [embeddings] extra is installed; without it the round says so",
            _flag, "bool", in_form=True),
    Setting("ner_distinct_batches", True,
            "entity projects: a round's batch passes over an item whose words overlap one "
            "already in it by more than 60% while others fill the batch",
            _flag, "bool", in_form=True),
    Setting("token_budget", None,
            "entity projects: tokens the team can afford to label; the stopping verdict "
            "says stop once spent",
            _optional(_integer(1)), "int", 1, in_form=True),
    Setting("label_studio_id_field", None,
            "the Label Studio task data field holding the item's id; unset: tasks are "
            "items ls-<task id>",
            _field_name, "text"),
)  # fmt: skip

_BY_NAME: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}

DEFAULT_SETTINGS: Mapping[str, Any] = {setting.name: setting.default for setting in SETTINGS}


def check_setting(name: str, value: Any) -> Any:
    """Rule 2 for one setting: its clean value, or `ValidationError` naming it."""
    setting = _BY_NAME.get(name)
    if setting is None:
        raise ValidationError(
            f"unknown setting {name!r}: settings are {', '.join(['strategy', *_BY_NAME])}",
            field=name,
        )
    return setting.check(name, value)


def check_settings(changes: Any) -> dict[str, Any]:
    """Rule 2 for a mapping of changes; every one is checked before any is used.

    Examples
    --------
    >>> check_settings({"overlap": 2})
    {'overlap': 2}
    """
    if not isinstance(changes, dict):
        raise ValidationError("settings must be a mapping of name to value", field="settings")
    return {name: check_setting(name, value) for name, value in changes.items()}


def effective_settings(project: ProjectRow) -> dict[str, Any]:
    """Rule 1: the project's settings over the defaults (a copy: changing it changes nothing)."""
    return {**DEFAULT_SETTINGS, **(project.settings or {})}


def project_setting(project: ProjectRow, name: str) -> Any:
    """One of a project's settings, falling back to its default."""
    stored = project.settings or {}
    return stored[name] if name in stored else _BY_NAME[name].default


def hides_model_guess(stored: Mapping[str, Any] | None, role: str) -> bool:
    """Whether a user of ``role`` may not see the model's guess (nor anything that reveals
    it) in a project whose stored settings are ``stored``: annotators, when the project's
    ``show_model_guess`` setting is off."""
    shown = (stored or {}).get("show_model_guess", _BY_NAME["show_model_guess"].default)
    return role == "annotator" and not shown


def review_policies(settings: Mapping[str, Any]) -> tuple[str, ...]:
    """The review policies in force, as a tuple (empty for ``"none"``)."""
    value = settings.get("review_policy", "none")
    policies = (value,) if isinstance(value, str) else tuple(value)
    return tuple(policy for policy in policies if policy != "none")
