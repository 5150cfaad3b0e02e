"""Word clusters learned from a project's own unlabelled text, as features for the CRF.

A CRF on a few hundred labelled sentences has seen few of the words it meets later; a
word it has never seen gets only its shape and affixes. :class:`WordClusters` groups
words that occur in similar contexts in the unlabelled text (which every project has
in its pool), so a label on one word of a group teaches the model about the others:
the Brown-cluster features long used for Twitter and low-resource entity recognition,
here from a truncated SVD of a positive-PMI word-context matrix clustered by k-means at
a few granularities.

Rules:

1. Words are normalised before counting (lowercase, digits to ``0``, every URL one
   word and every @mention another), so cluster ids are shared across spellings.
2. Clustering is deterministic for a given ``random_state`` and text.
3. A word not in the fitted vocabulary (or seen fewer than ``min_count`` times) gets no
   cluster feature at all, never a guessed one.
4. :meth:`WordClusters.features` gives one feature per granularity, ``"c<k>=<id>"``.
5. A fitted instance saves compactly (its words as one array, their ids as another), so
   it travels inside a model artifact (skops) at a few hundred kilobytes, and it records
   how many sentences it was learned from (``n_sentences_``), so its owner can tell when
   the text has grown enough to learn it again.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from labelloop.exceptions import ValidationError
from labelloop.ner.tokens import Token

__all__ = ["WordClusters", "normalise_word"]

_DIGITS = re.compile(r"\d")


def normalise_word(word: str) -> str:
    """The form words are counted and clustered under.

    Examples
    --------
    >>> [normalise_word(w) for w in ["Paris", "2019", "@bob", "https://t.co/x"]]
    ['paris', '0000', '<user>', '<url>']
    """
    lower = word.lower()
    if lower.startswith(("http://", "https://", "www.")):
        return "<url>"
    if lower.startswith("@") and len(lower) > 1:
        return "<user>"
    return _DIGITS.sub("0", lower)


def _sentences(texts: Any) -> list[list[str]]:
    if isinstance(texts, str) or not isinstance(texts, Iterable):
        raise ValidationError(
            "texts must be a list of sentences, each a string or a list of tokens", field="texts"
        )
    out = []
    for i, text in enumerate(texts):
        if isinstance(text, str):
            words = text.split()
        elif isinstance(text, Sequence):
            words = [t.text if isinstance(t, Token) else t for t in text]
            if not all(isinstance(w, str) for w in words):
                raise ValidationError(
                    f"texts[{i}] must hold strings or Token objects", field=f"texts.{i}"
                )
        else:
            raise ValidationError(
                f"texts[{i}] must be a string or a list of tokens, got {type(text).__name__}",
                field=f"texts.{i}",
            )
        out.append([w for w in words if w])
    return out


class WordClusters:
    """Groups of words with similar contexts in unlabelled text, at several granularities.

    Parameters
    ----------
    sizes : tuple of int, default=(16, 64, 256)
        Numbers of clusters, one feature each (capped at the vocabulary's size).
    dimensions : int, default=64
        Components of the truncated SVD the clusters are found in.
    window : int, default=3
        Context words counted on each side, by position (``-3`` ... ``+3``).
    contexts : int, default=2000
        The most frequent words used as contexts (others count as one rare context).
    min_count : int, default=3
        Words seen fewer times get no cluster (their contexts are too few to place them).
    random_state : int, default=0
        Seed of the SVD and k-means.

    Attributes
    ----------
    clusters_ : dict of str to tuple of int
        Each normalised word's cluster id at each size.
    sizes_ : tuple of int
        The sizes actually used.
    n_sentences_ : int
        How many sentences it was learned from.

    Examples
    --------
    >>> texts = [["I", "saw", w] for w in ["Paris", "Rome", "Bob", "Ann"]] * 3
    >>> clusters = WordClusters(sizes=(2,), dimensions=2).fit(texts)
    >>> clusters.features("Paris")[0].startswith("c2=")
    True
    >>> clusters.features("unseen")
    []
    """

    def __init__(
        self,
        *,
        sizes: Sequence[int] = (16, 64, 256),
        dimensions: int = 64,
        window: int = 3,
        contexts: int = 2000,
        min_count: int = 3,
        capitals: bool = True,
        random_state: int = 0,
    ) -> None:
        self.sizes = tuple(sizes)
        self.dimensions = dimensions
        self.window = window
        self.contexts = contexts
        self.min_count = min_count
        self.capitals = capitals
        self.random_state = random_state

    def _check(self) -> None:
        if not self.sizes or any(not isinstance(k, int) or k < 2 for k in self.sizes):
            raise ValidationError("sizes must be integers of at least 2", field="sizes")
        for name in ("dimensions", "window", "contexts", "min_count"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValidationError(f"{name} must be a positive integer", field=name)

    def fit(self, texts: Any) -> WordClusters:
        """Learn the clusters from sentences (strings split on spaces, or token lists)."""
        from scipy import sparse
        from sklearn.cluster import KMeans
        from sklearn.decomposition import TruncatedSVD
        from sklearn.preprocessing import normalize

        self._check()
        raw = _sentences(texts)
        sentences = [[normalise_word(w) for w in words] for words in raw]
        counts = Counter(w for s in sentences for w in s)
        vocabulary = sorted(w for w, c in counts.items() if c >= self.min_count)
        if len(vocabulary) < 2:
            raise ValidationError(
                f"texts hold {len(vocabulary)} distinct words seen at least "
                f"{self.min_count} times; word clusters need at least 2",
                field="texts",
            )
        row = {w: i for i, w in enumerate(vocabulary)}
        context_words = [w for w, _ in counts.most_common(self.contexts)]
        column = {w: i for i, w in enumerate(context_words)}
        rare = len(context_words)
        width = rare + 1
        offsets = [d for d in range(-self.window, self.window + 1) if d]
        rows, cols = [], []
        for words in sentences:
            padded = ["<s>"] * self.window + words + ["</s>"] * self.window
            for i, word in enumerate(words):
                r = row.get(word)
                if r is None:
                    continue
                for slot, d in enumerate(offsets):
                    other = padded[i + self.window + d]
                    c = column.get(other, rare) if other not in ("<s>", "</s>") else None
                    # Sentence edges are contexts of their own, one per side.
                    if c is None:
                        c = width + (0 if other == "<s>" else 1)
                    rows.append(r)
                    cols.append(slot * (width + 2) + c)
        shape = (len(vocabulary), len(offsets) * (width + 2))
        matrix = sparse.coo_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=shape, dtype=np.float64
        ).tocsr()
        matrix.sum_duplicates()
        # Positive pointwise mutual information, with context counts smoothed (^0.75).
        total = matrix.sum()
        word_sum = np.asarray(matrix.sum(axis=1)).ravel()
        context_sum = np.asarray(matrix.sum(axis=0)).ravel() ** 0.75
        context_sum /= context_sum.sum()
        coo = matrix.tocoo()
        pmi = (
            np.log(coo.data / total)
            - np.log(word_sum[coo.row] / total)
            - np.log(np.maximum(context_sum[coo.col], 1e-300))
        )
        keep = pmi > 0
        ppmi = sparse.csr_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=matrix.shape)
        components = max(1, min(self.dimensions, min(ppmi.shape) - 1))
        if components >= 2 and ppmi.nnz:
            vectors = TruncatedSVD(
                n_components=components, random_state=self.random_state
            ).fit_transform(ppmi)
        else:
            vectors = ppmi.toarray()[:, : max(components, 1)]
        vectors = normalize(vectors)
        unique = len(np.unique(np.round(vectors, 12), axis=0))
        self.sizes_ = tuple(sorted({min(k, unique) for k in self.sizes if min(k, unique) >= 2}))
        if not self.sizes_:
            self.sizes_ = (min(2, len(vocabulary)),)
        ids = []
        for k in self.sizes_:
            model = KMeans(n_clusters=k, n_init=1, random_state=self.random_state)
            ids.append(model.fit_predict(vectors))
        table = np.stack(ids, axis=1)
        self.clusters_ = {w: tuple(int(v) for v in table[i]) for i, w in enumerate(vocabulary)}
        self.capitals_ = self._capitals(raw, row) if self.capitals else {}
        self.n_sentences_ = len(raw)
        return self

    def __getstate__(self) -> dict[str, Any]:
        # Rule 5: two dicts of a few thousand words would be thousands of skops nodes.
        state = dict(self.__dict__)
        clusters = state.pop("clusters_", None)
        capitals = state.pop("capitals_", None)
        if clusters is not None:
            words = list(clusters)
            state["words_"] = np.asarray(words, dtype=str)
            state["ids_"] = np.asarray([clusters[w] for w in words], dtype=np.int32).reshape(
                len(words), len(self.sizes_)
            )
        if capitals is not None:
            state["capital_words_"] = np.asarray(list(capitals), dtype=str)
            state["capital_shares_"] = np.asarray(list(capitals.values()), dtype=np.int8)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        words = state.pop("words_", None)
        ids = state.pop("ids_", None)
        capital_words = state.pop("capital_words_", None)
        capital_shares = state.pop("capital_shares_", None)
        self.__dict__.update(state)
        if words is not None and ids is not None:
            self.clusters_ = {
                str(w): tuple(int(v) for v in row) for w, row in zip(words, ids, strict=True)
            }
        if capital_words is not None and capital_shares is not None:
            self.capitals_ = {
                str(w): int(v) for w, v in zip(capital_words, capital_shares, strict=True)
            }

    def _capitals(self, raw: list[list[str]], known: dict[str, int]) -> dict[str, int]:
        # How often a word starts with a capital where the sentence does not make it
        # (not first): names keep their capital wherever they stand, other words do not.
        upper: Counter[str] = Counter()
        seen: Counter[str] = Counter()
        for words in raw:
            for word in words[1:]:
                form = normalise_word(word)
                if form in known and word[:1].isalpha():
                    seen[form] += 1
                    upper[form] += word[:1].isupper()
        out = {}
        for form, n in seen.items():
            if n >= self.min_count:
                share = upper[form] / n
                out[form] = 0 if share < 0.1 else 1 if share < 0.5 else 2 if share < 0.9 else 3
        return out

    def features(self, word: str) -> list[str]:
        """``["c<k>=<id>", ...]`` for each size, or ``[]`` for a word it did not learn."""
        if not hasattr(self, "clusters_"):
            raise ValidationError("WordClusters is not fitted: call fit(texts) first")
        form = normalise_word(word)
        ids = self.clusters_.get(form)
        if ids is None:
            return []
        out = [f"c{k}={i}" for k, i in zip(self.sizes_, ids, strict=True)]
        share = getattr(self, "capitals_", {}).get(form)
        if share is not None:
            out.append(f"upper_share={share}")
        return out
