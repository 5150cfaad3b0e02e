"""Ingestion: a file (JSONL, CSV, Parquet), a directory of media files, or records in
memory become items, open tasks, evaluation-set marks and imported final labels.

An import is all-or-nothing. The source is read once and validated as a whole,
streaming, record by record (ids, types, labels against the schema, duplicates), each
valid row spooled, ready to write, to a temporary file; nothing reaches the database
unless every record is valid. Then the spooled rows are written in one transaction, in
bulk batches, with one ``items.imported`` audit event.

De-duplication: a record whose content (normalised text, payload, or file bytes) equals
an item already in the pool or an earlier record of the same import is *skipped*, and
reported with its id and the id it duplicates.

Re-import: ``on_existing`` says what a record whose id is already in the project does:
``error`` refuses the import (the default), ``skip`` counts and ignores it, ``update``
changes its item's payload, media reference and metadata where they differ (one
``items.updated`` event per batch, with each changed item's before and after) and
never its label.
"""

from labelloop.engine.ingest.importer import (
    ON_EXISTING,
    DuplicateInfo,
    ImportReport,
    ProgressCallback,
    import_items,
)

__all__ = ["ON_EXISTING", "DuplicateInfo", "ImportReport", "ProgressCallback", "import_items"]
