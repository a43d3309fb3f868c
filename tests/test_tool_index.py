"""The search-mode catalogue ranks tools by a natural query (core/tool_index.py, no sockets)."""

from mcp_central.core.tool_index import IndexedTool, ToolIndex, document_of, split_words


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


GIT_AND_FILES = [
    _tool("git__git_log", "Shows the commit logs", repo_path="Path to Git repository"),
    _tool("git__git_status", "Shows the working tree status", repo_path="Path to Git repository"),
    _tool("git__git_branch", "List Git branches", repo_path="Path to Git repository"),
    _tool(
        "filesystem__create_directory",
        "Create a new directory or ensure a directory exists. Can create multiple nested directories.",
        path="Path of the directory",
    ),
    _tool("filesystem__list_directories", "List the subdirectories of a path", path="Where to look"),
    _tool("everything__get-tiny-image", "Returns a tiny MCP logo image."),
    _tool(
        "memory__delete_entities",
        "Delete multiple entities and their associated relations from the knowledge graph",
        entityNames="An array of entity names to delete",
    ),
    *TOOLS,
]


def test_inflected_words_find_their_tool() -> None:
    """Stemming: "commits" is the definition's "commit", "shows" the query's "show"."""
    index = ToolIndex(GIT_AND_FILES)
    assert index.search("show the commits", 3)[0].tool.name == "git__git_log"
    assert index.search("which branch is checked out", 3)[0].tool.name == "git__git_branch"


def test_everyday_words_find_technical_tools() -> None:
    """A user says "folder", "picture", "forget"; the definitions say "directory", "image", "delete"."""
    index = ToolIndex(GIT_AND_FILES)
    assert index.search("make a folder called reports", 3)[0].tool.name == "filesystem__create_directory"
    assert index.search("show me a small picture", 3)[0].tool.name == "everything__get-tiny-image"
    assert index.search("forget what you know about Charlie", 3)[0].tool.name == "memory__delete_entities"


def test_the_document_carries_everyday_words_for_any_inflection() -> None:
    by_name = {tool.name: tool for tool in GIT_AND_FILES}
    assert "folder" in document_of(by_name["filesystem__list_directories"])  # "directories"
    assert "picture" in document_of(by_name["everything__get-tiny-image"])
    assert "folder" not in document_of(by_name["git__git_log"])
