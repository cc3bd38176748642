"""The leaderboard as one self-contained HTML page people can navigate, sort and share.

The page holds everything it shows: figures are embedded as PNG data, the style and the small
sorting script are inline, nothing is fetched. Headings get anchors and a table of contents;
every table scrolls sideways inside its own box, keeps its header row in view while the page
scrolls, and sorts by any column on a click (numbers by value, a ``before → after`` cell by
its first value, "—" and "n/a" last). Labels (the anchoring verdicts) are compact badges
coloured by meaning.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable

from frlbench.report.document import Block, Bullets, Heading, Image, Paragraph, Table

#: Reads a figure's PNG bytes by its stem (path relative to the page, no extension); ``None``
#: when it is missing, and the page then links the file instead of embedding it.
FigureReader = Callable[[str], bytes | None]

#: Badge colour classes by the words a label starts with (first match wins).
_BADGES = (
    ("improves", "good"),
    ("anchored", "warn"),
    ("scale anchoring", "warn"),
    ("degrades", "bad"),
    ("discretization", "bad"),
    ("both", "bad"),
    ("no skill", "muted"),
    ("n/a", "muted"),
    ("diverged", "muted"),
)

_CSS = """
:root { --ink: #222; --rule: #ddd; --head: #f4f4f6; }
body { font-family: system-ui, sans-serif; max-width: 1400px; margin: 2em auto; padding: 0 1em;
       color: var(--ink); line-height: 1.45; }
nav.toc { border: 1px solid var(--rule); border-radius: 6px; padding: 0.4em 1em;
          margin: 1em 0 1.5em; font-size: 0.92em; }
nav.toc ul { margin: 0.2em 0; padding-left: 1.2em; }
nav.toc li.level3 { margin-left: 1.2em; font-size: 0.95em; }
h2, h3, h4 { scroll-margin-top: 0.5em; }
h2 a.anchor, h3 a.anchor { visibility: hidden; text-decoration: none; margin-left: 0.3em; }
h2:hover a.anchor, h3:hover a.anchor { visibility: visible; }
div.scroll { overflow: auto; max-height: 80vh; margin: 0.5em 0 0.3em;
             border: 1px solid var(--rule); border-radius: 4px; }
table { border-collapse: separate; border-spacing: 0; font-size: 0.88em; }
th, td { border-bottom: 1px solid var(--rule); padding: 0.25em 0.6em; white-space: nowrap; }
thead th { position: sticky; top: 0; background: var(--head); border-bottom: 2px solid #444;
           text-align: left; cursor: pointer; user-select: none; z-index: 1; }
thead th[aria-sort="ascending"]::after { content: " ▲"; font-size: 0.75em; }
thead th[aria-sort="descending"]::after { content: " ▼"; font-size: 0.75em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
span.badge { display: inline-block; padding: 0 0.45em; border-radius: 0.7em; font-size: 0.85em;
             background: #eee; color: #333; }
span.badge.good { background: #d9f2dd; color: #17652a; }
span.badge.warn { background: #fdf0cf; color: #7a5500; }
span.badge.bad { background: #fadcdc; color: #8a1c1c; }
span.badge.muted { background: #ececec; color: #666; }
p.note { font-size: 0.85em; color: #555; margin-top: 0; }
figure { margin: 1em 0; }
figure img { max-width: 100%; }
figcaption { font-size: 0.9em; color: #444; }
""".strip()

# Sorting: a click on a header sorts that table's body by the column, again reverses it.
_SCRIPT = """
(function () {
  function key(text) {
    var t = text.trim();
    if (t === "" || t === "\\u2014" || t.indexOf("n/a") === 0) return null;
    var m = t.replace(/\\u2212/g, "-").match(/[-+]?\\d*\\.?\\d+(?:e[-+]?\\d+)?\\s*([kMG]?)/i);
    if (!m) return t.toLowerCase();
    var scale = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}[m[1]] || 1;
    return parseFloat(m[0]) * scale;
  }
  function compare(a, b) {
    if (a === null || b === null) return (a === null) - (b === null);
    if (typeof a === typeof b) return a < b ? -1 : a > b ? 1 : 0;
    return typeof a === "number" ? -1 : 1;
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("thead th").forEach(function (th, column) {
      th.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        table.querySelectorAll("thead th").forEach(function (h) {
          h.removeAttribute("aria-sort");
        });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r, s) {
          var a = key(r.cells[column].textContent), b = key(s.cells[column].textContent);
          if (a === null || b === null) return compare(a, b);
          return ascending ? compare(a, b) : compare(b, a);
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
})();
""".strip()


def slug(text: str, taken: set[str]) -> str:
    """A unique anchor id for a heading (lower case, words joined by '-')."""
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def badge(label: str) -> str:
    """A label as badges: ``"a → b"`` becomes two badges with the arrow between them."""
    parts = [p.strip() for p in label.split("→")]
    if len(parts) > 1:
        return " → ".join(badge(p) for p in parts)
    lowered = label.lower()
    kind = next((cls for word, cls in _BADGES if lowered.startswith(word)), "")
    return f'<span class="badge {kind}">{html.escape(label)}</span>' if label else ""


def _table(block: Table) -> list[str]:
    esc = html.escape
    labels = {i for i, c in enumerate(block.columns) if c.lower() == "label"}
    head = "".join(f'<th scope="col">{esc(c)}</th>' for c in block.columns)
    body = []
    for row in block.rows:
        cells = []
        for i, (align, text) in enumerate(zip(block.aligns(), row, strict=True)):
            content = badge(text) if i in labels else esc(text)
            cells.append(
                f'<td class="num">{content}</td>' if align == "r" else f"<td>{content}</td>"
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    out = [f"<h4>{esc(block.title)}</h4>"] if block.title else []
    out.append(
        '<div class="scroll"><table class="sortable">'
        f"<thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body) + "\n</tbody></table></div>"
    )
    if block.note:
        out.append(f'<p class="note">{esc(block.note)}</p>')
    return out


def _figure(block: Image, read_figure: FigureReader | None) -> str:
    esc = html.escape
    data = read_figure(block.stem) if read_figure is not None else None
    if data is not None:
        src = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    else:
        src = f"{esc(block.stem)}.png"
    return (
        f'<figure><img src="{src}" alt="{esc(block.caption)}">'
        f"<figcaption>{esc(block.caption)}</figcaption></figure>"
    )


def to_html(blocks: list[Block], read_figure: FigureReader | None = None) -> str:
    """The page: title, table of contents, then the blocks; figures embedded when readable.

    Args:
        blocks: The leaderboard document.
        read_figure: Returns a figure's PNG bytes by stem, or ``None`` (then the figure is
            linked by relative path, as a page without embedded figures would).
    """
    esc = html.escape
    title = next((b.text for b in blocks if isinstance(b, Heading) and b.level == 1), "")
    taken: set[str] = set()
    anchors = {
        id(b): slug(b.text, taken) for b in blocks if isinstance(b, Heading) and b.level in (2, 3)
    }
    toc = [
        f'<li class="level{b.level}"><a href="#{anchors[id(b)]}">{esc(b.text)}</a></li>'
        for b in blocks
        if id(b) in anchors
    ]
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title>",
        f"<style>\n{_CSS}\n</style>",
        "</head>",
        "<body>",
    ]
    for block in blocks:
        if isinstance(block, Heading):
            level = min(block.level, 6)
            anchor = anchors.get(id(block))
            if anchor is None:
                out.append(f"<h{level}>{esc(block.text)}</h{level}>")
            else:
                link = f'<a class="anchor" href="#{anchor}" aria-label="link to this section">#</a>'
                out.append(f'<h{level} id="{anchor}">{esc(block.text)}{link}</h{level}>')
            if level == 1 and toc:
                out.append('<nav class="toc"><strong>Contents</strong><ul>')
                out += toc
                out.append("</ul></nav>")
        elif isinstance(block, Paragraph):
            lead = f"<strong>{esc(block.lead)}</strong> " if block.lead else ""
            out.append(f"<p>{lead}{esc(block.text)}</p>")
        elif isinstance(block, Bullets):
            out.append("<ul>" + "".join(f"<li>{esc(i)}</li>" for i in block.items) + "</ul>")
        elif isinstance(block, Table):
            out += _table(block)
        elif isinstance(block, Image):
            out.append(_figure(block, read_figure))
    out += [f"<script>\n{_SCRIPT}\n</script>", "</body>", "</html>"]
    return "\n".join(out) + "\n"
