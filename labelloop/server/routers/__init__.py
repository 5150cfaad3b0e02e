"""One router per resource; `labelloop.server.app.create_app` includes them.

What several routers answer alike lives here: a lease with nothing to lease is an empty
204 answer (`or_no_content`), never a null body.
"""

from __future__ import annotations

from typing import Any

from fastapi import Response, status

__all__ = ["or_no_content"]


def or_no_content(found: Any) -> Any:
    """``found``, or an empty 204 No Content answer when it is None."""
    if found is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return found
