"""TEDS and TEDS-S (Tree-Edit-Distance-based Similarity), as PubTabNet's reference ``metric.py`` computes them.

Definition (Zhong et al., "Image-based table recognition", and the reference code):

* Parse both HTML strings with lxml's HTML parser (comments removed) and keep only the ``<table>`` subtree.
* Build a tree of the table's elements. A *cell* (``td``; also ``th`` by default here, see ``cell_tags``) is a leaf
  that carries ``colspan``, ``rowspan`` (default 1) and its content tokenised as in the reference: for every element
  inside the cell an opening token ``<tag>``, the element's text as single characters, its children recursively,
  a closing token ``</tag>``, then its tail text as characters (so ``<td>a<b>bc</b></td>`` →
  ``['a', '<b>', 'b', 'c', '</b>']``). Elements inside a cell are not tree nodes. Every other element is a node
  whose children are its child elements.
* Tree edit distance with APTED: insert and delete cost 1; rename costs 1 when tag, colspan or rowspan differ,
  otherwise (two cells) the normalised Levenshtein distance of the two token lists (0 when both are empty).
* ``TEDS = 1 − distance / max(n_pred, n_true)``, where ``n`` is the number of *descendant elements* of
  ``<table>`` (``len(table.xpath('.//*'))``: the table itself not counted, elements inside cells counted — this is
  the reference's denominator, quirks included).
* TEDS-S: the same with every cell's content emptied (structure only).
* An empty prediction or ground truth scores 0.0, as does an input with no ``<table>``. Scores are clamped at 0
  (the reference's formula can dip below 0 only for degenerate, nearly disjoint trees; no published value does).

Where the table is looked for: the reference takes ``body/table`` of the parsed document only. With
``strict_reference=True`` this is reproduced exactly (a table nested in a ``<div>`` scores 0); by default a bare
``<table>…</table>`` string or a table anywhere in the document is accepted too (first one in document order).
For documents where the table is the direct child of ``<body>`` both choices give identical scores.

``cell_tags``: the reference tokenises only ``td``. ``th`` is treated as a cell too by default (header cells are
common in model output); pass ``cell_tags=("td",)`` for the reference's exact handling of ``th``. PubTabNet ground
truth has no ``th``, so the published values are unaffected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from apted import APTED, Config
from lxml import etree, html
from rapidfuzz.distance import Levenshtein

__all__ = ["TableTree", "TEDS", "teds", "teds_s", "score_corpus", "TEDSCorpusResult"]


class TableTree:
    """A node of the APTED tree: tag, colspan/rowspan (cells only), content tokens (cells only), children."""

    __slots__ = ("tag", "colspan", "rowspan", "content", "children")

    def __init__(self, tag: str, colspan: int | None = None, rowspan: int | None = None,
                 content: list[str] | None = None, children: list["TableTree"] | None = None):
        self.tag = tag
        self.colspan = colspan
        self.rowspan = rowspan
        self.content = content
        self.children = children if children is not None else []

    def bracket(self) -> str:
        """Bracket notation, as the reference prints trees (for debugging)."""
        if self.content is not None:
            result = f'"tag": {self.tag}, "colspan": {self.colspan}, "rowspan": {self.rowspan}, "text": {self.content}'
        else:
            result = f'"tag": {self.tag}'
        for child in self.children:
            result += child.bracket()
        return "{" + result + "}"


class _TEDSConfig(Config):
    """APTED costs of the reference: insert/delete 1 (APTED defaults), rename as documented above."""

    @staticmethod
    def normalized_distance(a: Sequence[str], b: Sequence[str]) -> float:
        longest = max(len(a), len(b))
        return Levenshtein.distance(a, b) / longest if longest else 0.0

    def rename(self, node1: TableTree, node2: TableTree) -> float:
        if node1.tag != node2.tag or node1.colspan != node2.colspan or node1.rowspan != node2.rowspan:
            return 1.0
        if node1.content is not None and (node1.content or node2.content):
            return self.normalized_distance(node1.content, node2.content or [])
        return 0.0

    def children(self, node: TableTree) -> list[TableTree]:
        return node.children


def _span(value: str | None) -> int:
    """colspan/rowspan as an int; the reference uses ``int(attr)``, lenient here for junk like ``"2px"``/empty."""
    if value is None:
        return 1
    digits = "".join(ch for ch in str(value).strip() if ch.isdigit())
    return int(digits) if digits else 1


def _tag(node) -> str:
    # Comments/processing instructions are removed by the parser; entities and other oddities get a stable name.
    return node.tag if isinstance(node.tag, str) else str(node.tag)


def _tokenize(node, out: list[str], cell_tags: frozenset[str]) -> None:
    """The reference's ``TEDS.tokenize``: ``<tag>``, text chars, children, ``</tag>``, tail chars (non-cells)."""
    tag = _tag(node)
    out.append(f"<{tag}>")
    if node.text is not None:
        out.extend(node.text)
    for child in node:
        _tokenize(child, out, cell_tags)
    if tag != "unk":
        out.append(f"</{tag}>")
    if tag not in cell_tags and node.tail is not None:
        out.extend(node.tail)


def _cell_tokens(cell, cell_tags: frozenset[str]) -> list[str]:
    tokens: list[str] = []
    _tokenize(cell, tokens, cell_tags)
    return tokens[1:-1]  # drop the cell's own <td> and </td>


def _build_tree(node, structure_only: bool, cell_tags: frozenset[str]) -> TableTree:
    tag = _tag(node)
    if tag in cell_tags:
        content = [] if structure_only else _cell_tokens(node, cell_tags)
        return TableTree(tag, _span(node.attrib.get("colspan")), _span(node.attrib.get("rowspan")), content)
    return TableTree(tag, None, None, None, [_build_tree(child, structure_only, cell_tags) for child in node])


def _find_table(doc, strict_reference: bool):
    if strict_reference:
        found = doc.xpath("body/table")
        return found[0] if found else None
    if _tag(doc) == "table":
        return doc
    found = doc.xpath("body/table")
    if found:
        return found[0]
    found = doc.xpath(".//table")
    return found[0] if found else None


@dataclass(frozen=True)
class TEDS:
    """A configured TEDS scorer. ``TEDS()(pred, true)`` → TEDS; ``TEDS(structure_only=True)`` → TEDS-S.

    ``ignore_nodes``: tags stripped (children kept) before scoring, like the reference's option of the same name.
    """

    structure_only: bool = False
    ignore_nodes: tuple[str, ...] | None = None
    cell_tags: tuple[str, ...] = ("td", "th")
    strict_reference: bool = False

    def _parse(self, text: str):
        parser = html.HTMLParser(remove_comments=True, encoding="utf-8")
        data = text.encode("utf-8") if isinstance(text, str) else text
        try:
            doc = html.fromstring(data, parser=parser)
        except (etree.ParserError, etree.XMLSyntaxError, ValueError):
            return None
        return _find_table(doc, self.strict_reference)

    def __call__(self, pred: str | None, true: str | None) -> float:
        return self.evaluate(pred, true)

    def evaluate(self, pred: str | None, true: str | None) -> float:
        """TEDS (or TEDS-S) of one prediction against one ground truth, in [0, 1]."""
        if not pred or not true or not str(pred).strip() or not str(true).strip():
            return 0.0
        pred_table, true_table = self._parse(pred), self._parse(true)
        if pred_table is None or true_table is None:
            return 0.0
        if self.ignore_nodes:
            etree.strip_tags(pred_table, *self.ignore_nodes)
            etree.strip_tags(true_table, *self.ignore_nodes)
        n_nodes = max(len(pred_table.xpath(".//*")), len(true_table.xpath(".//*")))
        cells = frozenset(self.cell_tags)
        tree_pred = _build_tree(pred_table, self.structure_only, cells)
        tree_true = _build_tree(true_table, self.structure_only, cells)
        if n_nodes == 0:  # two empty <table/>s: identical; an empty one vs a non-empty one cannot reach here
            return 1.0
        distance = APTED(tree_pred, tree_true, _TEDSConfig()).compute_edit_distance()
        return max(0.0, 1.0 - float(distance) / n_nodes)  # clamp: see module docstring

    def batch(self, preds: Mapping[str, str | None], trues: Mapping[str, str]) -> dict[str, float]:
        """Score every key of ``trues``; a missing prediction scores 0.0 (as in the reference's batch_evaluate)."""
        return {key: self.evaluate(preds.get(key) or "", trues[key]) for key in trues}


def teds(pred: str | None, true: str | None, **options) -> float:
    """TEDS of one pair (options as :class:`TEDS`)."""
    return TEDS(structure_only=False, **options).evaluate(pred, true)


def teds_s(pred: str | None, true: str | None, **options) -> float:
    """TEDS-S (structure only) of one pair (options as :class:`TEDS`)."""
    return TEDS(structure_only=True, **options).evaluate(pred, true)


@dataclass(frozen=True)
class TEDSCorpusResult:
    teds: dict[str, float]
    teds_s: dict[str, float]

    @property
    def mean_teds(self) -> float:
        return sum(self.teds.values()) / len(self.teds) if self.teds else 0.0

    @property
    def mean_teds_s(self) -> float:
        return sum(self.teds_s.values()) / len(self.teds_s) if self.teds_s else 0.0


def score_corpus(preds: Mapping[str, str | None], trues: Mapping[str, str], keys: Iterable[str] | None = None,
                 **options) -> TEDSCorpusResult:
    """TEDS and TEDS-S for every key (default: every key of ``trues``); means are unweighted over keys."""
    keys = list(keys) if keys is not None else list(trues)
    t, s = TEDS(structure_only=False, **options), TEDS(structure_only=True, **options)
    return TEDSCorpusResult(
        teds={k: t.evaluate(preds.get(k) or "", trues[k]) for k in keys},
        teds_s={k: s.evaluate(preds.get(k) or "", trues[k]) for k in keys},
    )
