"""Everyday words for the technical words of tool definitions, so BM25 can match how people ask.

A tool says "directory", "entity", "diff", "timezone"; a user asks about a "folder", a "person", what
"changed", a "city". BM25 only matches words, so ``document_of`` (core/tool_index.py) appends to a
tool's document the everyday words of each technical word its definition uses (document expansion:
queries are left as written). The table is about words, never about particular tools or servers,
and lists only words whose meaning is the same in the contexts tools use them.

Must not: rank, tokenise for BM25 or know about routes; it is data and one lookup.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# technical word (any inflection: matched by stem) → words people use for the same thing
EVERYDAY_WORDS: dict[str, str] = {
    # files and folders
    "directory": "folder folders",
    "file": "document",
    "create": "make new",
    "delete": "remove erase forget drop",
    "write": "save store",
    "edit": "change modify replace",
    "move": "rename relocate put",
    "search": "find look lookup locate",
    "recursive": "whole nested tree",
    "size": "big large space bytes",
    "metadata": "modified permissions size created details",
    "multiple": "several many batch",
    "image": "picture photo",
    "media": "picture photo audio",
    "compress": "zip shrink",
    "allowed": "access permitted",
    # the web
    "url": "website web page link address online site",
    "internet": "web online website",
    "fetch": "download retrieve scrape",
    "markdown": "text",
    # time
    "timezone": "city zone local region",
    "current": "now today present",
    "time": "clock hour date",
    "convert": "translate",
    # version control
    "repository": "repo project",
    "log": "history recent latest last",
    "diff": "changes changed compare difference modifications",
    "stage": "index",
    "unstage": "reset",
    "checkout": "switch",
    "status": "state",
    # a knowledge graph memory
    "graph": "memory remember know stored",
    "entity": "person people thing",
    "observation": "fact note",
    "relation": "link relationship connection",
    "node": "entry entries",
    # general computing
    "sum": "plus total addition",
    "echo": "repeat say back",
    "environment": "env vars",
    "elicitation": "ask form input",
    "sampling": "model llm completion",
    "progress": "slow",
    "notification": "notify",
    "subscription": "notify updates",
    "annotation": "priority audience metadata",
    "schema": "structure",
    "query": "question",
    "sql": "select database",
}

_WORDS = re.compile(r"[a-z]+")


def everyday_words(text: str, stem_words: Callable[[list[str]], list[str]]) -> list[str]:
    """The everyday words for the technical words in ``text``, each entry once, in the table's order.
    ``stem_words`` is the index's stemmer, so "directories" finds "directory"."""
    present = set(stem_words(_WORDS.findall(text.lower())))
    keys = stem_words(list(EVERYDAY_WORDS))
    return [words for key, words in zip(keys, EVERYDAY_WORDS.values(), strict=True) if key in present]
