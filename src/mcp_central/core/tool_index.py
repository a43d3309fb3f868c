"""A searchable catalogue of tools for ``toolDiscovery: "search"`` routes. Sans-IO.

``ToolIndex`` ranks tools against a natural-language query with BM25 (the ``bm25s`` library:
ranking is not written here). Each tool becomes one document made of its name (split into words:
``read_text_file`` → ``read text file``), title, description, and its parameters' names and
descriptions, plus the everyday words for its technical ones (core/tool_vocabulary.py: "folder" for
"directory"). Words are stemmed (PyStemmer's Snowball English: "commits" is "commit") and English
stopwords dropped, in documents and queries alike; BM25's parameters are bm25s's defaults (a sweep
on bench/discovery.py's queries found no consistent gain). The index is
immutable: a route builds a new one when a member's list changes.

Must not: talk to upstreams, know about routes or sessions, or import ``bm25s`` or ``Stemmer`` before
the first index is built (routes in ``list`` mode never pay for them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from mcp_central.core.tool_vocabulary import everyday_words

_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|[_\-./:]+")


@dataclass(frozen=True, slots=True)
class IndexedTool:
    """One tool as the index knows it: the name a client calls it by, its member, its definition."""

    name: str
    """The name on the route (``server__tool`` on aggregated routes)."""
    server: str
    definition: dict[str, Any]
    """The tool as listed to this route (after filters and overrides)."""


@dataclass(frozen=True, slots=True)
class Match:
    tool: IndexedTool
    score: float


def split_words(name: str) -> str:
    """``readTextFile`` / ``read_text_file`` / ``git.log`` → ``read Text File`` / … (BM25 sees words)."""
    return " ".join(part for part in _WORD_BOUNDARY.split(name) if part)


def document_of(tool: IndexedTool) -> str:
    """The text BM25 indexes for one tool."""
    definition = tool.definition
    parts = [split_words(tool.name), split_words(str(definition.get("name", "")))]
    for key in ("title", "description"):
        value = definition.get(key)
        if isinstance(value, str):
            parts.append(value)
    schema = definition.get("inputSchema")
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if isinstance(properties, dict):
        for param, spec in properties.items():
            parts.append(split_words(str(param)))
            if isinstance(spec, dict) and isinstance(spec.get("description"), str):
                parts.append(spec["description"])
    text = "\n".join(parts)
    return "\n".join([text, *everyday_words(text, _stem_words)])


@cache
def _stemmer() -> Any:
    import Stemmer  # PyStemmer (Snowball): "commits" and "commit" are one word to BM25

    return Stemmer.Stemmer("english")


def _stem_words(words: list[str]) -> list[str]:
    return list(_stemmer().stemWords(words))


def _tokenize(texts: list[str]) -> Any:
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), show_progress=False, allow_empty=True)


class ToolIndex:
    """BM25 over a fixed set of tools; ``search`` returns the best ``limit`` with a positive score."""

    def __init__(self, tools: Sequence[IndexedTool]) -> None:
        self.tools = tuple(tools)
        self._by_name = {tool.name: tool for tool in self.tools}
        self._retriever: Any = None
        if self.tools:
            import bm25s  # only search-mode routes load it (and numpy)

            retriever = bm25s.BM25()
            corpus = [document_of(tool) for tool in self.tools]
            retriever.index(_tokenize(corpus), show_progress=False)
            self._retriever = retriever

    def __len__(self) -> int:
        return len(self.tools)

    def get(self, name: str) -> IndexedTool | None:
        return self._by_name.get(name)

    def search(self, query: str, limit: int) -> list[Match]:
        if self._retriever is None or limit <= 0:
            return []
        tokens = _tokenize([query])
        k = min(limit, len(self.tools))
        found, scores = self._retriever.retrieve(tokens, k=k, show_progress=False)
        return [
            Match(self.tools[int(index)], float(score))
            for index, score in zip(found[0], scores[0], strict=True)
            if score > 0
        ]
