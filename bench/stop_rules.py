"""How many of the untuned SmolLM2's completions the stop rule changes (issue 33).

The untuned strong model is a baseline W2S has to beat, so the harness must not handicap it.
Before issue 33, a stop string ended a completion unless only whitespace came before it; the
rule now also continues one that stops right after an answer marker ("The answer is:" and a
line break). This decodes each capability's test prompts 0-shot with the untuned
SmolLM2-135M-Instruct through the ``hf`` backend (the ``smollm`` suite's splits, seed 0,
label-only targets, 16 new tokens), as one raw pass, through ``Backend.complete`` with the
rule before, and with the rule now; it stores each completion (id, text, the stop that ended it; no prompt
text) and prints, per capability, how many completions each rule continues and the accuracy
before and after:

    python bench/stop_rules.py --data-dir ../shared/data --out bench/results/stop-rules
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

CAPABILITIES = {"creak": {"explanation": "none"}, "esnli": {"explanation": "none"},
                "sciq": {"target": "text"}}
SPLITS = {"labeled": 800, "unlabeled": 400, "test": 300}


def whitespace_only(g) -> bool:
    """The rule before issue 33."""
    return g.stop is not None and not g.text.strip()


def main() -> None:
    from harness.bases import unsaid
    from harness.plugins import registry
    from harness.resolver import resolve

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--completions", type=Path)
    args = ap.parse_args()
    reg = registry()
    backend, model = reg.make("backends", "hf"), resolve("smollm2-135m")
    summary = []
    for name, params in CAPABILITIES.items():
        cap = reg.make("capabilities", name, {**SPLITS, **params})
        rows = cap.load(0, str(Path(args.data_dir) / name)).test
        decode = type(cap).decode.model_copy(update={"max_new_tokens": 16, "batch_size": 32})
        prompts = [r.prompt for r in rows]
        raw = backend.generate(model, prompts, decode)
        before = backend.complete(model, prompts, decode, again=whitespace_only)
        done = backend.complete(model, prompts, decode)
        for what, gens in (("raw", raw), ("before", before), ("now", done)):
            if args.completions:
                args.completions.mkdir(parents=True, exist_ok=True)
                with (args.completions / f"{name}.{what}.jsonl").open("w") as f:
                    for r, g in zip(rows, gens):
                        f.write(json.dumps({"id": r.id, "text": g.text, "stop": g.stop}) + "\n")
        row = {"capability": name, "n": len(rows),
               "stopped_after_marker_before": sum(unsaid(g) and not whitespace_only(g)
                                                  for g in before),
               "changed": sum(a.text != b.text for a, b in zip(before, done)),
               "accuracy_before": sum(cap.score(r, g.text) for r, g in zip(rows, before))
               / len(rows),
               "accuracy_now": sum(cap.score(r, g.text) for r, g in zip(rows, done)) / len(rows),
               "empty_before": sum(not g.text.strip() for g in before),
               "empty_now": sum(not g.text.strip() for g in done)}
        summary.append(row)
        print(json.dumps(row))
    args.out.write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
