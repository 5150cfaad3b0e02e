"""Stream mode: accuracy at equal budget, budget adherence, and decision latency.

Part 1, the library (`labelloop.strategies.stream.BudgetedStream`) against
scikit-activeml's stream strategies (a test dependency), on streams made from offline
data: scikit-learn's digits, a synthetic three-class stream, and the same with an
abrupt concept drift half-way (its labels permuted). Every method sees the same stream
and the same learner: a logistic regression on the last 300 labels, refitted every
``--refit`` new labels, which arrive ``--delay`` arrivals after they were asked (late
labels). Reported per method, over ``--seeds`` stream orders:

- prequential accuracy (each arrival predicted before its decision), mean and sd;
- the share of arrivals asked, overall and the most within any window of 500;
- how many times the asks so far exceeded floor(B t) + 1 (the hard bound).

Part 2, the engine's decision latency: ``Workspace``-level ``offer_item`` on SQLite in
this process, and ``POST /projects/{p}/stream`` over HTTP on loopback against a
``labelloop serve`` in its own process; p50 and p99 over ``--offers`` arrivals.

Run::

    .venv/bin/python benchmarks/stream.py --seeds 5
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from labelloop.strategies import margin
from labelloop.strategies.stream import BudgetedStream, StreamPolicy

WINDOW = 500


# --------------------------------------------------------------------------- streams


def _digits(seed: int) -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(y))
    return StandardScaler().fit_transform(X)[order], y[order]


def _synthetic(seed: int, *, drift: bool) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(
        n_samples=4000, n_features=20, n_informative=8, n_classes=3, n_clusters_per_class=2,
        flip_y=0.03, random_state=1000 + seed,
    )  # fmt: skip
    if drift:  # an abrupt concept drift: the second half's labels are permuted
        half = len(y) // 2
        y = y.copy()
        y[half:] = (y[half:] + 1) % 3
    return StandardScaler().fit_transform(X), y


STREAMS: dict[str, Callable[[int], tuple[np.ndarray, np.ndarray]]] = {
    "digits": _digits,
    "synthetic": lambda seed: _synthetic(seed, drift=False),
    "synthetic, drift": lambda seed: _synthetic(seed, drift=True),
}


# --------------------------------------------------------------------------- the learner


class Learner:
    """A logistic regression on the last ``memory`` labels, refitted every ``refit``."""

    def __init__(self, classes: np.ndarray, *, refit: int, memory: int = 300) -> None:
        self.classes = classes
        self.refit, self.memory = refit, memory
        self.X: list[np.ndarray] = []
        self.y: list[int] = []
        self.model: LogisticRegression | None = None
        self.version = 0  # refits so far
        self._since = 0

    def proba(self, x: np.ndarray) -> np.ndarray:
        if self.model is None:
            return np.full((1, self.classes.size), 1.0 / self.classes.size)
        out = np.zeros((1, self.classes.size))
        out[0, np.searchsorted(self.classes, self.model.classes_)] = self.model.predict_proba(x)
        return out

    def learn(self, x: np.ndarray, label: int) -> None:
        self.X.append(x[0])
        self.y.append(label)
        self._since += 1
        recent = self.y[-self.memory :]
        if self._since >= self.refit and len(set(recent)) > 1:
            self.model = LogisticRegression(max_iter=300).fit(
                np.asarray(self.X[-self.memory :]), recent
            )
            self.version += 1
            self._since = 0


# --------------------------------------------------------------------------- methods


def _ours(budget: float, explore: float, seed: int):
    stream = BudgetedStream(StreamPolicy(budget=budget, explore=explore, window=WINDOW, seed=seed))

    def decide(x: np.ndarray, learner: Learner) -> bool:
        trained = learner.model is not None
        u = float(margin(learner.proba(x))[0]) if trained else None
        return stream.offer(u).ask

    return decide


def _skactiveml(name: str, budget: float, seed: int, classes: np.ndarray):
    """A scikit-activeml stream strategy over the same learner (its window, refitted when
    the learner refits, as scikit-activeml's own wrapper)."""
    from skactiveml import stream as skstream
    from skactiveml.classifier import SklearnClassifier

    options = {"classes": classes} if name == "FixedUncertainty" else {}
    strategy = getattr(skstream, name)(budget=budget, random_state=seed, **options)
    fitted: dict[str, object] = {"version": None, "clf": None}

    def decide(x: np.ndarray, learner: Learner) -> bool:
        if fitted["version"] != learner.version:
            clf = SklearnClassifier(
                LogisticRegression(max_iter=300), classes=classes, missing_label=-1
            )
            if learner.model is None:  # no labels yet: scikit-activeml's uniform prior
                clf.fit(x, np.array([-1]))
            else:
                clf.fit(np.asarray(learner.X[-learner.memory :]), learner.y[-learner.memory :])
            fitted.update(version=learner.version, clf=clf)
        if name == "StreamRandomSampling":  # it needs no classifier
            queried = strategy.query(x)
        else:
            queried = strategy.query(x, clf=fitted["clf"])
        strategy.update(x, queried)
        return len(queried) > 0

    return decide


def run_stream(X, y, decide, *, budget: float, refit: int, delay: int) -> dict:
    classes = np.unique(y)
    learner = Learner(classes, refit=refit)
    pending: list[tuple[int, int]] = []  # (arrival at which the label comes, index)
    correct = 0
    asked_at: list[int] = []
    breaks = 0
    for t in range(len(y)):
        while pending and pending[0][0] <= t:
            _, i = pending.pop(0)
            learner.learn(X[i : i + 1], int(y[i]))
        x = X[t : t + 1]
        p = learner.proba(x)
        correct += int(classes[int(np.argmax(p))] == y[t])
        if decide(x, learner):
            asked_at.append(t)
            pending.append((t + delay, t))
        if len(asked_at) > math.floor(budget * (t + 1) + 1e-9) + 1:
            breaks += 1
    asked = np.zeros(len(y))
    asked[asked_at] = 1
    windows = np.convolve(asked, np.ones(WINDOW), mode="valid") / WINDOW
    return {
        "accuracy": correct / len(y),
        "spent": len(asked_at) / len(y),
        "window": float(windows.max()) if windows.size else len(asked_at) / len(y),
        "breaks": breaks,
    }


METHODS = ("labelloop", "labelloop, no exploration", "VariableUncertainty", "Split",
           "FixedUncertainty", "StreamRandomSampling")  # fmt: skip


def part_one(seeds: int, budget: float, refit: int, delay: int) -> None:
    print(f"## Part 1: accuracy at B = {budget:.0%}, labels {delay} arrivals late\n")
    print("| stream | method | prequential accuracy | spent | most in 500 | over the bound |")
    print("|---|---|---|---|---|---|")
    for stream_name, make in STREAMS.items():
        results: dict[str, list[dict]] = {m: [] for m in METHODS}
        for seed in range(seeds):
            X, y = make(seed)
            classes = np.unique(y)
            for method in METHODS:
                if method == "labelloop":
                    decide = _ours(budget, 0.1, seed)
                elif method == "labelloop, no exploration":
                    decide = _ours(budget, 0.0, seed)
                else:
                    decide = _skactiveml(method, budget, seed, classes)
                results[method].append(
                    run_stream(X, y, decide, budget=budget, refit=refit, delay=delay)
                )
        for method, runs in results.items():
            acc = np.array([r["accuracy"] for r in runs])
            print(
                f"| {stream_name} | {method} | {acc.mean():.3f} ± {acc.std():.3f} "
                f"| {np.mean([r['spent'] for r in runs]):.1%} "
                f"| {max(r['window'] for r in runs):.1%} "
                f"| {sum(r['breaks'] for r in runs)} |"
            )
        sys.stdout.flush()


# --------------------------------------------------------------------------- latency


def _text_project(root: Path):
    from labelloop.engine import users
    from labelloop.engine.workspace import Workspace

    words = {"pos": ["good", "great", "lovely", "fine"], "neg": ["bad", "awful", "dull", "poor"]}
    rng = np.random.default_rng(0)
    records = []
    for i in range(2000):
        label = "pos" if i % 2 == 0 else "neg"
        text = " ".join(rng.choice(words[label], 3)) + f" review {i}"
        records.append({"id": f"r{i}", "text": text, **({"label": label} if i < 200 else {})})
    ws = Workspace(f"sqlite:///{root / 'stream.db'}", actor="bench")
    project = ws.create_project(
        "stream", task_type="classification", labels=["pos", "neg"], strategy="margin",
        settings={"eval_share": 0.05, "retrain_every": 0},
    )  # fmt: skip
    project.add_items(records)
    project.train()
    _, token = users.create_user(ws.db, actor="bench", name="feed", role="model",
                                 projects=[project.id])  # fmt: skip
    return ws, project, token, words


def part_two(offers: int) -> None:
    import httpx

    sys.path.insert(0, str(Path(__file__).parent))
    from serve_load import running_server

    from labelloop.engine.stream import offer_item

    print(f"\n## Part 2: decision latency over {offers} arrivals (SQLite)\n")
    print("| path | p50 ms | p99 ms |")
    print("|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        ws, project, token, words = _text_project(Path(tmp))
        rng = np.random.default_rng(1)

        def record(i: int) -> dict:
            return {"id": f"s{i}", "text": " ".join(rng.choice(words["pos"] + words["neg"], 4))
                    + f" arrival {i}"}  # fmt: skip

        for i in range(20):  # warm-up: the model is loaded once per process
            offer_item(ws.db, project=project.id, record=record(10_000 + i), actor="bench")
        took = []
        for i in range(offers):
            r = record(i)
            start = time.perf_counter()
            offer_item(ws.db, project=project.id, record=r, actor="bench")
            took.append(time.perf_counter() - start)
        print(f"| in process (`offer_item`) | {np.percentile(took, 50) * 1e3:.2f} "
              f"| {np.percentile(took, 99) * 1e3:.2f} |")  # fmt: skip
        url = ws.db.url
        ws.close()
        with (
            running_server(url) as (base, _pid),
            httpx.Client(
                base_url=base + "/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
            ) as http,
        ):
            for i in range(20):
                http.post(f"/projects/{project.id}/stream", json=record(20_000 + i))
            took = []
            for i in range(offers):
                r = record(30_000 + i)
                start = time.perf_counter()
                answer = http.post(f"/projects/{project.id}/stream", json=r)
                took.append(time.perf_counter() - start)
                answer.raise_for_status()
        print(f"| over HTTP on loopback (`POST .../stream`) | {np.percentile(took, 50) * 1e3:.2f} "
              f"| {np.percentile(took, 99) * 1e3:.2f} |")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=float, default=0.1)
    parser.add_argument("--refit", type=int, default=20)
    parser.add_argument("--delay", type=int, default=50)
    parser.add_argument("--offers", type=int, default=500)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    if not args.skip_accuracy:
        part_one(args.seeds, args.budget, args.refit, args.delay)
    if not args.skip_latency:
        part_two(args.offers)


if __name__ == "__main__":
    main()
