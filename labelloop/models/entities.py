"""The built-in model of an entity (``ner``) project: tokens, BIO tags and a CRF.

:class:`EntityModel` wraps :class:`labelloop.models.crf.CrfTagger` with what a project
needs around it: its tokenizer (a regular expression, :class:`labelloop.ner.RegexTokenizer`)
and its texts and spans in and out. It keeps these rules:

1. An item's tokens are its text's under the project's token pattern; labelling cost is
   counted in them (`EntityPredictions.n_tokens`).
2. Training tags are BIO: a token is inside a span when it shares a character with it, so
   a span that starts or ends inside a token still teaches the tokens it touches.
3. One pass of the CRF per item gives both its spans and its informativeness: a span's
   ``score`` is the smallest marginal probability of its own tags (a span the model is
   unsure about anywhere scores low, as `CrfTagger.predict_spans` does), and the item's
   informativeness is the sentence score named by ``method``
   (`labelloop.models.crf.SEQUENCE_SCORES`).
4. An item without tokens (an empty text) has no spans and informativeness 0: there is
   nothing in it to label.
5. Word clusters (:class:`labelloop.models.word_clusters.WordClusters`) learned from the
   project's own texts, under the project's tokenizer, are CRF features from the next
   :meth:`EntityModel.fit` on (:meth:`EntityModel.fit_representations`); they are saved
   inside the model, so scoring, suggestions and the next round use the same ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from labelloop.exceptions import ValidationError
from labelloop.models.crf import SEQUENCE_SCORES, CrfTagger
from labelloop.models.word_clusters import WordClusters
from labelloop.ner.spans import check_spans, tags_to_spans
from labelloop.ner.tokens import DEFAULT_TOKEN_PATTERN, RegexTokenizer, Token
from labelloop.strategies.sequence import mnlp, sequence_least_confidence, token_entropy

__all__ = ["EntityModel", "EntityPredictions", "bio_tags"]


class EntityPredictions(NamedTuple):
    """What an entity model says of many items, in their order.

    Attributes
    ----------
    spans : list of list of dict
        Each item's predicted spans ``{start, end, label, score}`` (score in [0, 1]).
    informativeness : ndarray of shape (n_items,)
        Each item's sentence score (higher: ask first); 0 for an item without tokens.
    n_tokens : ndarray of int, shape (n_items,)
        Each item's tokens: what labelling it costs.
    """

    spans: list[list[dict[str, Any]]]
    informativeness: np.ndarray
    n_tokens: np.ndarray


def bio_tags(spans: Sequence[Mapping[str, Any]], tokens: Sequence[Token]) -> list[str]:
    """BIO tags of ``tokens`` for ``spans`` (rule 2: a token touching a span is in it).

    Examples
    --------
    >>> from labelloop.ner import tokenize
    >>> bio_tags([{"start": 0, "end": 6, "label": "LOC"}], tokenize("New York rocks"))
    ['B-LOC', 'I-LOC', 'O']
    """
    tags = ["O"] * len(tokens)
    for span in sorted(spans, key=lambda s: s["start"]):
        inside = [
            i for i, t in enumerate(tokens) if t.start < span["end"] and span["start"] < t.end
        ]
        for rank, i in enumerate(inside):
            tags[i] = ("B-" if rank == 0 else "I-") + span["label"]
    return tags


class EntityModel:
    """An entity project's model: its tokenizer and a CRF over BIO tags.

    Parameters
    ----------
    labels : sequence of str
        The project's entity types.
    token_pattern : str, default=DEFAULT_TOKEN_PATTERN
        The regular expression a token matches (`labelloop.ner.RegexTokenizer`).
    text_field : str, default="text"
        The item payload's field that holds the text.
    c1, c2 : float, default=0.05
        The CRF's L1 and L2 penalties.
    max_iterations : int, default=100
        The CRF's L-BFGS iterations.
    word_clusters : WordClusters, optional
        Word clusters to give the CRF as features (rule 5), fitted already; see
        :meth:`fit_representations` to learn them from texts.

    Examples
    --------
    >>> model = EntityModel(["PER"], max_iterations=20).fit(
    ...     ["Ann met Bob", "Bob left"],
    ...     [[{"start": 0, "end": 3, "label": "PER"}, {"start": 8, "end": 11, "label": "PER"}],
    ...      [{"start": 0, "end": 3, "label": "PER"}]],
    ... )
    >>> [s["label"] for s in model.predict(["Ann left"]).spans[0]]
    ['PER']
    """

    def __init__(
        self,
        labels: Sequence[str],
        *,
        token_pattern: str = DEFAULT_TOKEN_PATTERN,
        text_field: str = "text",
        c1: float = 0.05,
        c2: float = 0.05,
        max_iterations: int = 100,
        word_clusters: WordClusters | None = None,
    ) -> None:
        if word_clusters is not None and not hasattr(word_clusters, "clusters_"):
            raise ValidationError(
                "word_clusters must be fitted WordClusters", field="word_clusters"
            )
        self.labels = list(labels)
        self.token_pattern = token_pattern
        self.text_field = text_field
        self.c1 = c1
        self.c2 = c2
        self.max_iterations = max_iterations
        self.word_clusters = word_clusters
        self.params: dict[str, Any] = {
            "task_type": "ner",
            "featurizer": "RegexTokenizer",
            "token_pattern": token_pattern,
            "classifier": {
                "estimator": "labelloop.models.crf:CrfTagger",
                "params": {"scheme": "BIO", "c1": c1, "c2": c2, "max_iterations": max_iterations},
            },
        }

    def _describe_clusters(self) -> None:
        clusters = getattr(self, "word_clusters", None)
        if clusters is None:
            self.params.pop("word_clusters", None)
            return
        self.params["word_clusters"] = {
            "sizes": list(clusters.sizes_),
            "words": len(clusters.clusters_),
            "sentences": int(getattr(clusters, "n_sentences_", 0)),
        }
        if getattr(clusters, "embedding_ids_", None) is not None:
            self.params["word_clusters"]["word_vectors"] = {
                "model": clusters.embedding_model,
                "sizes": list(clusters.embedding_sizes_),
                "words": len(clusters.embedding_ids_),
            }

    def fit_representations(self, texts: Sequence[str], **options: Any) -> EntityModel:
        """Learn word clusters from texts (typically the project's items, labelled or not).

        The texts are tokenized as the model tokenizes items (rule 1); ``options`` go to
        :class:`~labelloop.models.word_clusters.WordClusters` (``random_state`` makes the
        clusters repeatable). They are features from the next :meth:`fit` on. Returns
        ``self``.

        Raises
        ------
        ValidationError
            ``texts`` hold fewer than two distinct words often enough to cluster
            (``field="texts"``), or an option is out of range.
        """
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise ValidationError("texts must be a list of strings", field="texts")
        sentences = [[t.text for t in self.tokens(text)] for text in texts]
        self.word_clusters = WordClusters(**options).fit([s for s in sentences if s])
        self._describe_clusters()
        return self

    def __getstate__(self) -> dict[str, Any]:
        # The compiled tokenizer is rebuilt from token_pattern on demand.
        return {k: v for k, v in self.__dict__.items() if k != "_tokenizer"}

    def tokens(self, text: Any) -> list[Token]:
        """The tokens of one item's text (rule 1); none for a missing or empty text."""
        if getattr(self, "_tokenizer", None) is None:
            self._tokenizer = RegexTokenizer(self.token_pattern)
        return self._tokenizer(text) if isinstance(text, str) else []

    def text_of(self, payload: Mapping[str, Any]) -> str:
        """The text of an item's payload (its ``text_field``), empty when it has none."""
        text = (payload or {}).get(self.text_field)
        return text if isinstance(text, str) else ""

    def fit(
        self, texts: Sequence[str], spans: Sequence[Sequence[Mapping[str, Any]]]
    ) -> EntityModel:
        """Train on texts and their spans (items without tokens are left out); ``self``."""
        if len(texts) != len(spans):
            raise ValidationError(f"{len(texts)} texts but {len(spans)} span lists", field="spans")
        sentences: list[list[Token]] = []
        tags: list[list[str]] = []
        for position, (text, item_spans) in enumerate(zip(texts, spans, strict=True)):
            checked = check_spans(item_spans or [], text=text, item=position)
            tokens = self.tokens(text)
            if tokens:
                sentences.append(tokens)
                tags.append(bio_tags([s.as_dict() for s in checked], tokens))
        if not sentences:
            raise ValidationError("no labelled item has any token to train on", field="spans")
        self.tagger_ = CrfTagger(
            scheme="BIO", c1=self.c1, c2=self.c2, max_iterations=self.max_iterations,
            word_clusters=getattr(self, "word_clusters", None),
        ).fit(sentences, tags)  # fmt: skip
        self._describe_clusters()
        return self

    def predict(self, texts: Sequence[str], *, method: str = "mnlp") -> EntityPredictions:
        """Spans with scores, informativeness under ``method`` and token counts (rule 3)."""
        if method not in SEQUENCE_SCORES:
            raise ValidationError(
                f"method must be one of {list(SEQUENCE_SCORES)}, got {method!r}", field="method"
            )
        if not hasattr(self, "tagger_"):
            raise ValidationError("EntityModel is not fitted: call fit(texts, spans) first")
        tokenised = [self.tokens(text) for text in texts]
        n_tokens = np.fromiter((len(t) for t in tokenised), dtype=np.int64, count=len(texts))
        spans: list[list[dict[str, Any]]] = [[] for _ in texts]
        informativeness = np.zeros(len(texts))
        present = [i for i, t in enumerate(tokenised) if t]
        if not present:
            return EntityPredictions(spans, informativeness, n_tokens)
        sentences = [tokenised[i] for i in present]
        prediction = self.tagger_.predict_marginals(sentences)
        if method == "mnlp":
            scores = mnlp(prediction.log_proba, prediction.lengths)
        elif method == "least_confidence":
            scores = sequence_least_confidence(prediction.log_proba)
        else:
            aggregate = method.rsplit("_", 1)[1]
            scores = token_entropy(prediction.marginals, prediction.lengths, aggregate=aggregate)
        informativeness[present] = scores
        column = {tag: j for j, tag in enumerate(prediction.labels)}
        offset = 0
        for i, sentence, tags in zip(present, sentences, prediction.tags, strict=True):
            rows = prediction.marginals[offset : offset + len(sentence)]
            offset += len(sentence)
            first_token = {token.start: k for k, token in enumerate(sentence)}
            for span in tags_to_spans(tags, sentence, scheme="BIO", strict=False):
                first = last = first_token[span.start]
                while sentence[last].end < span.end:
                    last += 1
                confidence = min(rows[k, column[tags[k]]] for k in range(first, last + 1))
                spans[i].append({**span.as_dict(), "score": round(float(confidence), 6)})
        return EntityPredictions(spans, informativeness, n_tokens)
