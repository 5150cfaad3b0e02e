"""Model artifacts on disk: skops files that run no code when loaded, checked by SHA-256.

A project's artifacts live in its own directory (``<artifact dir>/project-<id>/``);
`load_model` refuses a path outside that directory, a file whose digest differs from
the one recorded when it was saved, and any type outside a fixed trusted list (plus
the configurable estimator class the project's settings name explicitly).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import skops.io

from labelloop.exceptions import ValidationError
from labelloop.models.builtin import ProjectModel
from labelloop.models.entities import EntityModel

__all__ = ["TRUSTED_TYPES", "SavedArtifact", "artifact_sha256", "load_model", "save_model"]

# Everything a built-in model holds beyond what skops trusts by default.
TRUSTED_TYPES: tuple[str, ...] = (
    "labelloop.models.builtin.PixelFeaturizer",
    "labelloop.models.builtin.ProjectModel",
    "labelloop.models.builtin.TabularFeaturizer",
    "labelloop.models.builtin.TextFeaturizer",
    "labelloop.models.crf.CrfTagger",
    "labelloop.models.entities.EntityModel",
    "labelloop.models.text.TfidfFeaturizer",
    "labelloop.models.word_clusters.WordClusters",
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.multiclass._ConstantPredictor",
)


def artifact_sha256(data: bytes) -> str:
    """The SHA-256 hex digest recorded for an artifact's bytes."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class SavedArtifact:
    """Where a model was saved, its SHA-256 digest, and the types it holds beyond
    `TRUSTED_TYPES` (those of a configurable estimator), to trust when loading it."""

    path: Path
    sha256: str
    extra_types: tuple[str, ...]


def save_model(model: ProjectModel | EntityModel, path: str | Path) -> SavedArtifact:
    """Write ``model`` to ``path`` atomically.

    Parameters
    ----------
    model : ProjectModel or EntityModel
        A fitted built-in model (an entity project's is an `EntityModel`).
    path : path
        The destination, normally ``<artifact dir>/project-<id>/model-<version>.skops``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = skops.io.dumps(model)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".skops")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    extra = sorted(set(skops.io.get_untrusted_types(data=data)) - set(TRUSTED_TYPES))
    return SavedArtifact(path, artifact_sha256(data), tuple(extra))


def load_model(
    path: str | Path,
    *,
    project_dir: str | Path,
    sha256: str,
    extra_trusted: Iterable[str] = (),
) -> ProjectModel | EntityModel:
    """Load a model saved by `save_model`, after checking where it is and what it is.

    Parameters
    ----------
    path : path
        The artifact file.
    project_dir : path
        The project's own artifact directory; ``path`` must lie inside it.
    sha256 : str
        The digest recorded when the artifact was saved.
    extra_trusted : iterable of str
        Further types to trust: the `SavedArtifact.extra_types` recorded when the model
        was saved (internals of a configurable estimator such as ``sklearn.tree._tree.Tree``).

    Raises
    ------
    ValidationError
        The path is outside ``project_dir``, the file is missing, its digest differs,
        or it holds a type that is not trusted (``field="artifact"``).
    """
    resolved = Path(path).resolve()
    root = Path(project_dir).resolve()
    if not resolved.is_relative_to(root):
        raise ValidationError(
            f"refusing to load model artifact {path}: it is outside the project's artifact "
            f"directory {root}",
            field="artifact",
        )
    try:
        data = resolved.read_bytes()
    except OSError as exc:
        raise ValidationError(
            f"cannot read model artifact {resolved}: {exc}", field="artifact"
        ) from exc
    digest = artifact_sha256(data)
    if digest != sha256:
        raise ValidationError(
            f"model artifact {resolved} was modified after it was saved (SHA-256 {digest} "
            f"differs from the recorded {sha256}); retrain to replace it",
            field="artifact",
        )
    trusted = [*TRUSTED_TYPES, *extra_trusted]
    untrusted = sorted(set(skops.io.get_untrusted_types(data=data)) - set(trusted))
    if untrusted:
        raise ValidationError(
            f"model artifact {resolved} holds types that are not trusted: {', '.join(untrusted)}",
            field="artifact",
        )
    model = skops.io.loads(data, trusted=trusted)
    if not isinstance(model, ProjectModel | EntityModel):
        raise ValidationError(
            f"model artifact {resolved} is not a labelloop model", field="artifact"
        )
    return model
