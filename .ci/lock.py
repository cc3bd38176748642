"""Write requirements.lock: the exact versions of frlbench's dependency closure as installed.

Run in the environment the published runs were produced in (``pip install -e ".[test]"``)::

    python .ci/lock.py > requirements.lock

Only frlbench's own dependencies (with the ``test`` extra, which includes ``distributed``) and
theirs, recursively, are listed: not everything in the environment. A local version label such
as ``+cpu`` is dropped: ``torch==2.13.0`` admits ``2.13.0+cpu`` (PEP 440), so the lock works
with the CPU and the CUDA wheels of the same release.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, distribution

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def closure(root: str, extras: set[str]) -> dict[str, str]:
    """Installed name -> version of ``root[extras]``'s requirements, recursively."""
    found: dict[str, str] = {}
    todo = [(root, frozenset(extras))]
    seen = set()
    while todo:
        name, wanted = todo.pop()
        if (name, wanted) in seen:
            continue
        seen.add((name, wanted))
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue  # an optional dependency not installed here
        for text in dist.requires or []:
            req = Requirement(text)
            envs = [{"extra": e} for e in wanted] or [{"extra": ""}]
            if req.marker and not any(req.marker.evaluate(env) for env in envs):
                continue
            key = canonicalize_name(req.name)
            try:
                found[key] = distribution(req.name).version.split("+")[0]
            except PackageNotFoundError:
                continue
            todo.append((req.name, frozenset(req.extras)))
    found.pop(canonicalize_name(root), None)
    return found


def main() -> None:
    pins = closure("frlbench", {"test"})
    print("# Exact versions of frlbench's dependency closure (extra: test): python .ci/lock.py")
    print("# Used as constraints: pip install -c requirements.lock -e '.[test]' (see .ci/run).")
    for name in sorted(pins):
        print(f"{name}=={pins[name]}")
    if not pins:
        sys.exit("frlbench is not installed here: pip install -e '.[test]' first")


if __name__ == "__main__":
    main()
