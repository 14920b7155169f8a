"""Decoding throughput: vLLM vs transformers greedy decoding on the tiny strong model.

One run, both backends on the same prompts and machine; prints samples/s and the ratio, with
and without engine start-up. Not a test: figures are only meaningful as ratios from one run.

    python bench/decode.py [--n 512] [--max-new-tokens 48] [--model PATH]
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=512, help="prompts to decode")
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=128, help="hf batch size")
    ap.add_argument("--model", help="model folder (default: tiny-strong, built if needed)")
    args = ap.parse_args()

    from harness import DecodeConfig
    from harness.plugins import registry
    from harness.resolver import resolve

    reg = registry()
    model = args.model or resolve("tiny-strong")
    prompts = []
    for name in ("synth_scan", "synth_arith"):
        cap = reg.make("capabilities", name, {"labeled": 1, "unlabeled": 1, "test": args.n // 2})
        prompts += [r.prompt for r in cap.load(0).test]
    decode = DecodeConfig(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    figures = {}
    texts = {}
    for backend in ("hf", "vllm"):
        b = reg.make("backends", backend)
        t0 = time.perf_counter()
        b.generate(model, prompts[:8], decode)  # load (and warm) the model
        t1 = time.perf_counter()
        out = b.generate(model, prompts, decode)
        t2 = time.perf_counter()
        texts[backend] = [g.text for g in out]
        figures[backend] = {"load_s": round(t1 - t0, 2), "decode_s": round(t2 - t1, 2),
                            "samples_per_s": round(len(prompts) / (t2 - t1), 1),
                            "with_load_samples_per_s": round(len(prompts) / (t2 - t0), 1)}
    same = sum(a == b for a, b in zip(texts["hf"], texts["vllm"]))
    ratio = figures["vllm"]["samples_per_s"] / figures["hf"]["samples_per_s"]
    ratio_load = (figures["vllm"]["with_load_samples_per_s"]
                  / figures["hf"]["with_load_samples_per_s"])
    print(json.dumps({"prompts": len(prompts), "model": model, **figures,
                      "identical_outputs": f"{same}/{len(prompts)}"}, indent=1))
    print(f"vllm/hf samples/s ratio: {ratio:.2f} (decode only), {ratio_load:.2f} (with load)")


if __name__ == "__main__":
    main()
