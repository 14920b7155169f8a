"""Which harness modules a run re-enters: a call stack that goes A -> B -> ... -> A.

Runs ``harness run`` in this process (stages in process too, so the worker's code is on the
same stacks) under ``sys.setprofile`` and records, for every Python call, the chain of
``harness.*`` and ``plugins.*`` modules on the stack (other code, pydantic or torch, is
transparent; consecutive frames of one module are one step). A module that appears twice on
one chain, with another module between, was entered again from below: a callback, or a
lower layer calling back up. The report lists each such module with its shortest chain.

    python bench/layers.py --suite quickstart --limit 12

The counts are of modules, not calls: one re-entered module is one line, however often.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading


def _module(frame) -> str | None:
    name = frame.f_globals.get("__name__", "")
    return name if name.split(".")[0] in ("harness", "plugins") else None


def _chain(frame) -> tuple[str, ...]:
    out: list[str] = []
    while frame is not None:
        m = _module(frame)
        if m and (not out or out[-1] != m):
            out.append(m)
        frame = frame.f_back
    return tuple(reversed(out))


def trace(argv: list[str]) -> dict[str, tuple[str, ...]]:
    """Run the harness CLI with ``argv``; each re-entered module and its shortest chain."""
    from harness import cli

    found: dict[str, tuple[str, ...]] = {}
    seen: set[int] = set()

    def profile(frame, event, arg):
        if event != "call" or _module(frame) is None:
            return
        code = id(frame.f_code)
        if code in seen:  # one chain per function suffices for a module-level answer
            return
        seen.add(code)
        chain = _chain(frame)
        if "harness.runs" not in chain:  # only below run_suite: what following suite reaches
            return
        chain = chain[chain.index("harness.runs"):]
        for i, m in enumerate(chain):
            if m in chain[i + 1:]:
                j = chain.index(m, i + 1)
                path = chain[i:j + 1]
                if m not in found or len(path) < len(found[m]):
                    found[m] = path

    threading.setprofile(profile)
    sys.setprofile(profile)
    try:
        code = cli.main(argv)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
    if code != 0:
        raise SystemExit(f"error: harness {' '.join(argv)} exited {code}")
    return found


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--suite", default="quickstart")
    p.add_argument("--limit", type=int, default=12)
    args = p.parse_args()
    os.environ.setdefault("HARNESS_HOME", tempfile.mkdtemp(prefix="layers-"))
    os.environ.setdefault("HARNESS_QUIET", "1")
    found = trace(["run", "--suite", args.suite, "--limit", str(args.limit), "--in-process"])
    print(f"\n{len(found)} modules re-entered below harness.runs:")
    for m, path in sorted(found.items()):
        print(f"  {m}: {' -> '.join(path)}")


if __name__ == "__main__":
    main()
