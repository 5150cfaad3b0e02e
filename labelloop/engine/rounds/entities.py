"""A round of an entity (``ner``) project: a CRF on the spans, sentences scored, tokens counted.

`training.train` hands an entity project's round here. The steps, and what a failure
part-way leaves, are those of every round (`training`'s notes); what differs:

1. The model is `labelloop.models.entities.EntityModel` (the CRF of the ``[ner]`` extra
   over the project's tokens, BIO tags), trained on the final spans of the labelled
   items. Without python-crfsuite the round fails before anything is written, naming the
   extra. With fewer than two labelled items, or no span among them, nothing is fitted:
   a cold start, the pool in a random order seeded by the round's number.
2. Every evaluation and pool item gets a prediction: ``structure`` holds its predicted
   spans ``{start, end, label, score}`` (score: the smallest marginal of the span's own
   tags), ``probabilities`` is empty, and ``score`` is its informativeness under the
   project's ``ner_score`` setting (MNLP by default), the project's uncertainty scale:
   the queue places items by it as it does every project's.
3. The evaluation metrics are exact-match span precision, recall and F1 over the
   labelled evaluation items (``eval``: ``precision``, ``recall``, ``f1``, ``n``), and
   stabilising predictions compares the spans this model and the one before predict
   for the evaluation items.
4. Cost is counted in tokens too: with the ``batch_tokens`` setting above 0 the batch is
   the most informative items whose tokens fit in it
   (`labelloop.strategies.sequence.top_within_budget`; an item costs at least one
   token; when not even the best item fits, it alone is the batch), else it is the
   ``batch_size`` most informative items. With ``ner_distinct_batches`` (the default)
   the pick is `labelloop.strategies.sequence.distinct_top_within_budget` instead: an
   item whose words overlap one already in the batch by more than 60% waits while others
   fill it (near-duplicate tweets teach the CRF the same thing twice). It reads the
   words of the best items only, those whose tokens add up to `DISTINCT_WINDOW` times
   the batch (items with ``batch_tokens`` at 0), so the pool is never held in memory.
   The round's metrics say ``tokens_selected``, ``pool_tokens``, ``batch_tokens`` and
   ``distinct_batch`` (how many items waited).
5. The pool is read and scored in pages (`inputs.item_chunks`), each page's predictions
   written as it goes; between pages only ids, scores and token counts are held. Entity
   rounds score in this process: a Dask scheduler named for the round is noted in the
   metrics (``dask_skipped``), not used.
6. With ``ner_word_clusters`` (the default) the CRF also gets word clusters learned from
   the project's own texts (every non-evaluation item, labelled or not, at most
   `MAX_CLUSTER_TEXTS` of them evenly spread; evaluation texts never, so the span F1
   stays honest), with the project's tokenizer and a fixed seed, so the same texts give
   the same clusters. They are saved inside the model artifact; the next round reuses
   the previous model's clusters unless the texts grew by more than `REFIT_GROWTH`
   (or the tokenizer or text field changed), so most rounds learn nothing new. Texts too
   few or too repetitive to cluster leave the CRF without them. The metrics say
   ``word_clusters``: ``words``, ``sentences``, ``refit``.
7. With ``ner_word_vectors`` (the default) as well, the clusters also group every word
   by the vector the `WORD_VECTOR_MODEL` gives it on its own (the ``[embeddings]``
   extra; `labelloop.models.word_clusters` rule 6), which places the rare words a
   project's own text cannot. Without the extra, or when the model cannot be loaded,
   the round learns context clusters only and its metrics say why
   (``word_clusters.word_vectors_skipped``); turning the setting on or off learns the
   clusters again at the next round.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import select

from labelloop.engine.core.project import resolve_project
from labelloop.engine.rounds.inputs import (
    IN_BATCH,
    ProjectSnapshot,
    annotation_ids,
    count_pool,
    item_chunks,
    read_labelled,
    snapshot_project,
)
from labelloop.engine.rounds.priorities import write_priorities
from labelloop.engine.rounds.record import RoundInfo, write_round
from labelloop.engine.rounds.scoring import (
    CHUNK_SIZE,
    Progress,
    ScoredPool,
    delete_predictions,
    drop_stale_predictions,
)
from labelloop.engine.rounds.status import stopping_metrics
from labelloop.engine.rounds.versions import (
    TrainedVersions,
    discard_versions,
    write_model_version,
)
from labelloop.exceptions import ValidationError
from labelloop.models.text import DEFAULT_EMBEDDING_MODEL
from labelloop.ner import span_f1
from labelloop.store.db import Database
from labelloop.store.tables import ItemRow, ModelVersionRow, PredictionRow, RoundRow, utcnow
from labelloop.store.writes import WritePacer, driver_value, insert_many

__all__ = [
    "CRF_EXTRA_MESSAGE",
    "DISTINCT_WINDOW",
    "MAX_CLUSTER_TEXTS",
    "REFIT_GROWTH",
    "WORD_VECTOR_MODEL",
    "score_entity_chunk",
    "train_entities",
    "write_entity_predictions",
]

#: Rule 4: the distinct pick looks at the best items worth this many batches.
DISTINCT_WINDOW = 4
#: Rule 6: the most item texts word clusters are learned from.
MAX_CLUSTER_TEXTS = 20_000
#: Rule 6: word clusters are learned again once the texts outgrow theirs by this share.
REFIT_GROWTH = 0.25
#: Rule 6: the seed of the word clusters (the same texts, the same clusters).
CLUSTER_SEED = 0
#: Rule 7: the model that gives each word its vector.
WORD_VECTOR_MODEL = DEFAULT_EMBEDDING_MODEL

CRF_EXTRA_MESSAGE = (
    "an entity project's rounds train a CRF, which needs python-crfsuite: "
    "pip install 'labelloop[ner]'"
)

_COLUMNS = (
    "project_id",
    "item_id",
    "model_version_id",
    "probabilities",
    "score",
    "structure",
    "created_at",
)
_MODEL_KEYS = ("token_pattern", "text_field", "c1", "c2", "max_iterations")


def _require_crfsuite() -> None:
    try:
        import pycrfsuite  # noqa: F401
    except ImportError:
        raise ValidationError(CRF_EXTRA_MESSAGE, field="model") from None


def _entity_model(project: ProjectSnapshot) -> Any:
    """The project's unfitted entity model; a mapping ``model`` setting may tune it."""
    from labelloop.models.entities import EntityModel

    spec = project.settings.get("model")
    options = {k: spec[k] for k in _MODEL_KEYS if k in spec} if isinstance(spec, dict) else {}
    try:
        return EntityModel(project.labels, **options)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"the model setting does not fit an entity project: {exc}",
                              field="model") from exc  # fmt: skip


def _span_key(spans: Sequence[dict[str, Any]] | None) -> str:
    """One comparable value for an item's spans (stabilising predictions)."""
    return json.dumps(sorted((s["start"], s["end"], s["label"]) for s in spans or ()))


def write_entity_predictions(
    pacer: WritePacer,
    project_id: int,
    model_version_id: int,
    item_ids: Sequence[int],
    spans: Sequence[list[dict[str, Any]]],
    scores: np.ndarray,
) -> None:
    """Insert one page's predictions (rule 2), paced; the JSON built before any transaction."""
    rows = [
        (item_id, json.dumps(item_spans), float(score))
        for item_id, item_spans, score in zip(item_ids, spans, scores.tolist(), strict=True)
    ]
    created = PredictionRow.__table__.c.created_at.type

    def insert(session: Any, start: int, stop: int) -> None:
        connection = session.connection()
        now = driver_value(connection, created, utcnow())
        insert_many(
            connection,
            "predictions",
            _COLUMNS,
            [
                (project_id, item_id, model_version_id, "{}", score, structure, now)
                for item_id, structure, score in rows[start:stop]
            ],
        )

    pacer.write(len(rows), insert)


def score_entity_chunk(
    pacer: WritePacer,
    project: ProjectSnapshot,
    model: Any,
    model_version_id: int,
    item_ids: Sequence[int],
    payloads: Sequence[dict[str, Any]],
) -> Any:
    """Predict and write one page of items (rule 2); the `EntityPredictions`, in order."""
    measure = str(project.settings["ner_score"])
    predicted = model.predict([model.text_of(p) for p in payloads], method=measure)
    write_entity_predictions(
        pacer, project.id, model_version_id, item_ids, predicted.spans, predicted.informativeness
    )
    return predicted


def _previous_spans(db: Database, model_version_id: int, item_ids: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    with db.read() as session:
        for start in range(0, len(item_ids), IN_BATCH):
            rows = session.execute(
                select(PredictionRow.item_id, PredictionRow.structure).where(
                    PredictionRow.model_version_id == model_version_id,
                    PredictionRow.item_id.in_(item_ids[start : start + IN_BATCH]),
                )
            ).all()
            found.update((item_id, _span_key(structure)) for item_id, structure in rows)
    return found


def _score_eval_set(
    pacer: WritePacer,
    project: ProjectSnapshot,
    model: Any,
    model_version_id: int,
    previous_id: int | None,
    measure: str,
) -> tuple[list[str], list[str]]:
    """Predict every evaluation item; the spans the previous model and this one predict."""
    before: list[str] = []
    now: list[str] = []
    for chunk_ids, inputs in item_chunks(pacer.db, project.id, CHUNK_SIZE, is_eval=True):
        predicted = model.predict([model.text_of(i.payload) for i in inputs], method=measure)
        write_entity_predictions(
            pacer, project.id, model_version_id, chunk_ids, predicted.spans,
            predicted.informativeness,
        )  # fmt: skip
        if previous_id is None:
            continue
        previous = _previous_spans(pacer.db, previous_id, chunk_ids)
        for item_id, spans in zip(chunk_ids, predicted.spans, strict=True):
            if item_id in previous:
                before.append(previous[item_id])
                now.append(_span_key(spans))
    return before, now


def _pick(
    scores: np.ndarray,
    n_tokens: np.ndarray,
    *,
    batch_size: int,
    batch_tokens: int,
    seed: int,
    words: Callable[[np.ndarray], list[list[str]]] | None = None,
) -> np.ndarray:
    """Rule 4: the batch's positions in ``scores``, best first.

    ``words`` gives the tokens of items at given positions; with it the batch is picked
    without near-duplicates (`distinct_top_within_budget`) from the best items worth
    `DISTINCT_WINDOW` batches.
    """
    from labelloop.strategies import top_k
    from labelloop.strategies.sequence import distinct_top_within_budget, top_within_budget

    if scores.size == 0:
        return np.zeros(0, dtype=np.intp)
    if words is not None:
        costs = np.maximum(n_tokens, 1) if batch_tokens > 0 else np.ones(scores.size, np.int64)
        budget = batch_tokens if batch_tokens > 0 else min(batch_size, scores.size)
        order = np.argsort(-scores, kind="stable")
        reach = np.cumsum(costs[order])
        window = order[: int(np.searchsorted(reach, DISTINCT_WINDOW * budget)) + 1]
        local = distinct_top_within_budget(
            scores[window], costs[window], words(window), budget=budget, random_state=seed
        )
        picked = window[local]
    elif batch_tokens > 0:
        costs = np.maximum(n_tokens, 1)
        picked = top_within_budget(scores, costs, budget=batch_tokens, random_state=seed)
    else:
        return top_k(scores, min(batch_size, scores.size), random_state=seed)
    if picked.size == 0:
        picked = top_k(scores, 1, random_state=seed)
    return picked


def _item_words(
    db: Database, model: Any, item_ids: np.ndarray
) -> Callable[[np.ndarray], list[list[str]]]:
    """Rule 4: a reader of the tokens of the items at given positions of ``item_ids``."""

    def read(positions: np.ndarray) -> list[list[str]]:
        wanted = [int(item_ids[i]) for i in positions.tolist()]
        payloads: dict[int, Any] = {}
        with db.read() as session:
            for start in range(0, len(wanted), IN_BATCH):
                rows = session.execute(
                    select(ItemRow.id, ItemRow.payload).where(
                        ItemRow.id.in_(wanted[start : start + IN_BATCH])
                    )
                ).all()
                payloads.update((r.id, r.payload) for r in rows)
        return [
            [t.text for t in model.tokens(model.text_of(payloads.get(i) or {}))] for i in wanted
        ]

    return read


def _word_vector_model(wanted: bool) -> tuple[str | None, str | None]:
    """Rule 7: the model to embed words with, or None and why not."""
    if not wanted:
        return None, None
    import importlib.util

    missing = [
        name
        for name in ("sentence_transformers", WORD_VECTOR_MODEL.replace("-", "_"))
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        return None, "the [embeddings] extra is not installed (pip install 'labelloop[embeddings]')"
    return WORD_VECTOR_MODEL, None


def _clusters_to_reuse(
    db: Database, project_id: int, model: Any, n_texts: int, vectors: str | None
) -> tuple[Any, int] | None:
    """Rule 6: the previous model's word clusters and the texts they were learned from
    then, if they still fit the texts."""
    from labelloop.engine.core.artifacts import load_project_model
    from labelloop.exceptions import NotFoundError

    with db.read() as session:
        params = session.execute(
            select(ModelVersionRow.params)
            .where(ModelVersionRow.project_id == project_id, ModelVersionRow.kind == "builtin")
            .order_by(ModelVersionRow.version.desc())
        ).scalar()
    learned = (params or {}).get("word_clusters")
    if not isinstance(learned, dict) or not isinstance(learned.get("texts"), int):
        return None
    if n_texts > (1 + REFIT_GROWTH) * learned["texts"]:
        return None
    try:
        _, previous = load_project_model(db, project_id)
    except (NotFoundError, ValidationError):
        return None  # a missing or modified artifact: learn them again
    same_tokens = (
        getattr(previous, "token_pattern", None) == model.token_pattern
        and getattr(previous, "text_field", None) == model.text_field
    )
    clusters = getattr(previous, "word_clusters", None)
    if not (same_tokens and hasattr(clusters, "clusters_")):
        return None
    if getattr(clusters, "embedding_model", None) != vectors:
        return None  # rule 7: word vectors turned on or off
    return clusters, learned["texts"]


def _learn_clusters(
    db: Database,
    project_id: int,
    model: Any,
    train_texts: list[str],
    pool_size: int,
    *,
    word_vectors: bool,
) -> dict[str, Any]:
    """Rules 6 and 7: give ``model`` word clusters (reused or learned); the metrics'
    summary."""
    n_texts = len(train_texts) + pool_size
    vectors, why_not = _word_vector_model(word_vectors)
    note = {"word_vectors_skipped": why_not} if why_not else {}
    reused = _clusters_to_reuse(db, project_id, model, n_texts, vectors)
    if reused is not None:
        model.word_clusters, learned_from = reused
        return {"refit": False, "texts": learned_from, **note}
    stride = max(1, -(-n_texts // MAX_CLUSTER_TEXTS))
    texts = train_texts[::stride]
    position = len(train_texts)
    for _, inputs in item_chunks(db, project_id, CHUNK_SIZE, is_eval=False):
        for item in inputs:
            if position % stride == 0:
                texts.append(model.text_of(item.payload))
            position += 1
    try:
        if vectors is not None:
            try:
                model.fit_representations(texts, random_state=CLUSTER_SEED, embedding_model=vectors)
                return {"refit": True, "texts": n_texts}
            except (ImportError, OSError, RuntimeError) as exc:
                # Rule 7: a model that cannot be loaded leaves the context clusters.
                note = {"word_vectors_skipped": f"{vectors} could not be used: {exc}"}
        model.fit_representations(texts, random_state=CLUSTER_SEED)
    except ValidationError:
        model.word_clusters = None  # too few repeated words to cluster: rule 6
        return {"refit": True, "texts": n_texts, "skipped": "too few repeated words", **note}
    return {"refit": True, "texts": n_texts, **note}


def _score_pool(
    pacer: WritePacer,
    project: ProjectSnapshot,
    model: Any,
    model_version_id: int | None,
    *,
    measure: str,
    seed: int,
    pool_size: int,
    progress: Progress | None,
) -> tuple[ScoredPool, dict[str, int]]:
    """Score the pool page by page (rules 2 and 5) and pick the batch (rule 4)."""
    fitted = model_version_id is not None
    ids: list[np.ndarray] = []
    informative: list[np.ndarray] = []
    tokens: list[np.ndarray] = []
    done = 0
    for chunk_ids, inputs in item_chunks(pacer.db, project.id, CHUNK_SIZE, is_eval=False):
        if fitted:
            payloads = [i.payload for i in inputs]
            predicted = score_entity_chunk(
                pacer, project, model, model_version_id, chunk_ids, payloads
            )
            informative.append(predicted.informativeness)
            tokens.append(predicted.n_tokens)
        else:
            texts = (model.text_of(i.payload) for i in inputs)
            tokens.append(np.fromiter((len(model.tokens(t)) for t in texts), dtype=np.int64))
        ids.append(np.asarray(chunk_ids, dtype=np.int64))
        done += len(chunk_ids)
        if progress:
            progress("score", done, pool_size)
    item_ids = np.concatenate(ids) if ids else np.zeros(0, np.int64)
    n_tokens = np.concatenate(tokens) if tokens else np.zeros(0, np.int64)
    uncertainty = np.concatenate(informative) if fitted and informative else None
    if fitted and uncertainty is None:
        uncertainty = np.zeros(0)
    rng = np.random.default_rng(seed)
    scores = uncertainty if uncertainty is not None else rng.random(item_ids.size)
    batch_tokens = int(project.settings["batch_tokens"])
    distinct = bool(project.settings["ner_distinct_batches"])
    words = _item_words(pacer.db, model, item_ids) if distinct else None
    picked = _pick(scores, n_tokens, batch_size=int(project.settings["batch_size"]),
                   batch_tokens=batch_tokens, seed=seed, words=words)  # fmt: skip
    if fitted:
        reasons = [
            f"{measure.replace('_', ' ')} {scores[i]:.3f} ({int(n_tokens[i])} tokens)"
            for i in picked.tolist()
        ]
    else:
        reasons = ["cold start: no entity model yet, a random pick"] * int(picked.size)
    scored = ScoredPool(
        item_ids=item_ids,
        scores=np.asarray(scores, dtype=np.float64),
        uncertainty=uncertainty,
        max_uncertainty=float(uncertainty.max())
        if uncertainty is not None and uncertainty.size
        else None,
        measure=measure,
        batch_ids=[int(item_ids[i]) for i in picked.tolist()],
        reasons=reasons,
        strategy=measure if fitted else "cold-start",
        state={},
    )
    counts = {
        "tokens_selected": int(n_tokens[picked].sum()) if picked.size else 0,
        "pool_tokens": int(n_tokens.sum()),
        "batch_tokens": batch_tokens,
        "distinct_batch": distinct,
    }
    return scored, counts


def train_entities(
    db: Database,
    *,
    actor: str,
    project: int | str,
    read_at: dt.datetime,
    progress: Progress | None = None,
    dask_skipped: bool = False,
) -> RoundInfo:
    """One round of an entity project (the module's rules); `training.train` calls it.

    ``dask_skipped``: a Dask scheduler was named; entity rounds score in this process,
    and the round's metrics say so (``dask_skipped``).

    Raises
    ------
    ValidationError
        The project has no items, or python-crfsuite is missing where a model is to be
        fitted (``field="model"``, naming the ``[ner]`` extra). Nothing is written.
    """
    with db.read() as session:
        proj = snapshot_project(resolve_project(session, project))
        train_set = read_labelled(session, proj.id, is_eval=False,
                                  auto_labels=bool(proj.settings["auto_label_train"]))  # fmt: skip
        eval_set = read_labelled(session, proj.id, is_eval=True)
        annotations = annotation_ids(session, proj.id, set(train_set.item_ids))
        pool_size = count_pool(session, proj.id)
        previous = session.execute(
            select(RoundRow.number, RoundRow.model_version_id)
            .where(RoundRow.project_id == proj.id)
            .order_by(RoundRow.number.desc())
        ).first()
    seed = previous.number + 1 if previous else 1
    previous_model_id = previous.model_version_id if previous else None
    if not (train_set.item_ids or pool_size):
        raise ValidationError(
            f"project {proj.name!r} has no items to train on: import some first", field="project"
        )
    measure = str(proj.settings["ner_score"])
    model = _entity_model(proj)
    texts = [model.text_of(i.payload) for i in train_set.inputs]
    fitted = len(texts) >= 2 and any(train_set.labels) and any(map(model.tokens, texts))
    metrics: dict[str, Any] = {"pool_size": pool_size, "n_eval_labelled": len(eval_set.labels)}
    if dask_skipped:
        metrics["dask_skipped"] = "entity rounds score the pool in process"
    if progress:
        progress("fit", 0, 1)
    if fitted:
        _require_crfsuite()
        if proj.settings["ner_word_clusters"]:
            learned = _learn_clusters(
                db, proj.id, model, texts, pool_size,
                word_vectors=bool(proj.settings["ner_word_vectors"]),
            )  # fmt: skip
        model.fit(texts, train_set.labels)
        if proj.settings["ner_word_clusters"]:
            summary = model.params.get("word_clusters")
            if summary is not None:
                # The texts the clusters were learned from: growth is measured from them.
                summary["texts"] = learned["texts"]
            metrics["word_clusters"] = {**(summary or {}), "refit": learned["refit"]} | {
                k: learned[k] for k in ("skipped", "word_vectors_skipped") if k in learned
            }
        if eval_set.item_ids:
            eval_texts = [model.text_of(i.payload) for i in eval_set.inputs]
            predicted = model.predict(eval_texts, method=measure).spans
            truth = [[(s["start"], s["end"], s["label"]) for s in spans or ()]
                     for spans in eval_set.labels]  # fmt: skip
            guess = [[(s["start"], s["end"], s["label"]) for s in spans] for spans in predicted]
            scores = span_f1(truth, guess)
            metrics["eval"] = {k: round(v, 6) for k, v in scores.items()} | {
                "n": len(eval_set.item_ids)
            }
    if progress:
        progress("fit", 1, 1)
    versions: TrainedVersions | None = None
    if fitted:
        versions = write_model_version(db, proj, actor=actor, model=model, seed=seed,
                                       train_set=train_set, annotations=annotations,
                                       metrics=metrics)  # fmt: skip
    try:
        pacer = WritePacer(db)
        before: list[str] = []
        now: list[str] = []
        model_version_id = versions.model_id if versions else None
        if model_version_id is not None:
            before, now = _score_eval_set(pacer, proj, model, model_version_id,
                                          previous_model_id, measure)  # fmt: skip
        scored, counts = _score_pool(pacer, proj, model, model_version_id, measure=measure,
                                     seed=seed, pool_size=pool_size, progress=progress)  # fmt: skip
        metrics.update(counts)
        metrics["strategy_state"] = {}
        if fitted:
            if scored.max_uncertainty is not None:
                metrics["max_uncertainty"] = round(scored.max_uncertainty, 6)
            metrics["stopping"] = stopping_metrics(before, now, None, measure=measure)
        priorities = scored.priorities()
        n_reprioritised = write_priorities(db, proj, scored, priorities, progress)
        info = write_round(db, proj, actor=actor, versions=versions, train_set=train_set,
                           annotations=annotations, scored=scored, priorities=priorities,
                           metrics=metrics, n_reprioritised=n_reprioritised,
                           read_at=read_at)  # fmt: skip
    except BaseException:
        if versions is not None:
            delete_predictions(db, versions.model_id, pool_only=False)
            discard_versions(db, proj.id, versions)
        raise
    if versions is not None:
        drop_stale_predictions(db, proj.id, {versions.model_id, previous_model_id})
    return info
