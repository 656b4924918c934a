"""Extraction and normalisation of model responses (pure string processing, no rendering)."""

import ast

from visual_erm.render.execute import CHART_OUTPUT
from visual_erm.render.extract import (
    extract_chart_code,
    extract_svg,
    extract_table_html,
    normalize_chart_program,
    strip_save_show,
)


def test_last_python_block_wins():
    resp = "text\n```python\nprint(1)\n```\nmore\n```python\nimport numpy as np\nx = 2\n```\n```bash\nls\n```"
    assert extract_chart_code(resp) == "import numpy as np\nx = 2"


def test_no_python_block_is_none():
    assert extract_chart_code("just prose, no code") is None
    assert extract_chart_code("```js\nconsole.log(1)\n```") is None


def test_unterminated_block_runs_to_end():
    assert extract_chart_code("```python\nx = 1\ny = 2") == "x = 1\ny = 2"


def test_normalise_prepends_import_and_appends_one_save():
    prog = normalize_chart_program("plt.plot([1, 2])\nplt.savefig('a.png', dpi=300)\nplt.show()", dpi=120)
    tree = ast.parse(prog)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") in ("savefig", "show")]
    assert len(calls) == 1
    assert calls[0].args[0].value == CHART_OUTPUT
    assert {k.arg: k.value.value for k in calls[0].keywords} == {"dpi": 120}
    assert prog.startswith("import matplotlib.pyplot as plt")


def test_existing_import_is_not_duplicated():
    prog = normalize_chart_program("import matplotlib.pyplot as plt\nplt.plot([1])")
    assert prog.count("import matplotlib.pyplot as plt") == 1


def test_strip_handles_nested_blocks_and_fig_methods():
    code = (
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\n"
        "if True:\n    fig.savefig('x.png')\n"
        "for i in range(2):\n    plt.show(block=True)\n"
        "def f():\n    plt.savefig('y')\n"
        "r = plt.show()\n"
    )
    out = strip_save_show(code)
    assert "savefig" not in out and "show" not in out
    ast.parse(out)  # still valid: emptied blocks got ``pass``


def test_strip_falls_back_to_regex_when_unparsable():
    code = "plt.plot([1]\n  plt.savefig('x.png')\nplt.show()\n"
    out = strip_save_show(code)
    assert "savefig" not in out and "show()" not in out
    assert "  pass" in out


def test_svg_last_block():
    resp = "```svg\n<svg>a</svg>\n```\n```svg\n<svg width='2'><rect/></svg>\n```"
    assert extract_svg(resp) == "<svg width='2'><rect/></svg>"


def test_svg_from_first_tag_with_dangling_tag_closed():
    resp = 'Here you go: <svg xmlns="http://www.w3.org/2000/svg"><rect x="1" y="2"'
    assert extract_svg(resp) == '<svg xmlns="http://www.w3.org/2000/svg"><rect x="1" y="2"/></svg>'


def test_svg_dangling_unclosable_tag_dropped():
    resp = '<svg><circle r="4"/><rect x="1'
    assert extract_svg(resp) == '<svg><circle r="4"/></svg>'


def test_svg_complete_document_kept_and_trailing_text_cut():
    assert extract_svg("x <svg><g/></svg> trailing") == "<svg><g/></svg>"
    assert extract_svg("no svg here") is None


def test_table_html_raw_and_fenced():
    assert extract_table_html("Sure!\n<table><tr><td>1</td></tr></table>\nDone") == "<table><tr><td>1</td></tr></table>"
    fenced = "```html\n<html><body><table><tr><td>a</td></tr></table></body></html>\n```"
    assert extract_table_html(fenced) == "<table><tr><td>a</td></tr></table>"
    assert extract_table_html("<table><tr><td>cut") == "<table><tr><td>cut</table>"


def test_table_markdown_converted():
    md = "Result:\n\n| a | b |\n|---|:-:|\n| 1 | 2 |\n| 3 | 4 |\n\nthanks"
    html = extract_table_html(md)
    assert html.startswith("<table>") and html.endswith("</table>")
    assert "<th>a</th>" in html and "<td>4</td>" in html.replace(' style="text-align:center"', "")


def test_table_none():
    assert extract_table_html("no table at all") == ""
