"""Several annotators per item: where to spend the next annotation, and how to count votes.

Simulated annotators of different accuracies label a scikit-learn bundled set (each
wrong label uniform over the other classes); every annotation goes to one annotator drawn
at random among those who have not labelled that item yet. Policies, all on the same
budget of annotations, in rounds of ``--batch`` annotations, a logistic regression
retrained on the final labels after each round:

- ``new only``: one annotation per item, new items picked by least confidence;
- ``majority x2`` / ``majority x3``: a fixed overlap of 2 or 3 (the same picks);
- ``activelab``: each annotation goes where `labelloop.quality.relabel_or_new`
  (cleanlab's ActiveLab) says: again on a labelled item, or on a new one.

Final labels are counted by majority vote (a tie: one of the tied labels at random, as
no reviewer is simulated) and by `labelloop.quality.dawid_skene` fitted on the items
with two or more votes (an item with one vote keeps it), as the engine does. Reported,
at the end of the budget, means over seeds: the accuracy of the final labels against the
truth, the number of labelled items, and the accuracy of the model on a held-out test
set, with its ratio to ``new only`` (the baseline) from the same seeds in the same run.

Run: ``nice -n 10 .venv/bin/python benchmarks/multiannotator.py [--full]``
(digits and breast_cancer; quick: budget 300, 3 seeds; full: budget 1,200, 10 seeds).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from labelloop.quality import dawid_skene, relabel_or_new

ACCURACIES = np.array([0.9, 0.75, 0.65, 0.55, 0.5])
SETS = {"digits": load_digits, "breast_cancer": load_breast_cancer}
POLICIES = ("new only", "majority x2", "majority x3", "activelab")


class Annotators:
    """The simulated annotators: who labelled what, and the label they gave."""

    def __init__(self, truth: np.ndarray, k: int, rng: np.random.Generator) -> None:
        self.truth, self.k, self.rng = truth, k, rng
        self.votes = np.full((truth.size, ACCURACIES.size), -1, dtype=np.int64)

    def annotate(self, item: int) -> bool:
        free = np.flatnonzero(self.votes[item] < 0)
        if free.size == 0:
            return False
        a = int(self.rng.choice(free))
        right = self.rng.random() < ACCURACIES[a]
        wrong = (self.truth[item] + self.rng.integers(1, self.k)) % self.k
        self.votes[item, a] = self.truth[item] if right else wrong
        return True

    def labelled(self) -> np.ndarray:
        return np.flatnonzero((self.votes >= 0).any(axis=1))


def majority(votes: np.ndarray, k: int) -> np.ndarray:
    """The most frequent label; a tie goes to one of the tied labels, drawn at random
    (seeded by the item): the engine sends it to a reviewer, who is not simulated."""
    out = np.empty(votes.shape[0], dtype=np.int64)
    for i, row in enumerate(votes):
        counts = np.bincount(row[row >= 0], minlength=k)
        best = np.flatnonzero(counts == counts.max())
        out[i] = best[np.random.default_rng(i).integers(best.size)]
    return out


def final_labels(votes: np.ndarray, k: int, method: str) -> np.ndarray:
    """As the engine decides: Dawid-Skene, fitted on the items with two or more votes,
    decides those; an item with one vote keeps it."""
    labels = majority(votes, k)
    shared = (votes >= 0).sum(axis=1) >= 2
    if method == "majority" or shared.sum() < 2:
        return labels
    labels[shared] = dawid_skene(votes[shared], n_classes=k).labels
    return labels


def proba_of(model, X: np.ndarray, k: int) -> np.ndarray:
    if X.shape[0] == 0:
        return np.empty((0, k))
    out = np.full((X.shape[0], k), 1e-6)
    out[:, model.classes_] = model.predict_proba(X)
    return out / out.sum(axis=1, keepdims=True)


def run(policy: str, method: str, X, y, X_test, y_test, *, budget: int, batch: int, seed: int):
    k = int(y.max()) + 1
    rng = np.random.default_rng(seed)
    people = Annotators(y, k, rng)
    overlap = {"new only": 1, "majority x2": 2, "majority x3": 3}.get(policy, 1)
    spent = 0
    start = rng.choice(y.size, size=max(2 * k, batch // overlap), replace=False)
    for item in start:
        for _ in range(overlap):
            spent += people.annotate(int(item))
    model = None
    while spent < budget:
        rows = people.labelled()
        labels = final_labels(people.votes[rows], k, method)
        if np.unique(labels).size < 2:
            break
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))
        model.fit(X[rows], labels)
        pool = np.setdiff1d(np.arange(y.size), rows)
        if pool.size == 0 and policy != "activelab":
            break  # every item labelled: a fixed policy has nothing left to spend on
        step, before = min(batch, budget - spent), spent
        if policy == "activelab":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                picks = relabel_or_new(
                    people.votes[rows], proba_of(model, X[rows], k), proba_of(model, X[pool], k),
                    k=step,
                )  # fmt: skip
            chosen = [int(rows[i]) for i in picks.relabel] + [int(pool[i]) for i in picks.new]
            for item in chosen:
                spent += people.annotate(item)
        else:
            confidence = proba_of(model, X[pool], k).max(axis=1)
            for item in pool[np.argsort(confidence, kind="stable")[: max(step // overlap, 1)]]:
                for _ in range(overlap):
                    spent += people.annotate(int(item))
        if spent == before:
            break  # nobody is left to label anything
    rows = people.labelled()
    labels = final_labels(people.votes[rows], k, method)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))
    model.fit(X[rows], labels)
    return (labels == y[rows]).mean(), rows.size, model.score(X_test, y_test), spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="budget 1200, 10 seeds")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--budget", type=int, default=None)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    seeds = args.seeds or (10 if args.full else 3)
    budget = args.budget or (1200 if args.full else 300)
    sets = SETS
    print(f"annotator accuracies {ACCURACIES.tolist()}; budget {budget} annotations, "
          f"rounds of {args.batch}; {seeds} seeds")  # fmt: skip
    for name, load in sets.items():
        X_all, y_all = load(return_X_y=True)
        print(f"\n### {name}\n")
        print("| policy | votes counted by | final-label accuracy | items labelled "
              "| model accuracy | ratio to new only | annotations spent |")  # fmt: skip
        print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
        results: dict[tuple[str, str], list[tuple[float, int, float, int]]] = {}
        started = time.perf_counter()
        for seed in range(seeds):
            X, X_test, y, y_test = train_test_split(
                X_all, y_all, test_size=0.3, random_state=seed, stratify=y_all
            )
            for policy in POLICIES:
                for method in ("majority", "dawid_skene"):
                    if policy == "new only" and method == "dawid_skene":
                        continue  # one vote per item: nothing to weigh
                    results.setdefault((policy, method), []).append(
                        run(
                            policy,
                            method,
                            X,
                            y,
                            X_test,
                            y_test,
                            budget=budget,
                            batch=args.batch,
                            seed=seed,
                        )  # fmt: skip
                    )
        base = np.array([r[2] for r in results[("new only", "majority")]])
        for (policy, method), rows in results.items():
            columns = zip(*rows, strict=True)
            label_acc, n_items, model_acc, spent = (np.array(col) for col in columns)
            print(f"| {policy} | {method} | {label_acc.mean():.3f} | {n_items.mean():.0f} | "
                  f"{model_acc.mean():.3f} ± {model_acc.std():.3f} | "
                  f"{(model_acc / base).mean():.3f} | {spent.mean():.0f} |")  # fmt: skip
        print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
