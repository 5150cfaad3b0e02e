"""Dawid-Skene recovers known annotator accuracies and agrees with cleanlab's consensus."""

from __future__ import annotations

import numpy as np
import pytest

from labelloop.exceptions import ValidationError
from labelloop.quality import dawid_skene

ACCURACIES = np.array([0.95, 0.8, 0.65, 0.55])


def _simulate(seed: int, n_items: int = 2000, k: int = 3):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, size=n_items)
    votes = np.empty((n_items, ACCURACIES.size), dtype=np.int64)
    for a, acc in enumerate(ACCURACIES):
        right = rng.random(n_items) < acc
        wrong = (truth + rng.integers(1, k, size=n_items)) % k
        votes[:, a] = np.where(right, truth, wrong)
    return truth, votes


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovers_annotator_accuracies_and_beats_majority(seed):
    truth, votes = _simulate(seed)
    result = dawid_skene(votes)
    np.testing.assert_allclose(result.accuracy, ACCURACIES, atol=0.04)
    majority = np.array([np.bincount(row, minlength=3).argmax() for row in votes])
    assert (result.labels == truth).mean() >= (majority == truth).mean()


def test_missing_labels_and_cleanlab_consensus_agree():
    from cleanlab.multiannotator import get_majority_vote_label

    truth, votes = _simulate(3, n_items=600)
    votes[np.arange(600) % 4 == 0, 3] = -1
    result = dawid_skene(votes)
    assert (result.labels == truth).mean() > 0.9
    import pandas as pd

    frame = pd.DataFrame(np.where(votes >= 0, votes, np.nan))
    reference = np.asarray(get_majority_vote_label(frame))
    # On items where the annotators agree strongly, both consensuses give the same label.
    strong = (votes == votes[:, [0]]).sum(axis=1) >= 3
    assert (result.labels[strong] == reference[strong]).all()


def test_bad_input_names_the_item():
    with pytest.raises(ValidationError) as refused:
        dawid_skene(np.array([[0, 1], [-1, -1]]))
    assert refused.value.field == "annotations.1"
    with pytest.raises(ValidationError):
        dawid_skene(np.array([0.5, 1.0]))
    with pytest.raises(ValidationError) as no_steps:
        dawid_skene(np.array([[0, 1]]), max_iter=0)
    assert no_steps.value.field == "max_iter"


@pytest.mark.filterwarnings("ignore")  # crowd-kit's pandas deprecations
@pytest.mark.parametrize("seed", [0, 1])
def test_agrees_with_crowd_kits_dawid_skene(seed):
    """The reference implementation (crowd-kit, a test-only dependency) on the same votes."""
    pd = pytest.importorskip("pandas")
    crowdkit = pytest.importorskip("crowdkit.aggregation")
    truth, votes = _simulate(seed, n_items=800)
    rng = np.random.default_rng(seed)
    votes[rng.random(votes.shape) < 0.3] = -1
    alone = (votes < 0).all(axis=1)
    votes[alone, 0] = truth[alone]
    rows, cols = np.nonzero(votes >= 0)
    frame = pd.DataFrame({"task": rows, "worker": cols, "label": votes[rows, cols]})
    reference = crowdkit.DawidSkene(n_iter=100, tol=1e-6).fit(frame)
    ours = dawid_skene(votes, tol=1e-6)
    labels = reference.labels_.sort_index().to_numpy()
    assert (labels == ours.labels).mean() >= 0.99
    posteriors = reference.probas_.sort_index()[[0, 1, 2]].to_numpy()
    assert np.abs(posteriors - ours.posteriors).mean() < 0.01
    prior = reference.priors_.sort_index().to_numpy()
    errors = reference.errors_
    accuracy = [sum(prior[t] * errors.loc[(a, t), t] for t in range(3)) for a in range(4)]
    np.testing.assert_allclose(ours.accuracy, accuracy, atol=0.02)
