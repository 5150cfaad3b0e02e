"""Import and export formats: readers and writers per format, and the normalised record.

Readers yield ``(line, mapping)`` pairs (the line or row number for error messages);
`labelloop.io.records.record_from_mapping` turns a mapping into a validated `Record`.
Writers take export records (plain dicts) in the import's keys.
"""

from labelloop.io.records import (
    EXPORT_ONLY_FIELDS,
    FieldNames,
    Record,
    detect_format,
    file_sha256,
    payload_hash,
    record_from_mapping,
    text_hash,
)

__all__ = [
    "EXPORT_ONLY_FIELDS",
    "FieldNames",
    "Record",
    "detect_format",
    "file_sha256",
    "payload_hash",
    "record_from_mapping",
    "text_hash",
]
