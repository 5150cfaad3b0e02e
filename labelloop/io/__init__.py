"""Import and export formats: readers and writers per format, and the normalised record.

Readers yield ``(line, mapping)`` pairs (the line or row number for error messages);
`labelloop.io.records.record_from_mapping` turns a mapping into a validated `Record`.
Writers take export records (plain dicts) in the import's keys.
"""

from labelloop.io import records
from labelloop.io.records import *  # noqa: F403 - the names of records.__all__

# The package re-exports its records module whole; the module keeps the list.
__all__ = records.__all__
