"""Sphinx extension: the docstrings' plain-text mathematics rendered as written.

The package's docstrings are written to be read in a terminal (``help()``, ``?`` in IPython):
formulas in plain text, norms as ``|x|``, subscripts as ``D_-``, displayed formulas as indented
blocks after a line of prose. reStructuredText reads three of these differently
(``|x|`` a substitution, ``D_`` a hyperlink reference, a formula's continuation line an
unexpected indentation). Before numpydoc and docutils see a docstring, this extension
(``autodoc-process-docstring``) rewrites it so that it renders as written:

* :func:`literal_formulas`: an indented block after a prose line becomes a literal block
  (monospace, alignment kept);
* :func:`escape_prose`: in the remaining prose (outside inline literals, roles, doctests and
  literal blocks) ``|`` becomes ``\\|`` and a word-final ``_`` becomes ``\\_``.
"""

from __future__ import annotations

import re
from typing import Any

_INLINE = re.compile(r"(``.+?``|:[a-z:]+:`[^`]+`|`[^`]+`__?)")
_WORD_FINAL_UNDERSCORE = re.compile(r"(?<=\w)_(?=[\s,.;:)\]+\-/*^]|$)")
_UNESCAPED_BAR = re.compile(r"(?<!\\)\|")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _is_doctest(stripped: str) -> bool:
    return stripped in (">>>", "...") or stripped.startswith((">>> ", "... "))


def literal_formulas(lines: list[str]) -> None:
    """Make each indented block after a prose line a literal block (in place).

    The prose line then ends in ``::`` (rendered ``:``) or, when it does not end in ``:``, in
    `` ::`` (rendered as nothing); reST would otherwise read the block as a block quote, and a
    formula's deeper-indented continuation line as an error.

    >>> doc = ["The loss:", "", "    L = |x - y|^2", "        + c", "", "done."]
    >>> literal_formulas(doc); doc[0]
    'The loss::'
    >>> doc = ["with D = 1 and", "", "    a = b", "", "done."]
    >>> literal_formulas(doc); doc[0]
    'with D = 1 and ::'
    """
    for i, line in enumerate(lines[:-2]):
        stripped = line.strip()
        if (
            not stripped
            or stripped.endswith("::")
            or stripped.startswith("..")
            or _is_doctest(stripped)
            or lines[i + 1].strip()
        ):
            continue
        following = next((x for x in lines[i + 2 :] if x.strip()), None)
        if following is None or _indent(following) <= _indent(line):
            continue
        if _is_doctest(following.strip()):
            continue
        lines[i] = line + (":" if stripped.endswith(":") else " ::")


def escape_prose(lines: list[str]) -> None:
    r"""Escape ``|`` and word-final ``_`` in the prose of ``lines`` (in place).

    Left alone: inline literals, roles and interpreted text, doctest lines and their output,
    and literal blocks (the indented lines after a line ending in ``::``).

    >>> doc = ["the norm |x - y| and ``|a|``, D_- and :math:`|b|`", ">>> 1 | 2", "3"]
    >>> escape_prose(doc); doc[0]
    'the norm \\|x - y\\| and ``|a|``, D\\_- and :math:`|b|`'
    """
    literal_indent: int | None = None
    in_doctest = False
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if literal_indent is not None:
            if stripped and _indent(line) <= literal_indent:
                literal_indent = None
            else:
                continue
        if _is_doctest(stripped):
            in_doctest = True
            continue
        if in_doctest:
            if stripped:
                continue  # the expected output of a doctest
            in_doctest = False
        parts = _INLINE.split(line)
        for k in range(0, len(parts), 2):  # the prose between inline literals and roles
            text = _UNESCAPED_BAR.sub(r"\\|", parts[k])
            parts[k] = _WORD_FINAL_UNDERSCORE.sub(r"\\_", text)
        lines[i] = "".join(parts)
        if stripped.endswith("::"):
            literal_indent = _indent(line)


def _process_docstring(
    app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    literal_formulas(lines)
    escape_prose(lines)


def setup(app: Any) -> dict[str, Any]:
    # before numpydoc (priority 500) turns the sections into reST: a Parameters entry is
    # "name : type", which neither rewrite touches
    app.connect("autodoc-process-docstring", _process_docstring, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
