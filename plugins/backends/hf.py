"""transformers decoding and scoring: the fallback decoder, the reference the vLLM backend
matches, and the teacher-forced log-probabilities both backends report."""

from __future__ import annotations

import sys
from typing import Any

from pydantic import Field

from harness import Backend, DecodeConfig, Generation, Params, TrainExample, hookimpl
from harness.errors import HarnessError
from harness.progress import progress, say
from harness.trust import trusted
from harness_plugins.batching import attention_mask, encode, pad_right


def cut_at_stop(text: str, stop: list[str]) -> Generation:
    """Truncate at the first stop string, as vLLM does (the stop string is not returned)."""
    cut, hit = len(text), None
    for s in stop:
        i = text.find(s)
        if i != -1 and i < cut:
            cut, hit = i, s
    return Generation(text=text[:cut], stop=hit)


class HFBackend(Backend):
    """transformers batched greedy decoding (left padding, deterministic, stop strings)."""

    name = "hf"
    version = 1

    class Params(Params):
        dtype: str = Field("auto", description="auto: bf16 on CUDA that supports it, else fp32")

    def generate(self, model: str, prompts: list[str], decode: DecodeConfig) -> list[Generation]:
        import torch

        tok, net, device = load(model, self.params.dtype, padding_side="left")
        sampling = {"do_sample": False}
        if decode.temperature > 0:
            torch.manual_seed(decode.seed)
            sampling = {"do_sample": True, "temperature": decode.temperature, "top_k": 0}
        # Longest prompts first: batches hold similar lengths, and a memory error shows early.
        order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
        out: list[Generation | None] = [None] * len(prompts)
        bar = progress(total=len(prompts), desc="decode (hf)", unit="sample")
        size, start = decode.batch_size, 0
        with torch.inference_mode():
            while start < len(order):
                idx = order[start : start + size]
                enc = tok([prompts[i] for i in idx], return_tensors="pt", padding=True).to(device)
                try:
                    gen = net.generate(
                        **enc,
                        **sampling,
                        max_new_tokens=decode.max_new_tokens,
                        stop_strings=decode.stop or None,
                        tokenizer=tok,
                        pad_token_id=tok.pad_token_id,
                        eos_token_id=tok.eos_token_id,
                    )
                except Exception as exc:
                    size = _smaller_batch(exc, size, device)
                    continue
                start += len(idx)
                new = gen[:, enc["input_ids"].shape[1] :]
                for i, ids in zip(idx, new):
                    text = tok.decode(ids, skip_special_tokens=True)
                    out[i] = cut_at_stop(text, decode.stop)
                bar.update(len(idx))
        bar.close()
        return out  # type: ignore[return-value]

    def logprobs(self, model: str, prompts: list[str], completions: list[str],
                 batch_size: int = 32) -> list[float]:
        return teacher_forced_logprobs(model, prompts, completions, batch_size, self.params.dtype)

    def hidden_states(self, model: str, prompts: list[str], layers: list[int],
                      batch_size: int = 32) -> dict[int, Any]:
        return last_token_states(model, prompts, layers, batch_size, self.params.dtype)


def _smaller_batch(exc: Exception, size: int, device: str) -> int:
    """After an out-of-memory error, half the batch (the caller retries); else re-raise."""
    import torch

    if not out_of_memory(exc):
        raise exc
    if size == 1:
        raise HarnessError("decoding ran out of memory with batch size 1; lower max_new_tokens "
                           "in the suite's decode settings or use a smaller model") from None
    if device == "cuda":
        torch.cuda.empty_cache()
    say(f"decode: out of memory with batch size {size}; retrying with {size // 2}")
    return size // 2


def out_of_memory(exc: Exception) -> bool:
    """torch's and vLLM's ways of saying the model, a batch or a KV cache does not fit."""
    text = str(exc).lower()
    return any(c.__name__ == "OutOfMemoryError" for c in type(exc).__mro__) or \
        "out of memory" in text or "no available memory for the cache blocks" in text


def load(model: str, dtype: str, padding_side: str):
    """Tokenizer and causal LM (safetensors only) on the best device, in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = "cuda" if torch.cuda.is_available() else "cpu"
    remote = trusted(model)
    tok = AutoTokenizer.from_pretrained(model, trust_remote_code=remote)
    tok.padding_side = padding_side
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    net = AutoModelForCausalLM.from_pretrained(
        model, dtype=inference_dtype(dtype, device), use_safetensors=True, trust_remote_code=remote
    ).to(device)
    net.eval()
    return tok, net, device


def teacher_forced_logprobs(model: str, prompts: list[str], completions: list[str],
                            batch_size: int = 32, dtype: str = "auto") -> list[float]:
    """Mean log-probability per completion token (end-of-text included, so an empty completion
    still has one), tokenized by the same ``encode`` as the ``sft`` trainer's training pairs."""
    import torch

    tok, net, device = load(model, dtype, padding_side="right")
    out: list[float] = []
    bar = progress(total=len(prompts), desc="score (hf)", unit="sample")
    with torch.inference_mode():
        for start in range(0, len(prompts), batch_size):
            pairs = [TrainExample(prompt=p, target=c)
                     for p, c in zip(prompts[start : start + batch_size],
                                     completions[start : start + batch_size])]
            rows = encode(tok, pairs, sys.maxsize)
            seqs = [r["input_ids"] for r in rows]
            masks = [[int(label != -100) for label in r["labels"]] for r in rows]
            ids, attn, scored = pad_right(seqs, tok.pad_token_id), attention_mask(seqs), \
                pad_right(masks, 0)
            logits = net(input_ids=ids.to(device), attention_mask=attn.to(device)).logits.float()
            # Position t predicts token t+1.
            logp = torch.log_softmax(logits[:, :-1], dim=-1)
            target = ids[:, 1:].to(device)
            token_logp = logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)
            weight = scored[:, 1:].to(device).float()
            out += ((token_logp * weight).sum(-1) / weight.sum(-1)).tolist()
            bar.update(len(pairs))
    bar.close()
    return out


def last_token_states(model: str, prompts: list[str], layers: list[int], batch_size: int = 32,
                      dtype: str = "auto") -> dict[int, Any]:
    """Each prompt's hidden states at its last token (right padding, so that token is where
    its attention mask ends), by layer, as float32 arrays: one forward pass a batch."""
    import numpy as np
    import torch

    tok, net, device = load(model, dtype, padding_side="right")
    depth = net.config.num_hidden_layers
    wrong = [n for n in layers if not -depth - 1 <= n <= depth]
    if wrong:
        raise HarnessError(f"layer {wrong[0]} is not one of {model}'s 0 .. {depth} (0 is the "
                           "embeddings, -1 the last); name layers it has")
    out: dict[int, list] = {n: [] for n in layers}
    bar = progress(total=len(prompts), desc="features (hf)", unit="sample")
    with torch.inference_mode():
        for start in range(0, len(prompts), batch_size):
            enc = tok(prompts[start:start + batch_size], return_tensors="pt",
                      padding=True).to(device)
            states = net(**enc, output_hidden_states=True).hidden_states
            last = enc["attention_mask"].sum(-1) - 1
            rows = torch.arange(len(last), device=device)
            for n in layers:
                out[n].append(states[n][rows, last].float().cpu().numpy())
            bar.update(len(last))
    bar.close()
    return {n: np.concatenate(parts) for n, parts in out.items()}


def inference_dtype(name: str, device: str):
    """``auto``: bf16 on CUDA that supports it, else fp32; or the named torch dtype."""
    import torch

    if name == "auto":
        if device == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return getattr(torch, name)


@hookimpl
def register_backends(register):
    register(HFBackend)
