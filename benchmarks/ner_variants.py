"""Entity label efficiency: changes to the method tried against the current best, side by side.

The current best of ``ner_efficiency.py`` (``--models clusters --strategies
mnlp+distinct``) is the ``base`` variant here: the CRF with word clusters learned from
the pool, MNLP, batches without near-duplicates. Every variant runs on the same seeds,
splits, starting 5% and rounds of 5% of the pool's tokens (the functions of
``ner_efficiency.py``), so its rows compare with those of ``base``. Variants:

- ``self-<O|any>-<threshold>-<cap>[-basepick]``: self-training. Each round the CRF
  trained on the labelled tweets tags the unlabelled pool; the tweets whose best tag
  sequence has probability at least ``threshold`` (``O``: and no entity in it), most
  confident first and at most ``cap`` times the labelled count, are added with their
  predicted tags and the CRF is trained again; that model is scored and (unless
  ``-basepick``, where the first model picks) picks the next batch.
- ``affix``: the word features also get 1- and 4-letter prefixes and suffixes.
- ``wide``: every token also gets the words two to either side and the pair of the word
  before and itself.
- ``boost``: the pick's score is MNLP times one plus the expected number of entity tokens
  (capped at 3) of the tweet.
- ``mixmax``: the pick's score is the mean of the ranks of MNLP and of the largest token
  entropy.

Feature variants (``affix``, ``wide``) change the tagger, so their full-pool F1 is
computed with it (``--full``); the others use the base tagger's full-pool F1.

    nice -n 10 python benchmarks/ner_variants.py --variants base,affix --full
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ner_efficiency as ne  # noqa: E402

from labelloop.models import crf  # noqa: E402
from labelloop.models.crf import CrfTagger  # noqa: E402
from labelloop.models.word_clusters import WordClusters  # noqa: E402
from labelloop.strategies.sequence import (  # noqa: E402
    distinct_top_within_budget,
    mnlp,
    random_within_budget,
    token_entropy,
)

VARIANT = re.compile(
    r"base|affix|wide|boost|mixmax|self-(O|any)-\d+(\.\d+)?-\d+(\.\d+)?(-basepick)?"
)
_WORD_FEATURES = crf._word_features
_TOKEN_FEATURES = crf.token_features


def _affix_features(word: str) -> list[str]:
    lower = word.lower()
    extra = ["p1=" + lower[:1], "p4=" + lower[:4], "s1=" + lower[-1:], "s4=" + lower[-4:]]
    return _WORD_FEATURES(word) + extra


def _wide_features(words, *, cache=None, clusters=None):
    rows = _TOKEN_FEATURES(words, cache=cache, clusters=clusters)
    low = [w.lower() for w in words]
    for i, row in enumerate(rows):
        row.append("-2w=" + (low[i - 2] if i >= 2 else "<s>"))
        row.append("+2w=" + (low[i + 2] if i + 2 < len(words) else "</s>"))
        if i >= 1:
            row.append("-1w|w=" + low[i - 1] + "|" + low[i])
    return rows


def _use_features(variant: str) -> None:
    crf._word_features = _affix_features if variant == "affix" else _WORD_FEATURES
    crf.token_features = _wide_features if variant == "wide" else _TOKEN_FEATURES


def _boost(model: CrfTagger, sentences: list) -> np.ndarray:
    p = model.predict_marginals(sentences)
    outside = p.marginals[:, p.labels.index("O")]
    owner = np.repeat(np.arange(len(sentences)), p.lengths)
    expected = np.bincount(owner, weights=1 - outside, minlength=len(sentences))
    return mnlp(p.log_proba, p.lengths) * (1 + np.minimum(expected, 3))


def _mixmax(model: CrfTagger, sentences: list) -> np.ndarray:
    p = model.predict_marginals(sentences)
    first = rankdata(mnlp(p.log_proba, p.lengths))
    second = rankdata(token_entropy(p.marginals, p.lengths, aggregate="max"))
    return (first + second) / (2 * len(sentences))


def _score(variant: str, model: CrfTagger, sentences: list) -> np.ndarray:
    if variant == "boost":
        return _boost(model, sentences)
    if variant == "mixmax":
        return _mixmax(model, sentences)
    return model.informativeness(sentences, method="mnlp")


def _fit(data: dict, sentences: list, tags: list) -> CrfTagger:
    return CrfTagger(max_iterations=50, word_clusters=data["clusters"]).fit(sentences, tags)


def _self_trained(variant: str, data: dict, labelled: np.ndarray, base: CrfTagger):
    """The CRF trained again with the confident pool tweets as pseudo-labels."""
    _, kind, threshold, cap, *_ = variant.split("-")
    pool, tags = data["pool"], data["pool_tags"]
    chosen, rest = np.flatnonzero(labelled), np.flatnonzero(~labelled)
    guess = base.predict_marginals([pool[i] for i in rest], marginals=False)
    proba = np.exp(guess.log_proba)
    keep = proba >= float(threshold)
    if kind == "O":
        keep &= np.array([all(t == "O" for t in g) for g in guess.tags])
    found = np.flatnonzero(keep)
    found = found[np.argsort(-proba[found], kind="stable")][: int(float(cap) * chosen.size)]
    model = _fit(
        data,
        [pool[i] for i in chosen] + [pool[rest[j]] for j in found],
        [tags[i] for i in chosen] + [guess.tags[j] for j in found],
    )
    return model, int(found.size)


def run(variant: str, data: dict, seed: int, args: argparse.Namespace) -> list[float]:
    """Test span F1 after each round of one variant on one seed."""
    pool, tags, costs = data["pool"], data["pool_tags"], data["costs"]
    total = int(costs.sum())
    labelled = np.zeros(len(pool), dtype=bool)
    start = random_within_budget(costs, budget=args.initial * total, random_state=seed)
    labelled[start] = True
    rng = np.random.default_rng(seed + 1000)
    curve = []
    rounds = round((args.max_fraction - args.initial) / args.step)
    for done in range(rounds + 1):
        chosen = np.flatnonzero(labelled)
        base = _fit(data, [pool[i] for i in chosen], [tags[i] for i in chosen])
        model, picker = base, base
        if variant.startswith("self-"):
            model, _ = _self_trained(variant, data, labelled, base)
            picker = base if variant.endswith("-basepick") else model
        curve.append(ne.evaluate(model, data["test"], data["test_spans"]))
        if done == rounds:
            return curve
        budget = (args.initial + (done + 1) * args.step) * total - int(costs[labelled].sum())
        rest = np.flatnonzero(~labelled)
        sentences = [pool[i] for i in rest]
        scores = _score(variant, picker, sentences)
        picked = distinct_top_within_budget(
            scores, costs[rest], sentences, budget=budget, random_state=rng
        )
        labelled[rest[picked]] = True
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--variants", default="base")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--initial", type=float, default=0.05)
    parser.add_argument("--step", type=float, default=0.05)
    parser.add_argument("--max-fraction", type=float, default=0.35)
    parser.add_argument("--full", action="store_true", help="full-pool F1 of every variant")
    parser.add_argument("--out", help="write the curves as JSON here")
    args = parser.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if not VARIANT.fullmatch(v)]
    if not variants or unknown:
        parser.error(f"unknown variants {unknown}: see the docstring for their names")
    tokens, tags, spans = ne.load(ne.locate_wnut(None))
    results: dict = {v: {} for v in variants}
    for seed in (int(s) for s in args.seeds.split(",")):
        data = ne.split_seed(tokens, tags, spans, seed)
        data["clusters"] = WordClusters().fit(data["pool"])
        for variant in variants:
            _use_features(variant)
            began = time.perf_counter()
            full = None
            if args.full:
                model = _fit(data, data["pool"], data["pool_tags"])
                full = ne.evaluate(model, data["test"], data["test_spans"])
            curve = run(variant, data, seed, args)
            results[variant][seed] = {"full": full, "curve": curve}
            print(
                f"seed {seed} {variant}: "
                + (f"full {full:.4f}; " if full is not None else "")
                + " ".join(f"{f:.3f}" for f in curve)
                + f" ({time.perf_counter() - began:.0f} s)",
                flush=True,
            )
            if args.out:
                Path(args.out).write_text(json.dumps(results))
    _use_features("base")
    print(
        "\n| variant | full-pool F1 | "
        + " | ".join(f"{args.initial + k * args.step:.0%}" for k in range(len(curve)))
        + " |"
    )
    for variant, by_seed in results.items():
        means = np.mean([r["curve"] for r in by_seed.values()], axis=0)
        fulls = [r["full"] for r in by_seed.values() if r["full"] is not None]
        full = f"{np.mean(fulls):.4f}" if fulls else "-"
        print(f"| {variant} | {full} | " + " | ".join(f"{v:.3f}" for v in means) + " |")


if __name__ == "__main__":
    main()
