"""Box projects with overlap: how often several annotators' boxes fuse without a reviewer,
how close the fused boxes are to the truth, and how long fusing takes.

Data: generated images (256 x 256) with 1 + Poisson(2.5) objects of four classes, each
16 to 90 pixels wide. Simulated annotators draw each object with corners jittered by a
normal share (``--jitter``, of the box's size) and miss it, or name the wrong class,
with small probabilities (``--miss``, ``--wrong``). Each image is fused by
`labelloop.boxes.fuse_boxes` (IoU 0.5, mean) for 2 annotators (every one needed) and
3 annotators (2 of 3 needed). Reported: the share of images decided without review
(before, with exact comparison, only images where both drew nothing were), the share of
decided images whose fused boxes match the truth one to one (box F1 = 1 at IoU 0.5),
the mean IoU of matched boxes with the truth for the fused boxes and for one annotator's,
and the time per image.

    nice -n 10 .venv/bin/python benchmarks/box_fusion.py [--images 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from labelloop.boxes import box_f1, fuse_boxes, iou_matrix, match_boxes

CLASSES = ["disc", "square", "triangle", "bar"]


def truth(rng: np.random.Generator) -> list[dict]:
    boxes = []
    for _ in range(1 + rng.poisson(2.5)):
        w, h = rng.uniform(16, 90, size=2)
        x, y = rng.uniform(0, 256 - w), rng.uniform(0, 256 - h)
        label = CLASSES[rng.choice(4, p=[0.4, 0.3, 0.2, 0.1])]
        boxes.append({"bbox": [x, y, x + w, y + h], "label": label})
    return boxes


def annotate(rng, boxes, jitter, miss, wrong) -> list[dict]:
    out = []
    for box in boxes:
        if rng.random() < miss:
            continue
        x1, y1, x2, y2 = box["bbox"]
        w, h = x2 - x1, y2 - y1
        d = rng.normal(0, jitter, size=4) * [w, h, w, h]
        a = [min(max(0.0, x1 + d[0]), 255.0), min(max(0.0, y1 + d[1]), 255.0)]
        b = [max(a[0] + 1, min(256.0, x2 + d[2])), max(a[1] + 1, min(256.0, y2 + d[3]))]
        label = box["label"] if rng.random() >= wrong else CLASSES[rng.integers(4)]
        out.append({"bbox": [a[0], a[1], b[0], b[1]], "label": label})
    return out


def mean_iou(found, real) -> list[float]:
    if not found or not real:
        return []
    iou = iou_matrix(found, real)
    return [float(iou[i, j]) for i, j, _ in match_boxes(found, real)]


def run(images: int, seed: int, jitter: float, miss: float, wrong: float) -> None:
    rng = np.random.default_rng(seed)
    print(f"images={images} seed={seed} jitter={jitter} miss={miss} wrong={wrong}")
    print(
        "| annotators | needed | decided without review | decided and right | "
        "IoU fused | IoU one annotator | ms per image |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n, needed in ((2, 2), (3, 2), (3, 3)):
        decided = right = 0
        fused_iou: list[float] = []
        single_iou: list[float] = []
        spent = 0.0
        for _ in range(images):
            real = truth(rng)
            votes = [(f"a{k}", annotate(rng, real, jitter, miss, wrong)) for k in range(n)]
            start = time.perf_counter()
            fusion = fuse_boxes(votes, needed=needed)
            spent += time.perf_counter() - start
            single_iou += mean_iou(votes[0][1], real)
            if fusion.decided:
                decided += 1
                right += box_f1(fusion.boxes, real) == 1.0
                fused_iou += mean_iou(fusion.boxes, real)
        print(
            f"| {n} | {needed} | {decided / images:.1%} | {right / max(decided, 1):.1%} | "
            f"{np.mean(fused_iou):.3f} | {np.mean(single_iou):.3f} | "
            f"{1000 * spent / images:.3f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jitter", type=float, default=0.04)
    parser.add_argument("--miss", type=float, default=0.03)
    parser.add_argument("--wrong", type=float, default=0.02)
    args = parser.parse_args()
    run(args.images, args.seed, args.jitter, args.miss, args.wrong)


if __name__ == "__main__":
    main()
