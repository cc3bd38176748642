"""A tiny document model (headings, paragraphs, tables, figures) and its Markdown and LaTeX
writers (the HTML page is :mod:`frlbench.report.html`).

The leaderboard is built once as a list of blocks and written as Markdown, LaTeX and HTML
by plain string building (no tabulate, no jinja2), so the three files always agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# LaTeX for the non-ASCII characters the leaderboard uses.
_LATEX_SYMBOLS = {
    "→": r"$\to$",
    "±": r"$\pm$",
    "×": r"$\times$",
    "µ": r"$\mu$",
    "ρ": r"$\rho$",
    "δ": r"$\delta$",
    "≤": r"$\leq$",
    "≥": r"$\geq$",
    "≈": r"$\approx$",
    "²": r"$^2$",
    "·": r"$\cdot$",
    "—": "---",
    "–": "--",
    "−": "-",
    "|": r"$|$",
}
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}


@dataclass
class Heading:
    """A heading; level 1 is the document title."""

    text: str
    level: int = 2


@dataclass
class Paragraph:
    """A paragraph of plain text; ``lead`` is set in bold before it (e.g. "Verdict:")."""

    text: str
    lead: str = ""


@dataclass
class Bullets:
    """A list of plain-text items."""

    items: list[str]


@dataclass
class Table:
    """A table of display strings.

    Attributes:
        title: Shown above the table (LaTeX: the caption).
        columns: Header cells.
        rows: Body cells, one list per row, as many as ``columns``.
        note: Shown under the table.
        text: Indices of text columns, aligned left; the others are right-aligned numbers.
    """

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    note: str = ""
    text: tuple[int, ...] = (0,)

    def aligns(self) -> list[str]:
        """``"l"`` or ``"r"`` per column."""
        return ["l" if i in self.text else "r" for i in range(len(self.columns))]


@dataclass
class Image:
    """A figure file, by path relative to the document, without extension."""

    stem: str
    caption: str


Block = Heading | Paragraph | Bullets | Table | Image


_MD_SPECIAL = re.compile(r"([\\`*\[\]|])|<(?=[A-Za-z/!?])")


def markdown_escape(text: str) -> str:
    """Escape what Markdown would read as markup or HTML in user-provided text (names,
    reasons): backslash, backtick, ``*``, brackets, ``|`` and ``<`` opening a tag."""
    return _MD_SPECIAL.sub(lambda m: "\\" + (m.group(1) or "<"), text)


def to_markdown(blocks: list[Block]) -> str:
    """GitHub-flavoured Markdown; figures as PNG links."""

    def cell(text: str) -> str:
        return markdown_escape(text).replace("\n", " ")

    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {markdown_escape(block.text)}")
        elif isinstance(block, Paragraph):
            out.append(f"**{block.lead}** {block.text}" if block.lead else block.text)
        elif isinstance(block, Bullets):
            out.append("\n".join(f"- {cell(item)}" for item in block.items))
        elif isinstance(block, Table):
            lines = [f"**{block.title}**", ""] if block.title else []
            lines.append("| " + " | ".join(cell(c) for c in block.columns) + " |")
            aligns = [":---" if a == "l" else "---:" for a in block.aligns()]
            lines.append("| " + " | ".join(aligns) + " |")
            lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in block.rows]
            if block.note:
                lines += ["", f"*{block.note}*"]
            out.append("\n".join(lines))
        elif isinstance(block, Image):
            out.append(f"![{block.caption}]({block.stem}.png)\n\n*{block.caption}*")
    return "\n\n".join(out) + "\n"


def latex_escape(text: str) -> str:
    """Escape LaTeX specials and spell the leaderboard's symbols in math mode."""
    return "".join(_LATEX_SPECIAL.get(c, _LATEX_SYMBOLS.get(c, c)) for c in text)


def to_latex(blocks: list[Block]) -> str:
    """A standalone LaTeX document (booktabs tables, PDF figures) for pdflatex.

    Packages: fontenc, inputenc, geometry, booktabs, graphicx, float, caption.
    """
    title = next((b.text for b in blocks if isinstance(b, Heading) and b.level == 1), "")
    out = [
        r"\documentclass[10pt]{article}",
        r"\usepackage[T1]{fontenc}",
        r"\usepackage[utf8]{inputenc}",
        r"\usepackage[landscape,margin=1.5cm]{geometry}",
        r"\usepackage{booktabs}",
        r"\usepackage{graphicx}",
        r"\usepackage{float}",
        r"\usepackage{caption}",
        rf"\title{{{latex_escape(title)}}}",
        r"\date{}",
        r"\begin{document}",
        r"\maketitle",
    ]
    sections = {2: "section*", 3: "subsection*"}
    for block in blocks:
        if isinstance(block, Heading):
            if block.level > 1:
                command = sections.get(block.level, "paragraph*")
                out.append(f"\\{command}{{{latex_escape(block.text)}}}")
        elif isinstance(block, Paragraph):
            lead = rf"\textbf{{{latex_escape(block.lead)}}} " if block.lead else ""
            out.append(lead + latex_escape(block.text) + "\n")
        elif isinstance(block, Bullets):
            items = [rf"  \item {latex_escape(item)}" for item in block.items]
            out.append("\n".join([r"\begin{itemize}", *items, r"\end{itemize}"]))
        elif isinstance(block, Table):
            spec = "".join(block.aligns())
            body = [" & ".join(latex_escape(c) for c in row) + r" \\" for row in block.rows]
            out.append(
                "\n".join(
                    [
                        r"\begin{table}[H]",
                        r"\centering\small",
                        rf"\caption*{{{latex_escape(block.title)}}}" if block.title else "",
                        # Shrink wide tables to the line width; leave narrow ones alone.
                        r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%",
                        rf"\begin{{tabular}}{{{spec}}}",
                        r"\toprule",
                        " & ".join(latex_escape(c) for c in block.columns) + r" \\",
                        r"\midrule",
                        *body,
                        r"\bottomrule",
                        r"\end{tabular}}",
                        rf"\par\footnotesize {latex_escape(block.note)}" if block.note else "",
                        r"\end{table}",
                    ]
                )
            )
        elif isinstance(block, Image):
            out.append(
                "\n".join(
                    [
                        r"\begin{figure}[H]",
                        r"\centering",
                        rf"\includegraphics[width=0.9\linewidth,height=0.8\textheight,"
                        rf"keepaspectratio]{{{block.stem}.pdf}}",
                        rf"\caption*{{{latex_escape(block.caption)}}}",
                        r"\end{figure}",
                    ]
                )
            )
    out.append(r"\end{document}")
    return "\n".join(line for line in out if line) + "\n"
