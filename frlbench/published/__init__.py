"""Published runs: the records behind the committed leaderboard, shipped inside the package.

A profile's published records live in ``frlbench/published/<profile>/records.jsonl.gz`` (one
:class:`~frlbench.records.RunRecord` per line as JSON, gzipped; no weights), installed with the
package, so they are there after a non-editable install and from any directory. They are
written only by ``frlbench publish`` (:mod:`frlbench.published.publish`) and read here; the
report shows them beside a user's own runs (:mod:`frlbench.report.pairing`).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from frlbench.records import RecordError, RunRecord

#: The file of a profile's published records, inside its folder.
RECORDS_FILE = "records.jsonl.gz"
#: Profile names a published folder may have (no path separators, no dots first).
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")

__all__ = [
    "RECORDS_FILE",
    "PublishedError",
    "published_dir",
    "published_path",
    "published_profiles",
    "published_records",
    "read_published",
]


class PublishedError(RecordError):
    """A published records file is unreadable, or a publish would overwrite one."""


def published_dir() -> Path:
    """The folder of the installed package that holds the published records."""
    return Path(str(resources.files("frlbench.published")))


def published_path(profile: str, root: Path | None = None) -> Path:
    """``<root>/<profile>/records.jsonl.gz`` (``root``: :func:`published_dir`).

    Raises:
        ValueError: If ``profile`` is not a plain name.
    """
    if not _SAFE_NAME.match(profile):
        raise ValueError(f"profile {profile!r}: expected a plain name such as 'quick'")
    return (root or published_dir()) / profile / RECORDS_FILE


def published_profiles(root: Path | None = None) -> list[str]:
    """Profiles with published records, sorted."""
    base = root or published_dir()
    return sorted(p.parent.name for p in base.glob(f"*/{RECORDS_FILE}") if p.is_file())


def read_published(path: Path) -> list[RunRecord]:
    """Every record of one published file, in file order.

    Raises:
        PublishedError: Naming the file and line that cannot be read.
    """
    try:
        lines = gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise PublishedError(f"{path}: unreadable published records ({exc})") from None
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise RecordError(f"expected a JSON object, got a {type(data).__name__}")
            records.append(RunRecord.from_dict(data))
        except (ValueError, TypeError, KeyError) as exc:
            raise PublishedError(f"{path}, line {number}: unreadable record ({exc})") from None
    return records


def published_records(profiles: Iterable[str], root: Path | None = None) -> list[RunRecord]:
    """The published records of ``profiles`` (a profile without published records adds none)."""
    out: list[RunRecord] = []
    for profile in sorted(set(profiles)):
        if not _SAFE_NAME.match(profile):
            continue  # e.g. a section label "quick [source 2]": nothing is published under it
        path = published_path(profile, root)
        if path.is_file():
            out += read_published(path)
    return out
