"""The page a table is rendered on, and how a job's source becomes that page.

Pure string work, no browser: :mod:`visual_erm.render.table` feeds the result to Chromium.

The page follows the paper's released code (see ``paper-notes.md``, "Rendering conventions"): white background,
20 px margin, collapsed borders, Arial 14 px (Liberation Sans, metric-compatible, is what fontconfig serves for Arial
on Debian), 1 px #333 cell borders, 6 px/10 px cell padding.

Defence in depth around the untrusted HTML (the browser also runs with JavaScript off, offline, every request
aborted and, where bubblewrap works, in a network namespace with nothing in it):

* ``<meta>`` (``http-equiv=refresh`` / ``set-cookie`` / CSP overrides), ``<base>`` and ``<link>`` (stylesheets,
  preconnect, DNS prefetch: a preconnect opens a socket without any request a route could abort) are removed, and
  so are frames (``<iframe>`` with its content, ``<frame>``, ``<frameset>``…): Chromium preconnects to an iframe's
  origin even when CSP, offline mode and the aborted route stop the request itself;
* a Content-Security-Policy ``<meta>`` at the top of the page forbids every fetch but inline styles and ``data:``
  images/fonts, and all frames, objects, forms and base URLs.
"""

from __future__ import annotations

import html as _html
import re

#: Content-Security-Policy for the page: nothing may be fetched, framed, embedded or submitted.
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; media-src 'none'; "
    "frame-src 'none'; child-src 'none'; object-src 'none'; form-action 'none'; base-uri 'none'; "
    "script-src 'none'; connect-src 'none'; worker-src 'none'; manifest-src 'none'"
)

#: The paper's table page style.
PAGE_CSS = (
    "html{background:#fff}"
    "body{margin:20px;background:#fff;color:#000;"
    "font-family:Arial,'Liberation Sans',Helvetica,sans-serif;font-size:14px}"
    "table{border-collapse:collapse}"
    "th,td{border:1px solid #333;padding:6px 10px}"
)

#: Appended after the content (so it comes last in the cascade): nothing may move between layout and screenshot.
FREEZE_CSS = "*,*::before,*::after{animation:none!important;transition:none!important;caret-color:transparent!important}"

PAGE_TEMPLATE = (
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
    '<meta http-equiv="Content-Security-Policy" content="{csp}">'
    "<style>{css}</style></head><body>\n{content}\n<style>{freeze}</style></body></html>"
)

_TABLE_TAG = re.compile(r"<\s*table\b", re.IGNORECASE)
# Tags removed from the untrusted HTML wherever they appear (a void tag: drop the tag itself).
# Quoted attribute values may contain '>' (``content='0;url=data:text/html,<b>'``); over-matching a malformed
# tag is harmless (more is removed), under-matching would leave the tail of the tag as text.
_DANGEROUS_VOID = re.compile(r"""<\s*(?:meta|base|link)\b(?:[^>"']|"[^"]*"|'[^']*')*>?""", re.IGNORECASE)
# Frames are removed whole. Measured here: with JS off, offline, every route aborted and a CSP of frame-src
# 'none', Chromium still opens a (speculative, empty) TCP connection to an <iframe src=http://...> origin. Content
# between <iframe> and </iframe> is raw text the browser never shows, so it goes too (to the end when unclosed).
_ATTRS = r"""(?:[^>"']|"[^"]*"|'[^']*')*"""
_IFRAME = re.compile(r"<\s*iframe\b" + _ATTRS + r">?.*?(?:<\s*/\s*iframe\s*>|\Z)", re.IGNORECASE | re.DOTALL)
_FRAME_TAGS = re.compile(r"<\s*/?\s*(?:frame|frameset|fencedframe|portal)\b" + _ATTRS + r">?", re.IGNORECASE)
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_TABLE_SPAN = re.compile(r"<\s*table\b.*</\s*table\s*>", re.IGNORECASE | re.DOTALL)
_MD_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$")


def has_table_html(text: str) -> bool:
    return bool(_TABLE_TAG.search(text or ""))


def sanitize_html(fragment: str) -> str:
    """Remove what acts outside the page's box: meta (refresh, CSP, cookies), base, link and frames."""
    return _FRAME_TAGS.sub("", _IFRAME.sub("", _DANGEROUS_VOID.sub("", fragment)))


def build_page(fragment: str) -> str:
    """The full HTML document for one table fragment (already extracted; sanitized here)."""
    return PAGE_TEMPLATE.format(csp=_html.escape(PAGE_CSP, quote=True), css=PAGE_CSS, freeze=FREEZE_CSS,
                                content=sanitize_html(fragment))


# ---------------------------------------------------------------------------------------------------------------
# Extraction. The shared extractor (visual_erm.render.extract.extract_table_html) is preferred when it exists; the
# private fallback below mirrors the released code's behaviour as documented in paper-notes.md.
# ---------------------------------------------------------------------------------------------------------------


def _markdown_table_block(text: str) -> str | None:
    """The first markdown pipe table in ``text`` (header line, separator line, body lines), or None."""
    lines = text.splitlines()
    for i in range(len(lines) - 1):
        if "|" in lines[i] and _MD_SEPARATOR.match(lines[i + 1]) and "-" in lines[i + 1]:
            j = i + 2
            while j < len(lines) and "|" in lines[j] and lines[j].strip():
                j += 1
            return "\n".join(lines[i:j])
    return None


def markdown_table_to_html(text: str) -> str | None:
    """Convert the first markdown pipe table in ``text`` to HTML with markdown-it-py (raw HTML disabled)."""
    block = _markdown_table_block(text)
    if block is None:
        return None
    from markdown_it import MarkdownIt

    out = MarkdownIt("commonmark", {"html": False}).enable("table").render(block)
    return out if has_table_html(out) else None


def _fallback_extract_table_html(text: str) -> str | None:
    """Private fallback: the last ```html fence, else the outermost <table>…</table>, else a markdown table."""
    if not text:
        return None
    candidates = [body for lang, body in _FENCE.findall(text) if lang.lower() in ("html", "htm", "")]
    for body in reversed(candidates):
        if has_table_html(body):
            return body.strip()
    m = _TABLE_SPAN.search(text)
    if m:
        return m.group(0)
    if has_table_html(text):  # an unclosed table: the parser closes it
        return text[_TABLE_TAG.search(text).start():]
    for lang, body in reversed(_FENCE.findall(text)):
        md = markdown_table_to_html(body)
        if md:
            return md
    return markdown_table_to_html(text)


def _shared_extractor():
    try:
        from visual_erm.render.extract import extract_table_html  # written by the sandbox-pool work
    except ImportError:
        return None
    return extract_table_html


def extractor_name() -> str:
    return "visual_erm.render.extract.extract_table_html" if _shared_extractor() else "table_page fallback"


def table_fragment(source: str, *, extract: bool) -> str | None:
    """The table HTML to render for a job's source, or None when there is none (the job is rejected).

    HTML sources are used as they are unless ``extract`` is set; a model response (``extract=True``) or a source with
    no ``<table`` (e.g. a markdown pipe table) goes through the extractor.
    """
    if not extract and has_table_html(source):
        return source
    fn = _shared_extractor()
    out = None
    if fn is not None:
        out = fn(source)
        if isinstance(out, tuple):  # tolerate (html, info)-style returns
            out = out[0]
    else:
        out = _fallback_extract_table_html(source)
    if not out or not has_table_html(out):
        return None
    return out
