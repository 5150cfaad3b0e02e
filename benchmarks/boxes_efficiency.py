"""Box projects: label efficiency of the box informativeness aggregations against random,
and the throughput of pushing a detector's boxes.

Efficiency (``--part efficiency``)
----------------------------------
Data: a generated data set of images with shapes of four classes (disc, square,
triangle, bar; drawn with numpy by ``--render DIR`` for a look, though the simulation
needs only each shape's box). Each image has a difficulty bin (0 easy to 4 hard; most
images are easy) and 1 + Poisson(2.5) objects of a class drawn with uneven frequencies
(0.4, 0.3, 0.2, 0.1), 16 to 90 pixels wide, on a 256 x 256 image.

No detector is bundled, so the client detector is simulated. Its competence on class
``c`` in difficulty bin ``b`` grows with the labelled boxes of that class in that bin
(and a little from neighbouring bins and the class as a whole): ``q = 1 - exp(-e / tau_b)``
with ``tau_b`` = 8 (1 + 2b), so hard images need more examples. On an image it finds
each object with probability 0.3 + 0.7 q (a missed object still leaves a low-score box
half the time), jitters its corners by a share of its size that shrinks with q, names
the class right with probability 0.6 + 0.4 q, scores it sigmoid(4 (q - 0.4) + noise),
and adds low-score false positives, more where it is weak. No box is dropped.

Each strategy starts from the same 10 random images and, round after round, pushes the
detector's boxes on the pool, ranks the images by the engine's own box informativeness
(`labelloop.engine.core.priority.box_informativeness`, box_score = max, mean, sum, topk
(k = 3) or unsure) or at random, and labels the top ``--batch`` images: every box of an
image is labelled, so the cost is counted in boxes. After each round the detector is
evaluated on a held-out test set by mAP at IoU 0.5 (VOC all-point AP per class, greedy
matching by score, mean over classes; written here in numpy). The evaluation's random
numbers are the same for every strategy at a round (common random numbers).

For each aggregation the report gives the boxes it needed to reach random sampling's
final mAP (linear interpolation between rounds) as a share of random's boxes. Target:
at most 60%.

Throughput (``--part push``)
----------------------------
1,000 images x 100 boxes pushed in one call to the engine's ``push_predictions`` on a
fresh SQLite file, against the baseline of the same 1,000 images pushed with class
probabilities only (an ``image`` project), in the same process; then both over HTTP on
loopback to ``labelloop serve`` through `labelloop.client.Client` (batches of 250
images, under the server's 8 MiB body limit). Target: the box push under 2 s.

    nice -n 10 python benchmarks/boxes_efficiency.py                # 5 seeds, full sizes
    nice -n 10 python benchmarks/boxes_efficiency.py --quick        # 2 seeds, small
    nice -n 10 python benchmarks/boxes_efficiency.py --part push
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from labelloop.boxes import iou_matrix
from labelloop.engine.core.priority import box_informativeness

CLASSES = ("disc", "square", "triangle", "bar")
CLASS_P = np.array([0.4, 0.3, 0.2, 0.1])
BIN_P = np.array([0.35, 0.25, 0.18, 0.12, 0.10])
SIZE = 256
AGGREGATIONS = ("max", "mean", "sum", "topk", "unsure")
STRATEGIES = ("random", *AGGREGATIONS)
TARGET = 0.60


# --------------------------------------------------------------------------- data


def make_images(n: int, rng: np.random.Generator) -> list[dict]:
    """``n`` images: difficulty bin, and objects as (class, x1, y1, x2, y2)."""
    images = []
    for _ in range(n):
        k = min(1 + rng.poisson(2.5), 12)
        classes = rng.choice(len(CLASSES), size=k, p=CLASS_P)
        w = rng.uniform(16, 90, size=k)
        h = np.where(
            classes == 3, w * rng.uniform(0.2, 0.4, size=k), w * rng.uniform(0.8, 1.2, size=k)
        )
        x1 = rng.uniform(0, SIZE - w)
        y1 = rng.uniform(0, SIZE - h)
        boxes = np.stack([x1, y1, x1 + w, y1 + h], axis=1)
        images.append({"bin": int(rng.choice(5, p=BIN_P)), "classes": classes, "boxes": boxes})
    return images


def render(image: dict) -> np.ndarray:
    """The image drawn with numpy: each shape filled inside its box."""
    canvas = np.zeros((SIZE, SIZE), dtype=np.uint8)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    for c, (x1, y1, x2, y2) in zip(image["classes"], image["boxes"], strict=True):
        cx, cy, rx, ry = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, (y2 - y1) / 2
        inside_box = (xx >= x1) & (xx < x2) & (yy >= y1) & (yy < y2)
        if c == 0:
            mask = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1
        elif c == 2:
            mask = inside_box & (np.abs(xx - cx) <= (yy - y1) / (y2 - y1) * rx)
        else:
            mask = inside_box
        canvas[mask] = 80 + 40 * int(c)
    return canvas


# --------------------------------------------------------------------------- detector


def competence(counts: np.ndarray) -> np.ndarray:
    """q[c, b] from labelled boxes per class and bin."""
    padded = np.pad(counts, ((0, 0), (1, 1)))
    effective = counts + 0.5 * (padded[:, :-2] + padded[:, 2:]) + 0.1 * counts.sum(1, keepdims=True)
    tau = 8.0 * (1 + 2 * np.arange(counts.shape[1]))
    return 1 - np.exp(-effective / tau)


def detect(image: dict, q: np.ndarray, rng: np.random.Generator) -> list[dict]:
    """The simulated detector's boxes on one image (pixels, label, score)."""
    out = []
    b = image["bin"]
    for c, box in zip(image["classes"], image["boxes"], strict=True):
        qk = q[c, b]
        found = rng.random() < 0.3 + 0.7 * qk
        if not found and rng.random() < 0.5:
            continue
        size = np.array([box[2] - box[0], box[3] - box[1]] * 2)
        jitter = rng.normal(0, 0.05 + 0.25 * (1 - qk), 4) * size
        x1, y1, x2, y2 = box + jitter
        x1, x2 = sorted((x1, x2))
        y1, y2 = sorted((y1, y2))
        x1, y1 = max(x1, 0.0), max(y1, 0.0)
        x2, y2 = min(max(x2, x1 + 1), SIZE), min(max(y2, y1 + 1), SIZE)
        right = rng.random() < 0.6 + 0.4 * qk
        label = int(c) if right else int(rng.choice([k for k in range(len(CLASSES)) if k != c]))
        score = 1 / (1 + np.exp(-(4 * (qk - 0.4) + rng.normal(0, 0.6))))
        if not found:
            score = rng.uniform(0.05, 0.35)
        elif not right:
            score = max(score - 0.2, 0.01)
        out.append({"bbox": [x1, y1, x2, y2], "label": CLASSES[label], "score": float(score)})
    weak = 1 - q[:, b].mean()
    for _ in range(rng.poisson(0.3 + 1.5 * weak)):
        w, h = rng.uniform(16, 90, 2)
        x1, y1 = rng.uniform(0, SIZE - w), rng.uniform(0, SIZE - h)
        score = float(rng.beta(2, 5) * (1 - 0.5 * (1 - weak)))
        label = CLASSES[int(rng.integers(len(CLASSES)))]
        out.append({"bbox": [x1, y1, x1 + w, y1 + h], "label": label, "score": score})
    return out


# --------------------------------------------------------------------------- mAP


def average_precision(scores: np.ndarray, hits: np.ndarray, n_truth: int) -> float:
    """VOC all-point interpolated AP of detections (``hits``: true positive or not)."""
    if n_truth == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(hits[order])
    fp = np.cumsum(~hits[order])
    recall = np.concatenate([[0.0], tp / n_truth, [1.0]])
    precision = np.concatenate([[0.0], tp / np.maximum(tp + fp, 1), [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1])
    return float(np.sum((recall[steps + 1] - recall[steps]) * precision[steps + 1]))


def mean_ap(images: list[dict], detections: list[list[dict]], iou: float = 0.5) -> float:
    """mAP at ``iou`` over the classes present: each detection, by score, takes the
    best-overlapping unmatched truth of its class."""
    per_class: dict[int, tuple[list[float], list[bool]]] = {
        c: ([], []) for c in range(len(CLASSES))
    }
    n_truth = np.zeros(len(CLASSES), dtype=int)
    for image, found in zip(images, detections, strict=True):
        n_truth += np.bincount(image["classes"], minlength=len(CLASSES))
        for c in range(len(CLASSES)):
            name = CLASSES[c]
            mine = [d for d in found if d["label"] == name]
            if not mine:
                continue
            truth = [
                {"bbox": list(b), "label": name} for b in image["boxes"][image["classes"] == c]
            ]
            mine.sort(key=lambda d: -d["score"])
            overlaps = iou_matrix(mine, truth) if truth else np.zeros((len(mine), 0))
            taken = np.zeros(len(truth), dtype=bool)
            for i, d in enumerate(mine):
                hit = False
                if truth:
                    candidates = np.where(taken, -1.0, overlaps[i])
                    j = int(np.argmax(candidates))
                    if candidates[j] >= iou:
                        taken[j] = hit = True
                per_class[c][0].append(d["score"])
                per_class[c][1].append(hit)
    aps = [
        average_precision(np.array(s), np.array(h, dtype=bool), int(n_truth[c]))
        for c, (s, h) in per_class.items()
        if n_truth[c]
    ]
    return float(np.nanmean(aps))


# --------------------------------------------------------------------------- loop


def run(
    strategy: str, pool: list[dict], test: list[dict], seed: int, args
) -> list[tuple[int, float]]:
    """(labelled boxes, test mAP) after the seed set and each round."""
    rng = np.random.default_rng([seed, 1])
    labelled = np.zeros(len(pool), dtype=bool)
    labelled[np.random.default_rng([seed, 0]).choice(len(pool), args.initial, replace=False)] = True
    settings = {
        "box_uncertainty": "score",
        "box_score": strategy,
        "box_topk": 3,
        "box_unsure_below": 0.5,
    }
    curve = []
    for round_ in range(args.rounds + 1):
        counts = np.zeros((len(CLASSES), 5))
        for i in np.flatnonzero(labelled):
            np.add.at(counts[:, pool[i]["bin"]], pool[i]["classes"], 1)
        q = competence(counts)
        boxes = int(counts.sum())
        eval_rng = np.random.default_rng([seed, 2, round_])
        curve.append((boxes, mean_ap(test, [detect(im, q, eval_rng) for im in test])))
        if round_ == args.rounds:
            break
        open_ = np.flatnonzero(~labelled)
        if strategy == "random":
            picked = rng.choice(open_, min(args.batch, open_.size), replace=False)
        else:
            push_rng = np.random.default_rng([seed, 3, round_])
            values = np.array(
                [
                    box_informativeness(detect(pool[i], q, push_rng), settings, strategy="auto")[0]
                    for i in open_
                ]
            )
            picked = open_[np.argsort(-values, kind="stable")[: args.batch]]
        labelled[picked] = True
    return curve


def boxes_to_reach(curve: list[tuple[int, float]], target: float) -> float | None:
    for (b0, m0), (b1, m1) in zip(curve, curve[1:], strict=False):
        if m1 >= target:
            if m0 >= target or m1 == m0:
                return float(b0 if m0 >= target else b1)
            return b0 + (target - m0) / (m1 - m0) * (b1 - b0)
    return float(curve[0][0]) if curve[0][1] >= target else None


def efficiency(args) -> None:
    ratios: dict[str, list[float | None]] = {s: [] for s in AGGREGATIONS}
    finals: dict[str, list[tuple[int, float]]] = {s: [] for s in STRATEGIES}
    started = time.perf_counter()
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        pool, test = make_images(args.pool, rng), make_images(args.test, rng)
        curves = {s: run(s, pool, test, seed, args) for s in STRATEGIES}
        goal_boxes, goal = curves["random"][-1]
        for s in STRATEGIES:
            finals[s].append(curves[s][-1])
        line = [f"seed {seed}: random reaches mAP {goal:.3f} with {goal_boxes} boxes"]
        for s in AGGREGATIONS:
            needed = boxes_to_reach(curves[s], goal)
            ratios[s].append(None if needed is None else needed / goal_boxes)
            line.append(f"{s} {'-' if needed is None else f'{needed / goal_boxes:.0%}'}")
        print("; ".join(line), flush=True)
    print(
        f"\n{args.seeds} seeds, pool {args.pool}, test {args.test}, {args.initial} seed images, "
        f"{args.rounds} rounds of {args.batch} images ({time.perf_counter() - started:.0f} s)\n"
    )
    print(
        "| strategy | final mAP (mean) | final boxes (mean) | boxes to reach random's final "
        "mAP, share of random's (mean; per seed) | met (<= 60%) |"
    )
    print("| --- | ---: | ---: | --- | --- |")
    for s in STRATEGIES:
        mean_map = np.mean([m for _, m in finals[s]])
        mean_boxes = np.mean([b for b, _ in finals[s]])
        if s == "random":
            print(f"| random | {mean_map:.3f} | {mean_boxes:.0f} | 100% | - |")
            continue
        shares = ratios[s]
        reached = [r for r in shares if r is not None]
        mean = np.mean([1.0 if r is None else r for r in shares])
        per = ", ".join("not reached" if r is None else f"{r:.0%}" for r in shares)
        met = "met" if len(reached) == len(shares) and mean <= TARGET else "not met"
        print(f"| {s} | {mean_map:.3f} | {mean_boxes:.0f} | {mean:.0%}; {per} | {met} |")


# --------------------------------------------------------------------------- push


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _server(db_url: str):
    import httpx

    port = _free_port()
    code = "from labelloop.cli import main; main()"
    command = [
        sys.executable,
        "-c",
        code,
        "serve",
        "--db",
        db_url,
        "--port",
        str(port),
        "--no-worker",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, env=os.environ.copy())
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise SystemExit("labelloop serve exited before answering")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("labelloop serve did not answer within 120 s")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def push(args) -> None:
    from labelloop.client import Client
    from labelloop.engine import users
    from labelloop.engine.ingest import import_items
    from labelloop.engine.predictions import push_predictions
    from labelloop.engine.projects import create_project
    from labelloop.store.db import Database
    from labelloop.store.migrate import upgrade

    rng = np.random.default_rng(0)
    n, per = args.images, args.boxes
    folder = Path(tempfile.mkdtemp(prefix="labelloop-boxes-push-"))
    db_url = f"sqlite:///{folder / 'push.db'}"
    db = Database(db_url)
    upgrade(db)
    settings = {"eval_share": 0, "eval_min": 0, "retrain_every": 0, "media_root": str(folder)}
    labels = list(CLASSES)
    ids = {}
    for kind in ("boxes", "image"):
        project = create_project(
            db,
            actor="cli:bench",
            name=f"p-{kind}",
            task_type=kind,
            labels=labels,
            settings=settings,
        )
        ids[kind] = project.id
        if kind == "boxes":
            records = [
                {"id": f"i{i}", "image": f"{i}.png", "width": SIZE, "height": SIZE}
                for i in range(n)
            ]
            import_items(db, actor="cli:bench", project=project.id, records=records)
        else:
            for i in range(n):
                (folder / "imgs").mkdir(exist_ok=True)
                (folder / "imgs" / f"{i}.png").write_bytes(i.to_bytes(4, "big"))
            import_items(
                db, actor="cli:bench", project=project.id, path=folder / "imgs", format="media"
            )

    def box_entries(version: int) -> list[dict]:
        out = []
        for i in range(n):
            xy = rng.uniform(0, SIZE - 40, size=(per, 2))
            wh = rng.uniform(4, 40, size=(per, 2))
            scores = rng.random(per)
            names = rng.integers(len(labels), size=per)
            out.append(
                {
                    "item_id": f"i{i}",
                    "boxes": [
                        {
                            "bbox": [float(x), float(y), float(x + w), float(y + h)],
                            "label": labels[int(c)],
                            "score": float(s),
                        }
                        for (x, y), (w, h), s, c in zip(xy, wh, scores, names, strict=True)
                    ],
                }
            )
        return out

    def proba_entries() -> list[dict]:
        p = rng.dirichlet(np.ones(len(labels)), size=n)
        return [
            {
                "item_id": f"{i}.png",
                "probabilities": dict(zip(labels, map(float, row), strict=True)),
            }
            for i, row in enumerate(p)
        ]

    rows = []
    for attempt in range(args.repeat):
        boxes, proba = box_entries(attempt), proba_entries()
        t0 = time.perf_counter()
        report = push_predictions(
            db,
            project_id=ids["boxes"],
            actor="model:bench",
            model_version=f"det-{attempt}",
            predictions=boxes,
        )
        t_boxes = time.perf_counter() - t0
        assert report.n_boxes == n * per
        t0 = time.perf_counter()
        push_predictions(
            db,
            project_id=ids["image"],
            actor="model:bench",
            model_version=f"clf-{attempt}",
            predictions=proba,
        )
        t_proba = time.perf_counter() - t0
        rows.append(("engine", t_boxes, t_proba))
        print(f"engine: boxes {t_boxes:.2f} s, probabilities {t_proba:.3f} s", flush=True)
    _, token = users.create_user(
        db, actor="cli:bench", name="det", role="model", projects=list(ids.values())
    )
    db.dispose()
    with _server(db_url) as url:
        client = Client(url, token, timeout=120)
        for attempt in range(args.repeat):
            boxes, proba = box_entries(100 + attempt), proba_entries()
            t0 = time.perf_counter()
            client.push_predictions(ids["boxes"], f"det-h{attempt}", boxes, batch_size=250)
            t_boxes = time.perf_counter() - t0
            t0 = time.perf_counter()
            client.push_predictions(ids["image"], f"clf-h{attempt}", proba, batch_size=250)
            t_proba = time.perf_counter() - t0
            rows.append(("HTTP", t_boxes, t_proba))
            print(f"HTTP: boxes {t_boxes:.2f} s, probabilities {t_proba:.3f} s", flush=True)
    print(f"\n{n} images x {per} boxes; median of {args.repeat} pushes each\n")
    print("| path | boxes push (s) | probabilities push (s, baseline) | ratio | under 2 s |")
    print("| --- | ---: | ---: | ---: | --- |")
    for path in ("engine", "HTTP"):
        b = float(np.median([r[1] for r in rows if r[0] == path]))
        p = float(np.median([r[2] for r in rows if r[0] == path]))
        print(f"| {path} | {b:.2f} | {p:.3f} | {b / p:.1f} | {'met' if b < 2 else 'not met'} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--part", choices=("efficiency", "push", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="2 seeds, a smaller pool")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--pool", type=int, default=2000)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--initial", type=int, default=10)
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=16)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--boxes", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--render", metavar="DIR", help="write the first 12 images as PNG")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.pool, args.test, args.rounds = 2, 600, 200, 10
        args.repeat = 1
    print(
        f"python {platform.python_version()}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    if args.render:
        from PIL import Image

        Path(args.render).mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(make_images(12, np.random.default_rng(0))):
            Image.fromarray(render(image)).save(Path(args.render) / f"{i}.png")
    if args.part in ("efficiency", "both"):
        efficiency(args)
    if args.part in ("push", "both"):
        push(args)


if __name__ == "__main__":
    main()
