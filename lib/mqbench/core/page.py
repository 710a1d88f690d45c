"""Self-contained HTML pages (report, comparison, run index): sections with anchors, tables that scroll
in their own box, figures embedded as PNG with a caption and alt text, no script and no network.

A page notebook (``report.ipynb``, ``compare.ipynb``) displays these fragments; :func:`from_notebook`
gathers an executed notebook's HTML and Markdown outputs (never its code) into one document: the first section (the
answer) open, then a section list that stays on screen, then every other section collapsed under its heading.
"""
from __future__ import annotations

import base64
import hashlib
import html
import io
import re
from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd
from nbconvert.filters import markdown2html

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; padding: 0 24px 48px;
       max-width: 1180px; color: #1b1f24; box-sizing: border-box; }
h1 { font-size: 1.7em; margin: 24px 0 8px; } h2 { font-size: 1.3em; margin-top: 36px; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 1.08em; margin-top: 22px; }
p, li { max-width: 100%; overflow-wrap: anywhere; }
figure { margin: 14px 0 22px; max-width: 100%; }
figcaption { font-size: 0.9em; color: #57606a; margin: 4px 0 6px; }
.scroll { overflow-x: auto; max-width: 100%; border: 1px solid #d0d7de; border-radius: 4px; }
table { border-collapse: collapse; font-size: 0.86em; white-space: nowrap; }
th, td { padding: 3px 8px; border-bottom: 1px solid #eaeef2; text-align: right; }
th { background: #f6f8fa; position: sticky; top: 0; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; height: auto; }
nav { position: sticky; top: 0; z-index: 2; background: #fff; border-bottom: 1px solid #d0d7de; padding: 4px 0;
      font-size: 0.88em; display: flex; gap: 10px; align-items: baseline; }
nav ul { display: flex; gap: 14px; margin: 0; padding: 0; list-style: none; overflow-x: auto; white-space: nowrap; }
nav a, a { color: #0969da; }
details > summary { cursor: pointer; list-style: none; } details > summary h2 { display: inline-block; width: 96%; }
details > summary::before { content: "▸ "; color: #57606a; } details[open] > summary::before { content: "▾ "; }
.verdict-different { background: #ffebe9; } .verdict-equivalent { background: #dafbe1; }
.verdict-better { background: #ddf4ff; } .wrap table { white-space: normal; } .wrap td { text-align: left; }
.verdict-inconclusive { background: #fff8c5; } .meta { color: #57606a; font-size: 0.92em; }
pre { overflow-x: auto; background: #f6f8fa; padding: 8px; }
"""


def anchor(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def heading(text: str, level: int = 2, anchor_id: str | None = None) -> str:
    return f'<h{level} id="{anchor_id or anchor(text)}">{html.escape(text)}</h{level}>'


def paragraph(markdown: str) -> str:
    return markdown2html(markdown)


def section(title: str, text: str, *parts: str) -> str:
    """A section: its heading (with an anchor), what it shows (Markdown), then its figures and tables."""
    return heading(title) + paragraph(text) + "".join(parts)


@dataclass(frozen=True)
class Section:
    """A part of a page: its title, what it shows (Markdown, naming the code that made it) and ``build``, which
    turns a run (the report's ``Run``) into figures and tables as HTML, or None when there is nothing to show. It
    lives here, below every layer, so a study module can declare its own (:mod:`mqbench.core.studies`)."""
    title: str
    text: str
    build: Callable[[Any], list | None]

    def __call__(self, run) -> str:
        parts = self.build(run)
        if not parts:
            return ""
        text, made_by = reader_text(self.text)
        return section(self.title, text, *parts, made_by)


_REF = re.compile(r"`(mqbench\.[\w.]+)`")


def reader_text(text: str) -> tuple[str, str]:
    """``text`` without module paths (a parenthesis that names one goes, so does a "Made by …" sentence), and a
    footnote naming them: a reader gets the prose, and from the footnote to the code in one hop."""
    refs = list(dict.fromkeys(_REF.findall(text)))
    if not refs:
        return text, ""
    masked = _REF.sub(lambda m: f"\x00{refs.index(m.group(1))}\x00", text)  # no dots inside a reference
    masked = re.sub(r"\s*\([^()]*\x00[^()]*\)", "", masked)
    masked = re.sub(r"\s*(?:Made by|How this was made:)[^.]*\x00[^.]*\.", "", masked)
    prose = re.sub(r"\x00(\d+)\x00", lambda m: refs[int(m.group(1))].rsplit(".", 1)[-1].replace("_", " "), masked)
    return prose.strip(), paragraph("<span class=\"meta\">How this was made: " + ", ".join(
        f"`{r}`" for r in refs) + ".</span>")


def table(frame, caption: str, anchor_id: str | None = None, row_class=None, precision: int = 3,
          wrap: bool = False) -> str:
    """A table in a scrolling box with its caption; ``row_class(row) -> str`` adds a class per row; ``wrap`` lets
    its text wrap (a table of sentences) instead of scrolling sideways."""
    if isinstance(frame, pd.DataFrame):
        if frame.empty:
            return paragraph(f"*{caption}: nothing recorded.*")
        frame = frame.reset_index(drop=True)
        if {"variant", "mq"} <= set(frame) and (frame["variant"].astype(str) == frame["mq"].astype(str)).all():
            frame = frame.drop(columns="mq")  # the variant already says it
        for column in frame.columns[frame.dtypes == object]:
            if frame[column].map(lambda v: isinstance(v, (list, tuple, dict))).any():
                frame[column] = frame[column].map(lambda v: _compact(v) if isinstance(v, (list, tuple, dict)) else v)
        styler = frame.style.hide(axis="index").format(precision=precision, na_rep="—", thousands=",")
        whole = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c]) and frame[c].notna().any()
                 and (frame[c].dropna() % 1 == 0).all() and frame[c].dropna().abs().max() >= 1]
        if whole:  # counts, bytes, dims: integers, never "100,000.000"
            styler = styler.format("{:,.0f}", subset=whole, na_rep="—")
        mixed = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c]) and c not in whole]
        if mixed:  # a whole value of 100 or more in a column of fractions: as an integer too
            styler = styler.format(lambda v: "—" if pd.isna(v) else f"{v:,.0f}" if abs(v) >= 100 and v % 1 == 0
                                   else f"{v:,.{precision}f}", subset=mixed)
        text = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
        if text:
            styler = styler.set_properties(subset=text, **{"text-align": "left"})
        if row_class is not None:
            classes = pd.DataFrame([[row_class(r)] * frame.shape[1] for r in frame.to_dict("records")],
                                   index=frame.index, columns=frame.columns)
            styler = styler.set_td_classes(classes)
    else:
        styler = frame
    # ids from the content, not pandas' random ones: a rebuilt page is the same page
    digest = hashlib.sha1((caption + styler.data.to_csv()).encode()).hexdigest()[:8]
    body = styler.set_uuid(digest).to_html()
    ident = f' id="{anchor_id}"' if anchor_id else ""
    kind = ' class="wrap"' if wrap else ""
    return (f'<figure{ident}{kind}><figcaption>{html.escape(caption)}</figcaption>'
            f'<div class="scroll">{body}</div></figure>')


def figure(fig, caption: str, alt: str) -> str:
    """A matplotlib figure as an embedded PNG with alt text and a caption (the figure is closed)."""
    if fig is None:
        return ""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode()
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def key_values(pairs: dict, caption: str) -> str:
    """A two-column table of names and values (lists and mappings shown compactly)."""
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_compact(v))}</td></tr>" for k, v in pairs.items())
    return (f'<figure><figcaption>{html.escape(caption)}</figcaption><div class="scroll"><table>{rows}</table>'
            "</div></figure>")


def _compact(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_compact(v)}" for k, v in value.items()) or "{}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_compact(v) for v in value) + "]"
    return str(value)


def nav(sections: list[tuple[str, str]]) -> str:
    items = "".join(f'<li><a href="#{a}">{html.escape(t)}</a></li>' for a, t in sections)
    return f'<nav aria-label="sections"><strong>Sections</strong><ul>{items}</ul></nav>'


def document(title: str, body: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>{body}</body></html>")


_H2 = re.compile(r'<h2 id="([^"]+)">(.*?)</h2>', re.S)


def from_notebook(path, title: str) -> str:
    """The HTML and Markdown outputs of an executed notebook, in order, as one document (its own Markdown
    cells, written for JupyterLab, are left out), with a navigation list of its sections after the first one."""
    import nbformat  # only for a notebook page (a notebook kernel never needs it)

    nb = nbformat.read(path, as_version=4)
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = out.get("data", {})
            if "text/html" in data:
                parts.append(data["text/html"])
            elif "text/markdown" in data:
                parts.append(markdown2html(data["text/markdown"]))
    return document(title, collapse_details("\n".join(parts)))


def collapse_details(body: str) -> str:
    """The first section (the answer) open; after it the section list, kept on screen, then every other section
    collapsed under its own heading (a click on the heading, or a link to it, opens it)."""
    heads = list(_H2.finditer(body))
    if len(heads) < 2:
        return body
    sections = [(m.group(1), html.unescape(re.sub("<[^>]+>", "", m.group(2)))) for m in heads]
    out = [body[:heads[1].start()], nav(sections)]
    for i, m in enumerate(heads[1:], 1):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(body)
        out.append(f"<details><summary>{m.group(0)}</summary>{body[m.end():end]}</details>")
    return "".join(out)
