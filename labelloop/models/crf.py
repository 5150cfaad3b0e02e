"""The built-in entity model: a linear-chain CRF on python-crfsuite (the ``[ner]`` extra).

:class:`CrfTagger` learns tag sequences (BIO or BIOES) from tokens with the standard
hand-made token features of :func:`token_features` (the word, its shape, affixes and
flags, and the same for its neighbours). It keeps these rules:

1. python-crfsuite is imported only when a tagger is trained or loaded; without it the
   error says which extra to install.
2. The trained model lives in memory as the bytes crfsuite wrote (``model_bytes_``), so a
   tagger pickles and copies without a file beside it.
3. Every sentence has at least one token; training tags must be well-formed in the scheme
   (the error names the sentence and the tag).

:meth:`CrfTagger.predict_marginals` gives what the sequence scores of
:mod:`labelloop.strategies.sequence` take: the best tags, their log-probability, and each
token's marginal probability of every tag.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from labelloop.exceptions import ValidationError
from labelloop.ner.spans import Span, TagScheme, tags_to_spans
from labelloop.ner.tokens import Token
from labelloop.strategies.sequence import mnlp, sequence_least_confidence, token_entropy

if TYPE_CHECKING:
    from labelloop.models.word_clusters import WordClusters

__all__ = ["SEQUENCE_SCORES", "CrfTagger", "SequencePrediction", "token_features"]

#: The informativeness methods :meth:`CrfTagger.informativeness` accepts.
SEQUENCE_SCORES: tuple[str, ...] = (
    "least_confidence",
    "mnlp",
    "token_entropy_mean",
    "token_entropy_max",
    "token_entropy_sum",
)


def _pycrfsuite() -> Any:
    try:
        import pycrfsuite
    except ImportError as exc:
        raise ImportError(
            "the CRF entity model needs python-crfsuite: pip install 'labelloop[ner]'"
        ) from exc
    return pycrfsuite


#: Cluster features of the neighbouring words (the coarsest granularities first).
NEIGHBOUR_CLUSTERS = 2

_DIGITS = re.compile(r"\d")
_UPPER = re.compile(r"[A-Z]")
_LOWER = re.compile(r"[a-z]")


def _word_features(word: str) -> list[str]:
    """Features of one word on its own; the same word always gives the same list."""
    lower = word.lower()
    shape = _LOWER.sub("x", _UPPER.sub("X", _DIGITS.sub("d", word)))
    short_shape = re.sub(r"(.)\1+", r"\1", shape)
    features = [
        "w=" + lower,
        "sh=" + short_shape,
        "p2=" + lower[:2],
        "p3=" + lower[:3],
        "s2=" + lower[-2:],
        "s3=" + lower[-3:],
    ]
    if word.istitle():
        features.append("title")
    if word.isupper():
        features.append("upper")
    if word.isdigit():
        features.append("digit")
    if word[:1] in "@#":
        features.append("mark=" + word[0])
    if lower.startswith(("http://", "https://", "www.")):
        features.append("url")
    if not any(c.isalnum() for c in word):
        features.append("punct")
    return features


def token_features(
    words: Sequence[str],
    *,
    cache: dict[str, list[str]] | None = None,
    clusters: WordClusters | None = None,
) -> list[list[str]]:
    """The CRF features of each word of one sentence.

    Each word gets a bias, its lowercase form, its collapsed shape (``Xxx`` -> ``Xx``),
    2- and 3-letter prefixes and suffixes, title/upper/digit/punctuation/URL/@/# flags,
    and the lowercase form, shape and title flag of the words on either side (or
    ``BOS``/``EOS`` at the ends).

    Parameters
    ----------
    words : sequence of str
        The tokens of one sentence.
    cache : dict, optional
        Word-level features already computed, filled as a side effect (words repeat);
        one cache per ``clusters``.
    clusters : WordClusters, optional
        Learned word clusters: each word also gets its cluster id at every granularity,
        and the words on either side their ids at the coarsest ones (see
        :class:`~labelloop.models.word_clusters.WordClusters`).

    Examples
    --------
    >>> token_features(["Hi", "Bob"])[1][:4]
    ['bias', 'w=bob', 'sh=Xx', 'p2=bo']
    """
    local = cache if cache is not None else {}
    own = []
    grouped: list[list[str]] = []
    for word in words:
        features = local.get(word)
        if features is None:
            features = _word_features(word)
            if clusters is not None:
                features += clusters.features(word)
            local[word] = features
        own.append(features)
        grouped.append(
            # Cluster features are the only ones named "c<k>=...", coarsest first.
            [f for f in features if f.startswith("c")][:NEIGHBOUR_CLUSTERS]
            if clusters is not None
            else []
        )
    sentence = []
    last = len(words) - 1
    for i, features in enumerate(own):
        row = ["bias", *features]
        if i == 0:
            row.append("BOS")
        else:
            before = own[i - 1]
            row.extend(("-1" + before[0], "-1" + before[1]))
            row.extend("-1" + f for f in grouped[i - 1])
        if i == last:
            row.append("EOS")
        else:
            after = own[i + 1]
            row.extend(("+1" + after[0], "+1" + after[1]))
            row.extend("+1" + f for f in grouped[i + 1])
        sentence.append(row)
    return sentence


class SequencePrediction(NamedTuple):
    """A tagger's view of many sentences, in the layout of the sequence scores.

    Attributes
    ----------
    tags : list of list of str
        The best tag sequence of each sentence.
    log_proba : ndarray of shape (n_sentences,)
        Natural log of the best sequence's probability.
    marginals : ndarray of shape (n_tokens_total, n_tags) or None
        Each token's probability of each tag in ``labels`` order, sentences one after the
        other; None when not asked for.
    lengths : ndarray of shape (n_sentences,)
        Tokens per sentence.
    labels : list of str
        The tags, in the column order of ``marginals``.
    """

    tags: list[list[str]]
    log_proba: np.ndarray
    marginals: np.ndarray | None
    lengths: np.ndarray
    labels: list[str]


def _words(sentences: Any, name: str = "tokens") -> list[list[str]]:
    if isinstance(sentences, str) or not isinstance(sentences, Sequence):
        raise ValidationError(
            f"{name} must be a list of sentences, each a list of tokens", field=name
        )
    checked = []
    for i, sentence in enumerate(sentences):
        if isinstance(sentence, str) or not isinstance(sentence, Sequence) or not sentence:
            raise ValidationError(
                f"{name}[{i}] must be a non-empty list of tokens", field=f"{name}.{i}"
            )
        words = [t.text if isinstance(t, Token) else t for t in sentence]
        for j, word in enumerate(words):
            if not isinstance(word, str) or not word:
                raise ValidationError(
                    f"{name}[{i}][{j}] must be a non-empty string, got {word!r}",
                    field=f"{name}.{i}.{j}",
                )
        checked.append(words)
    if not checked:
        raise ValidationError(f"{name} is empty", field=name)
    return checked


class CrfTagger:
    """A linear-chain CRF over token features, trained with L-BFGS (elastic-net penalty).

    Parameters
    ----------
    scheme : {"BIO", "BIOES"}, default="BIO"
        The tags it learns and predicts.
    c1, c2 : float, default=0.05, 0.05
        L1 and L2 penalty weights.
    max_iterations : int, default=100
        L-BFGS iterations.
    word_clusters : WordClusters, optional
        Word clusters learned from unlabelled text, given to every token as features
        (see :meth:`fit_representations`); None uses the hand-made features only.

    Attributes
    ----------
    model_bytes_ : bytes
        The trained crfsuite model.
    labels_ : list of str
        The tags seen in training.

    Examples
    --------
    >>> tagger = CrfTagger(max_iterations=20).fit(
    ...     [["Alice", "met", "Bob"], ["Bob", "left"]],
    ...     [["B-PER", "O", "B-PER"], ["B-PER", "O"]],
    ... )
    >>> tagger.predict([["Alice", "left"]])
    [['B-PER', 'O']]
    """

    def __init__(
        self,
        *,
        scheme: TagScheme = "BIO",
        c1: float = 0.05,
        c2: float = 0.05,
        max_iterations: int = 100,
        word_clusters: WordClusters | None = None,
    ) -> None:
        self.scheme = scheme
        self.c1 = c1
        self.c2 = c2
        self.max_iterations = max_iterations
        self.word_clusters = word_clusters

    def fit_representations(self, texts: Any, **options: Any) -> CrfTagger:
        """Learn word clusters from unlabelled sentences and use them from the next fit.

        ``texts`` are sentences (strings or token lists), typically the whole pool,
        labelled or not; ``options`` go to
        :class:`~labelloop.models.word_clusters.WordClusters`. Returns ``self``. A tagger
        already fitted keeps predicting with its old features until it is fitted again.
        """
        from labelloop.models.word_clusters import WordClusters

        self.word_clusters = WordClusters(**options).fit(texts)
        return self

    def _features(self, sentence: Sequence[str], cache: dict[str, list[str]]) -> list[list[str]]:
        return token_features(sentence, cache=cache, clusters=self._clusters_in_use())

    def _prepared(self, words: list[list[str]], clusters: WordClusters | None) -> None:
        # Embedding clusters embed a batch's new words in one pass (WordClusters rule 6).
        if clusters is not None and hasattr(clusters, "prepare"):
            clusters.prepare(w for sentence in words for w in sentence)

    def _clusters_in_use(self) -> WordClusters | None:
        # A fitted model predicts with the clusters it was trained with.
        if hasattr(self, "model_bytes_"):
            return getattr(self, "clusters_", None)
        return self.word_clusters

    def fit(self, tokens: Sequence[Sequence[Any]], tags: Sequence[Sequence[str]]) -> CrfTagger:
        """Train on sentences of tokens (str or Token) and their tags; returns ``self``."""
        words = _words(tokens)
        if isinstance(tags, str) or len(tags) != len(words):
            raise ValidationError(
                f"tags must hold one tag list per sentence ({len(words)})", field="tags"
            )
        for i, (sentence, sequence) in enumerate(zip(words, tags, strict=True)):
            if len(sequence) != len(sentence):
                raise ValidationError(
                    f"sentence {i} has {len(sentence)} tokens but {len(sequence)} tags",
                    field=f"tags.{i}",
                )
            placeholders = [Token(w, 0, 1) for w in sentence]
            tags_to_spans(list(sequence), placeholders, scheme=self.scheme, item=i)
        crfsuite = _pycrfsuite()
        trainer = crfsuite.Trainer(verbose=False)
        cache: dict[str, list[str]] = {}
        clusters = self.word_clusters
        self._prepared(words, clusters)
        for sentence, sequence in zip(words, tags, strict=True):
            trainer.append(token_features(sentence, cache=cache, clusters=clusters), list(sequence))
        trainer.set_params(
            {
                "c1": float(self.c1),
                "c2": float(self.c2),
                "max_iterations": int(self.max_iterations),
                "feature.possible_transitions": True,
            }
        )
        handle, path = tempfile.mkstemp(suffix=".crfsuite")
        os.close(handle)
        try:
            trainer.train(path)
            with open(path, "rb") as model_file:
                self.model_bytes_ = model_file.read()
        finally:
            os.unlink(path)
        self._tagger = None
        self.clusters_ = clusters
        self.labels_ = list(self._open().labels())
        return self

    def _open(self) -> Any:
        if not hasattr(self, "model_bytes_"):
            raise ValidationError("CrfTagger is not fitted: call fit(tokens, tags) first")
        if getattr(self, "_tagger", None) is None:
            tagger = _pycrfsuite().Tagger()
            tagger.open_inmemory(self.model_bytes_)
            self._tagger = tagger
        return self._tagger

    def __getstate__(self) -> dict[str, Any]:
        # The crfsuite tagger is a C object; it is reopened from model_bytes_ on demand.
        return {k: v for k, v in self.__dict__.items() if k != "_tagger"}

    def predict(self, tokens: Sequence[Sequence[Any]]) -> list[list[str]]:
        """The best tag sequence of each sentence."""
        tagger = self._open()
        cache: dict[str, list[str]] = {}
        words = _words(tokens)
        self._prepared(words, self._clusters_in_use())
        return [tagger.tag(self._features(s, cache)) for s in words]

    def predict_marginals(
        self, tokens: Sequence[Sequence[Any]], *, marginals: bool = True
    ) -> SequencePrediction:
        """Best tags, their log-probability and (if asked) every token's tag marginals."""
        words = _words(tokens)
        tagger = self._open()
        self._prepared(words, self._clusters_in_use())
        labels = list(tagger.labels())
        cache: dict[str, list[str]] = {}
        best: list[list[str]] = []
        log_proba = np.empty(len(words))
        rows: list[list[float]] = []
        marginal = tagger.marginal
        for i, sentence in enumerate(words):
            tagger.set(self._features(sentence, cache))
            sequence = tagger.tag()
            best.append(sequence)
            log_proba[i] = np.log(max(tagger.probability(sequence), 1e-300))
            if marginals:
                rows.extend([marginal(label, t) for label in labels] for t in range(len(sentence)))
        matrix = None
        if marginals:
            matrix = np.asarray(rows, dtype=np.float64)
            # crfsuite's marginals drift from 1 by rounding; the scores want true rows.
            matrix /= matrix.sum(axis=1, keepdims=True)
        lengths = np.fromiter((len(s) for s in words), dtype=np.intp, count=len(words))
        return SequencePrediction(best, np.minimum(log_proba, 0.0), matrix, lengths, labels)

    def informativeness(
        self, tokens: Sequence[Sequence[Any]], *, method: str = "mnlp"
    ) -> np.ndarray:
        """Each sentence's score under ``method`` (one of `SEQUENCE_SCORES`); higher = ask first."""
        if method not in SEQUENCE_SCORES:
            raise ValidationError(
                f"method must be one of {list(SEQUENCE_SCORES)}, got {method!r}", field="method"
            )
        needs_marginals = method.startswith("token_entropy")
        prediction = self.predict_marginals(tokens, marginals=needs_marginals)
        if method == "mnlp":
            return mnlp(prediction.log_proba, prediction.lengths)
        if method == "least_confidence":
            return sequence_least_confidence(prediction.log_proba)
        aggregate = method.rsplit("_", 1)[1]
        return token_entropy(prediction.marginals, prediction.lengths, aggregate=aggregate)

    def predict_spans(self, tokens: Sequence[Sequence[Token]]) -> list[list[dict[str, Any]]]:
        """Each sentence's entities as ``{start, end, label, score}`` at the tokens' offsets.

        ``tokens`` must carry offsets (:class:`~labelloop.ner.tokens.Token`). A span's
        ``score`` is the smallest marginal probability of its own tags, so a span the
        model is unsure about anywhere scores low.
        """
        for i, sentence in enumerate(tokens):
            if not all(isinstance(t, Token) for t in sentence):
                raise ValidationError(
                    f"tokens[{i}] must be Token objects with offsets (see labelloop.ner.tokenize)",
                    field=f"tokens.{i}",
                )
        prediction = self.predict_marginals(tokens)
        column = {label: j for j, label in enumerate(prediction.labels)}
        out = []
        offset = 0
        for sentence, tags in zip(tokens, prediction.tags, strict=True):
            rows = prediction.marginals[offset : offset + len(sentence)]
            position = {token.start: k for k, token in enumerate(sentence)}
            spans = []
            for span in tags_to_spans(tags, sentence, scheme=self.scheme, strict=False):
                first = position[span.start]
                last = first
                while sentence[last].end < span.end:
                    last += 1
                probs = [rows[k, column[tags[k]]] for k in range(first, last + 1)]
                spans.append({**Span.as_dict(span), "score": float(min(probs))})
            out.append(spans)
            offset += len(sentence)
        return out
