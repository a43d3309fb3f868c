"""The search-mode catalogue ranks tools by a natural query (core/tool_index.py, no sockets)."""

from mcp_central.core.tool_index import IndexedTool, ToolIndex, split_words


def _tool(name: str, description: str, **params: str) -> IndexedTool:
    properties = {key: {"type": "string", "description": text} for key, text in params.items()}
    return IndexedTool(
        name,
        name.split("__")[0],
        {
            "name": name,
            "description": description,
            "inputSchema": {"type": "object", "properties": properties},
        },
    )


TOOLS = [
    _tool("time__get_current_time", "Get current time in a specific timezone", timezone="IANA timezone name"),
    _tool("fs__read_text_file", "Read the complete contents of a file as text", path="Path of the file"),
    _tool(
        "fetch__fetch",
        "Fetches a URL from the internet and extracts its contents as markdown",
        url="URL to fetch",
    ),
    _tool("memory__create_entities", "Create multiple new entities in the knowledge graph"),
]


def test_a_natural_query_finds_its_tool_first() -> None:
    index = ToolIndex(TOOLS)
    assert index.search("what time is it in Tokyo", 3)[0].tool.name == "time__get_current_time"
    assert index.search("show me the contents of a file", 3)[0].tool.name == "fs__read_text_file"
    assert index.search("fetch the markdown of a URL", 3)[0].tool.name == "fetch__fetch"


def test_limit_and_no_match() -> None:
    index = ToolIndex(TOOLS)
    assert len(index.search("file", 1)) == 1
    assert index.search("zzzz qqqq", 5) == []
    assert ToolIndex([]).search("anything", 5) == []


def test_names_are_split_into_words() -> None:
    assert split_words("readTextFile") == "read Text File"
    assert split_words("git__log.show-all") == "git log show all"
