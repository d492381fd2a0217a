"""Light Markdown for a terminal (pixir/present/markdown.py): what each construct becomes,
and the same output however the stream is cut into chunks."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from pixir.present.markdown import MarkdownStream

B, C, D, R = "\x1b[1m", "\x1b[36m", "\x1b[2m", "\x1b[0m"
SGR = re.compile(r"\x1b\[[0-9;]*m")

SAMPLE = """# Title here
Some **bold** and `code` and a*b*c and 2 * 3.
- item one
- item **two**
  - nested `x`
1. first
```python
def f(**kw):
    return `x`
```
## Sub
---
Done ``a ` b`` end"""


def render(text: str, size: int | None = None) -> str:
    md = MarkdownStream()
    if size is None:
        return md.feed(text) + md.flush()
    pieces = [md.feed(text[i : i + size]) for i in range(0, len(text), size)]
    return "".join(pieces) + md.flush()


def test_each_construct():
    out = render(SAMPLE).split("\n")
    assert out[0] == f"{B}Title here{R}"  # the #s go, the heading is bold
    assert out[1] == f"Some {B}bold{R} and {C}code{R} and a*b*c and 2 * 3."
    assert out[2] == "• item one"
    assert out[3] == f"• item {B}two{R}"
    assert out[4] == f"  • nested {C}x{R}"
    assert out[5] == "1. first"
    assert out[6] == f"{D}```python{R}"  # fences dimmed, kept
    assert out[7:9] == ["def f(**kw):", "    return `x`"]  # code is left alone
    assert out[9] == f"{D}```{R}"
    assert out[10] == f"{B}Sub{R}"
    assert out[11] == "---"
    assert out[12] == f"Done {C}a ` b{R} end"


def test_nothing_but_styles_is_added():
    assert SGR.sub("", render(SAMPLE)).replace("• ", "- ") == (
        SAMPLE.replace("# Title", "Title")
        .replace("## Sub", "Sub")
        .replace("**bold**", "bold")
        .replace("**two**", "two")
        .replace("`code`", "code")
        .replace("`x`\n1.", "x\n1.")
        .replace("``a ` b``", "a ` b")
    )


def test_a_style_never_outlives_its_line_or_the_message():
    out = render("**unclosed bold\nnext line `open code")
    first, second = out.split("\n")
    assert first.endswith(R) and second.endswith(R)
    assert "**" not in first and "next line " in second


def test_markers_at_the_end_are_shown_as_written():
    assert render("a lone *") == "a lone *"
    assert render("two * * stars") == "two * * stars"
    assert render("* * *") == "• * *"  # a rule written with stars reads as a bullet
    assert render("-") == "-" and render("#") == "#"
    assert render("#hashtag") == "#hashtag"


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=len(SAMPLE)))
def test_any_chunking_renders_the_same(size):
    assert render(SAMPLE, size) == render(SAMPLE)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab *`#-~\n12.", max_size=60), st.integers(min_value=1, max_value=7))
def test_arbitrary_text_renders_the_same_in_chunks_and_keeps_its_letters(text, size):
    whole = render(text)
    assert render(text, size) == whole
    assert SGR.sub("", whole).count("a") == text.count("a")
    assert SGR.sub("", whole).count("\n") == text.count("\n")
