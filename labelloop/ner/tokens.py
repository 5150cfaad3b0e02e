"""Tokens with character offsets: the units an entity project labels and counts cost in.

A tokenizer is any callable ``text -> iterable of (start, end)`` or of :class:`Token`;
:func:`tokenize` runs it and keeps these rules:

1. Every token is a non-empty slice ``text[start:end]`` inside the text.
2. Tokens are in order and never overlap (``start`` of one >= ``end`` of the one before).
3. A token never begins or ends inside whitespace, so a span that covers whole tokens
   never starts or ends on a space.

The default, :class:`RegexTokenizer`, keeps URLs, ``@user`` and ``#tag`` whole, keeps
apostrophes, hyphens and dots inside words (``don't``, ``e-mail``, ``3.5``) and splits every other
punctuation mark into a token of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from labelloop.exceptions import ValidationError

__all__ = ["DEFAULT_TOKEN_PATTERN", "RegexTokenizer", "Token", "Tokenizer", "tokenize"]

#: URLs, then @mentions/#hashtags and words (inner ' ’ - . kept), then one symbol at a time.
DEFAULT_TOKEN_PATTERN = r"https?://\S+|www\.\S+|[@#]?\w+(?:['’\-.]\w+)*|[^\w\s]"


class Token(NamedTuple):
    """One token: its text and its character offsets, ``text == source[start:end]``."""

    text: str
    start: int
    end: int


Tokenizer = Callable[[str], Iterable[Any]]


class RegexTokenizer:
    """Tokens are the matches of one regular expression, left to right.

    Parameters
    ----------
    pattern : str, default=DEFAULT_TOKEN_PATTERN
        The expression a token matches; text between matches (spaces) is skipped.

    Examples
    --------
    >>> [t.text for t in RegexTokenizer()("I'm @anna in New-York, 3.5km!")]
    ["I'm", '@anna', 'in', 'New-York', ',', '3.5km', '!']
    """

    def __init__(self, pattern: str = DEFAULT_TOKEN_PATTERN) -> None:
        try:
            self._regex = re.compile(pattern)
        except re.error as error:
            raise ValidationError(
                f"the token pattern is not a regular expression: {error}", field="pattern"
            ) from None
        self.pattern = pattern

    def __call__(self, text: str) -> list[Token]:
        # An expression that can match nothing would yield empty tokens: skip them.
        matches = self._regex.finditer(text)
        return [Token(m.group(), m.start(), m.end()) for m in matches if m.end() > m.start()]

    def __repr__(self) -> str:
        return f"RegexTokenizer({self.pattern!r})"


_DEFAULT = RegexTokenizer()


def tokenize(text: str, *, tokenizer: Tokenizer | None = None) -> list[Token]:
    """Tokens of ``text`` with their character offsets, checked against the module's rules.

    Parameters
    ----------
    text : str
        The text to split.
    tokenizer : callable, optional
        ``text -> iterable of (start, end) or Token``; default :class:`RegexTokenizer`.

    Returns
    -------
    tokens : list of Token

    Raises
    ------
    ValidationError
        If ``text`` is not a string, or the tokenizer breaks a rule (naming the token).

    Examples
    --------
    >>> [(t.text, t.start, t.end) for t in tokenize("Paris, France")]
    [('Paris', 0, 5), (',', 5, 6), ('France', 7, 13)]
    """
    if not isinstance(text, str):
        raise ValidationError(f"text must be a string, not {type(text).__name__}", field="text")
    produced = (tokenizer or _DEFAULT)(text)
    tokens: list[Token] = []
    previous_end = 0
    for position, token in enumerate(produced):
        start, end = _offsets(token, position)
        if not 0 <= start < end <= len(text):
            raise ValidationError(
                f"token {position} ({start}, {end}) is empty or outside the text "
                f"of {len(text)} characters",
                field=f"tokens.{position}",
            )
        if start < previous_end:
            raise ValidationError(
                f"token {position} ({start}, {end}) overlaps or precedes the token before it",
                field=f"tokens.{position}",
            )
        piece = text[start:end]
        if piece[0].isspace() or piece[-1].isspace():
            raise ValidationError(
                f"token {position} {piece!r} begins or ends with whitespace",
                field=f"tokens.{position}",
            )
        tokens.append(Token(piece, start, end))
        previous_end = end
    return tokens


def _offsets(token: Any, position: int) -> tuple[int, int]:
    if isinstance(token, Token):
        return token.start, token.end
    try:
        if isinstance(token, str | bytes):
            raise TypeError
        start, end = token
    except (TypeError, ValueError):
        raise ValidationError(
            f"token {position} must be a Token or a (start, end) pair, got {token!r}",
            field=f"tokens.{position}",
        ) from None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
        raise ValidationError(
            f"token {position} offsets must be integers, got {token!r}",
            field=f"tokens.{position}",
        )
    return start, end
