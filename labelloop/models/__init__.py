"""Model adapters: one protocol (fit / predict_proba / embed) over every model the loop drives.

scikit-learn classifiers plug in as they are; :class:`Committee` turns a list of them into
a committee; a model with ``sample_proba`` (MC dropout, ensembles) serves BALD. The
built-in per-task models of the service live in :mod:`labelloop.models.builtin`.
"""

from labelloop.models import adapters
from labelloop.models.adapters import *  # noqa: F403 - the names of adapters.__all__

# The package re-exports its adapters module whole; the module keeps the list.
__all__ = adapters.__all__
