"""ActiveLab's choice between another label and a new item, as a library function."""

from __future__ import annotations

import numpy as np
import pytest

from labelloop.exceptions import ValidationError
from labelloop.quality import relabel_or_new


def test_a_doubtful_label_goes_before_a_clear_new_item():
    votes = np.array([[0, -1], [1, 1], [0, 1], [1, -1]])
    proba = np.array([[0.1, 0.9], [0.05, 0.95], [0.5, 0.5], [0.1, 0.9]])
    new = np.array([[0.99, 0.01], [0.5, 0.5]])
    picks = relabel_or_new(votes, proba, new, k=3)
    assert len(picks.relabel) + len(picks.new) == 3
    # Item 0's one label contradicts a confident model; item 2's annotators disagree.
    assert {0, 2} <= set(picks.relabel.tolist())
    assert 1 not in picks.relabel  # two agreeing labels the model shares
    merged = np.concatenate(
        [picks.scores_labelled[picks.relabel], picks.scores_unlabelled[picks.new]]
    )
    rest = np.concatenate([
        np.delete(picks.scores_labelled, picks.relabel),
        np.delete(picks.scores_unlabelled, picks.new),
    ])  # fmt: skip
    assert merged.max() <= rest.min()


def test_nothing_new_left_and_k_zero():
    votes = np.array([[0], [1]])
    proba = np.array([[0.6, 0.4], [0.2, 0.8]])
    picks = relabel_or_new(votes, proba, np.empty((0, 2)), k=1)
    assert picks.new.size == 0 and picks.relabel.tolist() == [0]
    assert relabel_or_new(votes, proba, np.empty((0, 2)), k=0).relabel.size == 0


def test_bad_input_names_the_field():
    proba = np.array([[0.6, 0.4], [0.2, 0.8]])
    with pytest.raises(ValidationError) as refused:
        relabel_or_new(np.array([[0], [-1]]), proba, proba, k=1)
    assert refused.value.field == "annotations.1"
    with pytest.raises(ValidationError) as refused:
        relabel_or_new(np.array([[0]]), proba, proba, k=1)
    assert refused.value.field == "pred_probs"
    with pytest.raises(ValidationError) as refused:
        relabel_or_new(np.array([[0], [1]]), proba, proba, k=-1)
    assert refused.value.field == "k"
    with pytest.raises(ValidationError) as refused:
        relabel_or_new(np.array([[0], [2]]), proba, proba, k=1)
    assert refused.value.field == "annotations"
