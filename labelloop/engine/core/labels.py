"""The final-label rule: one pure function decides an item's final label and status.

The rule, in order:

0. Auto-labels (source ``model``) vote only while no human or imported label does: a
   human label always wins over an auto-label, and an auto-label never replaces one
   (`votes_that_count`). An item voted on by auto-labels alone needs no overlap: it is
   complete.
1. A reviewer's correction wins over everything: status ``accepted``, the corrected label.
2. A reviewer's acceptance confirms the accepted label: status ``accepted``.
3. Until the item has all the annotations it needs (the project's overlap), it stays
   ``open`` with no final label.
4. The consensus label wins: the majority label, or under the project's ``consensus``
   setting ``dawid_skene`` the most probable label given each voter's estimated
   confusion matrix (`labelloop.engine.core.consensus`); a tie goes to review (status
   ``in_review``, no final label). A box project's items with two or more annotators
   are decided by their fused boxes instead (`labelloop.boxes.fuse_boxes`, in
   `labelloop.engine.core.final_label`): undecided boxes go to review with the reason
   ``boxes_disagree``. Entity projects compare span lists exactly: equal lists agree.
5. A winner whose review is due by the project's review policy is provisional: status
   ``in_review`` with that label.
6. Otherwise the winner is final: status ``annotated``.

`review_reason` says whether the policy makes a review due: ``all``; ``percent`` (a
random share, drawn from a generator seeded with the item, so a re-run decides the
same); ``model_disagrees`` (the latest prediction's best label differs from the
winner); ``annotators_disagree`` (the annotators did not all give the same label).
Labels compare by their JSON form, so a multi-label set is one vote.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from labelloop.exceptions import ValidationError

__all__ = [
    "AUTO_SOURCE",
    "LabelDecision",
    "decide_label",
    "label_key",
    "model_label",
    "review_reason",
    "votes_that_count",
]

AUTO_SOURCE = "model"

_VERDICTS = ("accept", "correct")


@dataclass(frozen=True)
class LabelDecision:
    """What the rule decided for one item.

    Attributes
    ----------
    status : {"open", "annotated", "in_review", "accepted"}
    final_label : str, list of str or None
        None while open, and for a tie under review.
    source : {"human", "review", "import", "model"} or None
        Where the final label came from.
    review_reason : str or None
        Why the item is in review (``tie`` or a policy's reason); None otherwise.
    """

    status: str
    final_label: Any
    source: str | None
    review_reason: str | None = None


def label_key(label: Any) -> str:
    """The canonical JSON form of a label, for comparing and counting votes."""
    return json.dumps(label, sort_keys=True, separators=(",", ":"))


def votes_that_count(votes: Sequence[tuple[Any, str]]) -> tuple[list[Any], str, bool]:
    """Rule 0: the labels that vote, the source of the newest, and whether only models do.

    Parameters
    ----------
    votes : sequence of (label, source)
        The item's active annotations, oldest first.

    Returns
    -------
    labels : list
    source : str
        The newest counted vote's source (``human`` when there is none).
    auto_only : bool
        True when every counted vote is an auto-label.

    Examples
    --------
    >>> votes_that_count([("a", "model"), ("b", "human")])
    (['b'], 'human', False)
    >>> votes_that_count([("a", "model")])
    (['a'], 'model', True)
    """
    people = [(label, source) for label, source in votes if source != AUTO_SOURCE]
    counted = people or list(votes)
    labels = [label for label, _ in counted]
    source = counted[-1][1] if counted else "human"
    return labels, source, bool(counted) and not people


def _majority(labels: Sequence[Any]) -> tuple[Any, bool]:
    """The most frequent label and whether it is a strict winner (not a tie)."""
    counts = Counter(label_key(label) for label in labels)
    ranked = counts.most_common()
    best_key, best_count = ranked[0]
    tie = len(ranked) > 1 and ranked[1][1] == best_count
    return json.loads(best_key), not tie


def model_label(probabilities: Mapping[str, float], *, multi_label: bool) -> Any:
    """A prediction's label: the most probable one, or for multi-label every p >= 0.5."""
    if not probabilities:
        return None
    if multi_label:
        return sorted(name for name, p in probabilities.items() if p >= 0.5)
    return max(sorted(probabilities), key=lambda name: probabilities[name])


def review_reason(
    policies: Sequence[str],
    *,
    labels: Sequence[Any],
    winner: Any,
    percent: float = 0.0,
    seed: str = "",
    predicted: Any = None,
) -> str | None:
    """Why a review is due for a decided item under the project's policies, or None.

    Parameters
    ----------
    policies : sequence of str
        The policies in force, among ``all``, ``percent``, ``model_disagrees``,
        ``annotators_disagree`` (``none`` or empty: never).
    labels : sequence
        The active annotations' labels.
    winner : label
        The majority label.
    percent : float
        Share in percent reviewed under ``percent``.
    seed : str
        Seeds the ``percent`` draw; use something stable per item (project and item id).
    predicted : label, optional
        The latest prediction's label (`model_label`), for ``model_disagrees``.

    Returns
    -------
    str or None
        ``all``, ``sample``, ``model_disagrees`` or ``annotators_disagree``.
    """
    for policy in policies:
        if policy == "all":
            return "all"
        if policy == "percent" and random.Random(seed).random() * 100 < percent:
            return "sample"
        if (
            policy == "model_disagrees"
            and predicted is not None
            and label_key(predicted) != label_key(winner)
        ):
            return "model_disagrees"
        if policy == "annotators_disagree" and len({label_key(lab) for lab in labels}) > 1:
            return "annotators_disagree"
    return None


def decide_label(
    labels: Sequence[Any],
    *,
    complete: bool,
    due: str | None = None,
    verdict: str | None = None,
    reviewed_label: Any = None,
    source: str = "human",
    consensus: tuple[Any, bool] | None = None,
    undecided: str = "tie",
) -> LabelDecision:
    """Apply the final-label rule to one item.

    Parameters
    ----------
    labels : sequence
        The labels of the item's active annotations (not reviewer corrections).
    complete : bool
        Whether the item has all the annotations its overlap asks for.
    due : str, optional
        The review reason from `review_reason` for the majority label, if any.
    verdict : {"accept", "correct"}, optional
        The latest reviewer verdict standing on the item.
    reviewed_label : label, optional
        The label the reviewer accepted or gave as a correction.
    source : str
        The source of the annotations (``human``, ``model`` or ``import``).
    consensus : (label, bool), optional
        Rule 4's winner and whether it is strict, decided by Dawid-Skene; default: the
        majority of ``labels``.
    undecided : str
        The review reason when rule 4 finds no strict winner (``tie``; a box project's
        undecided fusion says ``boxes_disagree``).

    Returns
    -------
    LabelDecision
    """
    if verdict is not None:
        if verdict not in _VERDICTS:
            raise ValidationError(f"unknown verdict {verdict!r}", field="verdict")
        return LabelDecision(
            status="accepted",
            final_label=reviewed_label,
            source="review" if verdict == "correct" else source,
        )
    if not labels or not complete:
        return LabelDecision(status="open", final_label=None, source=None)
    winner, strict = _majority(labels) if consensus is None else consensus
    if not strict:
        return LabelDecision(
            status="in_review", final_label=None, source=None, review_reason=undecided
        )
    if due is not None:
        return LabelDecision(
            status="in_review", final_label=winner, source=source, review_reason=due
        )
    return LabelDecision(status="annotated", final_label=winner, source=source)
