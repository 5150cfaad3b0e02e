"""A directory of image, audio or video files, stored by reference with a content hash."""

from __future__ import annotations

import os
from pathlib import Path

from labelloop.exceptions import ImportDataError
from labelloop.io.records import Record, file_sha256

__all__ = ["MEDIA_SUFFIXES", "media_ref", "read_media_dir"]

MEDIA_SUFFIXES: dict[str, frozenset[str]] = {
    "image": frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}),
    "audio": frozenset({".wav", ".mp3", ".flac", ".ogg", ".m4a", ".aac", ".opus"}),
    "video": frozenset({".mp4", ".webm", ".mov", ".avi", ".mkv", ".m4v"}),
}


def media_ref(path: Path, media_root: Path) -> str:
    """``path`` relative to ``media_root``, with forward slashes.

    Raises
    ------
    ImportDataError
        When ``path`` is not inside ``media_root``.
    """
    try:
        return path.resolve().relative_to(media_root.resolve()).as_posix()
    except ValueError:
        raise ImportDataError(
            f"outside the project's media root {media_root}: move the files under it or "
            "import them into a project whose media_root contains them",
            path=str(path),
        ) from None


def read_media_dir(
    directory: str | Path, *, task_type: str, media_root: str | Path
) -> tuple[list[Record], list[str]]:
    """The records of the media files under ``directory`` (recursively, sorted by path).

    Each record's id is the file's path relative to ``directory``; its payload and
    ``media_ref`` are the path relative to ``media_root``; its content hash is the
    SHA-256 of the file's bytes. Hidden files and other suffixes are not media.

    Returns
    -------
    records : list of Record
    ignored : list of str
        Relative paths of the files that were not media of this task type.
    """
    directory = Path(directory)
    if task_type not in MEDIA_SUFFIXES:
        raise ImportDataError(
            f"a directory of files can be imported into image, audio or video projects, "
            f"not {task_type}",
            path=str(directory),
        )
    if not directory.is_dir():
        raise ImportDataError("not a directory", path=str(directory))
    root = Path(media_root)
    suffixes = MEDIA_SUFFIXES[task_type]
    paths: list[Path] = []
    ignored: list[str] = []
    for folder, subfolders, files in os.walk(directory):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for file_name in sorted(files):
            path = Path(folder, file_name)
            relative = path.relative_to(directory).as_posix()
            if file_name.startswith(".") or path.suffix.lower() not in suffixes:
                ignored.append(relative)
            else:
                paths.append(path)
    paths.sort()
    records = []
    for number, path in enumerate(paths, start=1):
        reference = media_ref(path, root)
        records.append(
            Record(
                external_id=path.relative_to(directory).as_posix(),
                payload={"path": reference},
                label=None,
                meta={},
                content_hash=file_sha256(path),
                line=number,
                media_ref=reference,
            )
        )
    return records, ignored
