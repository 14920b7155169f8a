"""transformers greedy decoding: the fallback decoder, and the reference the vLLM backend matches."""

from __future__ import annotations

from pydantic import Field

from harness import Backend, DecodeConfig, Generation, Params, hookimpl
from harness.progress import progress


def cut_at_stop(text: str, stop: list[str]) -> str:
    """Truncate at the first stop string, as vLLM does (the stop string is not returned)."""
    cut = len(text)
    for s in stop:
        i = text.find(s)
        if i != -1:
            cut = min(cut, i)
    return text[:cut]


class HFBackend(Backend):
    """transformers batched greedy decoding (left padding, deterministic, stop strings)."""

    name = "hf"
    version = 1

    class Params(Params):
        dtype: str = Field("auto", description="auto: bf16 on CUDA that supports it, else fp32")

    def generate(self, model: str, prompts: list[str], decode: DecodeConfig) -> list[Generation]:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = "cuda" if torch.cuda.is_available() else "cpu"
        tok = AutoTokenizer.from_pretrained(model)
        tok.padding_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        net = AutoModelForCausalLM.from_pretrained(
            model, dtype=_dtype(self.params.dtype, device), use_safetensors=True
        ).to(device)
        net.eval()
        # Longest prompts first: batches hold similar lengths, and a memory error shows early.
        order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
        out: list[Generation | None] = [None] * len(prompts)
        bar = progress(total=len(prompts), desc="decode (hf)", unit="sample")
        with torch.inference_mode():
            for start in range(0, len(order), decode.batch_size):
                idx = order[start : start + decode.batch_size]
                enc = tok([prompts[i] for i in idx], return_tensors="pt", padding=True).to(device)
                gen = net.generate(
                    **enc,
                    do_sample=False,
                    max_new_tokens=decode.max_new_tokens,
                    stop_strings=decode.stop or None,
                    tokenizer=tok,
                    pad_token_id=tok.pad_token_id,
                    eos_token_id=tok.eos_token_id,
                )
                new = gen[:, enc["input_ids"].shape[1] :]
                for i, ids in zip(idx, new):
                    text = tok.decode(ids, skip_special_tokens=True)
                    out[i] = Generation(text=cut_at_stop(text, decode.stop))
                bar.update(len(idx))
        bar.close()
        return out  # type: ignore[return-value]


def _dtype(name: str, device: str):
    import torch

    if name == "auto":
        if device == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return getattr(torch, name)


@hookimpl
def register_backends(register):
    register(HFBackend)
