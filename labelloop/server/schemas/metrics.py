"""Quality metrics: agreement between annotators and with reviewers, annotators' accuracy.

The engine reports agreement as a dict; these models give it its shape in the API.
"""

from __future__ import annotations

from pydantic import BaseModel

__all__ = [
    "AgreementPublic",
    "AnnotatorAgreementPublic",
    "AnnotatorsPublic",
    "ConsensusFitPublic",
    "PairAgreementPublic",
    "ReviewCountsPublic",
]


class ReviewCountsPublic(BaseModel):
    reviewed: int
    accepted: int
    corrected: int
    rejected: int
    review_agreement: float | None


class PairAgreementPublic(BaseModel):
    annotators: list[str]
    n_items: int
    kappa: float | None
    percent_agreement: float | None
    # Box projects: IoU-matched box F1 over the images both labelled.
    box_f1: float | None = None
    # Entity projects: span-level F1 between the two over the items both labelled.
    span_f1: float | None = None


class AnnotatorAgreementPublic(ReviewCountsPublic):
    name: str
    n_annotations: int
    mean_kappa: float | None
    estimated_accuracy: float | None = None
    mean_box_f1: float | None = None
    # Entity projects: the pairs' span F1, weighted by the items each pair shares.
    mean_span_f1: float | None = None


class AgreementPublic(BaseModel):
    """Cohen's kappa per pair, Krippendorff's alpha with overlap > 2, agreement with reviewers."""

    project_id: int
    n_items_shared: int
    percent_agreement: float | None
    krippendorff_alpha: float | None
    pairs: list[PairAgreementPublic]
    annotators: list[AnnotatorAgreementPublic]
    reviews: ReviewCountsPublic
    # Box projects: IoU-matched box F1 over every pair's shared images, at this IoU.
    box_f1: float | None = None
    iou_threshold: float | None = None
    # "kappa", or "span_f1" for an entity project (where kappa and alpha are None), and
    # that project's span F1 over every pair of every shared item.
    measure: str = "kappa"
    span_f1: float | None = None


class AnnotatorsPublic(BaseModel):
    """Per annotator: labels, agreement, and the accuracy Dawid-Skene estimates."""

    project_id: int
    consensus: str
    n_items_shared: int
    annotators: list[AnnotatorAgreementPublic]


class ConsensusFitPublic(BaseModel):
    """A new Dawid-Skene fit of the project's annotators, and the items it settled again."""

    project_id: int
    method: str
    fitted: bool
    n_items: int
    changed: int
    accuracy: dict[str, float]
