"""Text a grammar forces: once an answer has begun a literal of its grammar that nothing else
could begin at that point, the rest of the literal is known without asking the model.

Decoding one token costs a full forward pass (~20 ms for the bundled model at a 600-token
context on one thread); a run of known tokens is evaluated in one batch instead, and the closing
literal that ends an answer is not evaluated at all. The grammars this package writes
(llm/grammar.py) carry their forced literals (`Grammar.forced`); the decoder still checks every
jumped token against the compiled grammar, so a rule here can only ever save time, never admit
text the grammar refuses.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class ForcedLiteral:
    """After text that matches `context` in full, the grammar admits only `literal`; once its
    first `after` characters are written (0: at once) the rest is forced. `final`: the literal
    ends the answer."""

    context: str  # a regular expression for the whole answer before the literal
    literal: str
    after: int = 1
    final: bool = False

    @cached_property
    def _context(self) -> re.Pattern[str]:
        return re.compile(self.context, re.DOTALL)

    def rest(self, text: str) -> str | None:
        """The forced remainder of the literal after `text`, or None if `text` has not begun it.

        >>> rule = ForcedLiteral("<a>[^<]*", "</a>", after=1)
        >>> rule.rest("<a>hello</"), rule.rest("<a>hello"), rule.rest("<b></")
        ('a>', None, None)
        """
        for written in range(max(self.after, 0), len(self.literal)):
            head = text[:len(text) - written]
            if text.endswith(self.literal[:written]) and self._context.fullmatch(head):
                return self.literal[written:]
        return None


class Grammar(str):
    """GBNF text (a str: backends, servers and caches use it as is) that also knows the literals
    it forces, for jump-forward decoding."""

    forced: tuple[ForcedLiteral, ...]

    def __new__(cls, text: str, forced: Sequence[ForcedLiteral] = ()) -> Grammar:
        grammar = super().__new__(cls, text)
        grammar.forced = tuple(forced)
        return grammar


def forced_continuation(grammar: str, text: str) -> tuple[str, bool]:
    """The text the grammar forces after `text` ("" when the model has a choice) and whether it
    ends the answer. A plain string grammar knows no forced literals.

    >>> g = Grammar('root ::= "<a>" [^<]+ "</a>"', [ForcedLiteral("<a>[^<]+", "</a>", 1, final=True)])
    >>> forced_continuation(g, "<a>hi<"), forced_continuation(g, "<a>hi"), forced_continuation("x", "<")
    (('/a>', True), ('', False), ('', False))
    """
    for rule in getattr(grammar, "forced", ()):
        rest = rule.rest(text)
        if rest:
            return rest, rule.final
    return "", False
