"""Message extraction for the catalogues: gettext calls, and the words the API reference page shows.

The API reference (/api/docs) shows each operation's `summary=`, each field's `description=` and each tag's name
and description. They are plain arguments, not gettext calls (the OpenAPI JSON stays English for programs), so
babel's Python extractor does not see them; this one yields them too, and the page translates them as it renders.
babel.cfg names it for `**.py`; tests/app/test_i18n.py checks every catalogue against it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import IO, Any

from babel.messages.extract import extract_python

# Call name -> the keyword arguments whose string constant the API reference shows.
API_WORDS = {"endpoint": ("summary",), "Field": ("description",), "ApiBlueprint": ("tag",)}
# The marker of words built in a loop or from values (app.web.endpoints.api_words): its first argument.
MARKER = "api_words"
# A module-level dict of tag names to descriptions (app.web.openapi.TAGS): keys and values are shown.
TAG_TABLE = "TAGS"


def api_words(source: str) -> Iterator[tuple[int, str]]:
    """Yield (line, text) for every API reference word declared in a module's source."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name == MARKER and node.args and _is_text(node.args[0]):
                yield node.args[0].lineno, node.args[0].value
            for keyword in node.keywords:
                if keyword.arg in API_WORDS.get(name, ()) and _is_text(keyword.value):
                    yield keyword.value.lineno, keyword.value.value
        elif _is_tag_table(node):
            for item in (*node.value.keys, *node.value.values):
                if item is not None and _is_text(item):
                    yield item.lineno, item.value


def _is_tag_table(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Dict)
        and any(isinstance(target, ast.Name) and target.id == TAG_TABLE for target in node.targets)
    )


def _is_text(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and bool(node.value)


def extract_python_and_api_words(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: dict
) -> Iterator[tuple[int, str, str, list[str]]]:
    """Yield babel's messages of a Python file, then the API reference words it declares."""
    yield from extract_python(fileobj, keywords, comment_tags, options)
    fileobj.seek(0)
    source = fileobj.read().decode(options.get("encoding", "utf-8"))
    for line, text in api_words(source):
        yield line, "", text, []
