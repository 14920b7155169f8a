"""Burns et al. (2023)'s auxiliary confidence loss, over a capability's answer set.

The student is trained on a mix of its weak labels and its own hardened predictions: with
``c`` rising linearly from 0 to ``aux_weight`` over the first ``aux_warmup`` share of the
optimizer steps, each example's target is ``(1 - c)`` on its weak label and ``c`` on the
answer the student itself currently rates most likely (among the answer set: the distinct
targets of the training data). Cross-entropy is linear in its target, so the loss is

    (1 - c) * nll(weak label) + c * nll(own answer)

with ``nll`` an answer's mean token negative log-likelihood after its prompt, as ``sft``
trains; the own answer is chosen by the summed log-probability of each candidate (no
gradient flows through that choice). Where the student is confident against its labels the
second term reinforces its own answer: the loss lets a strong student disagree with a weak
supervisor instead of imitating its errors (the paper's section 4.3.2; the binary version in
openai/weak-to-strong hardens by a threshold at the labels' class balance, which for more than
two classes is the argmax used here).

Everything else (optimizer, schedule, batching, saving, LoRA) is ``sft``'s.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from harness import TrainContext, TrainExample, hookimpl
from harness.errors import HarnessError
from harness_plugins.batching import attention_mask, encode, pad_right
from harness_plugins.trainers import finetune
from harness_plugins.trainers.sft import SFT


class Confidence(SFT):
    """Burns et al. 2023's auxiliary confidence loss, over the answer set (else as sft).

    Weak labels mixed with the student's own hardened answers, the mix warmed up over
    training."""

    name = "aux_confidence"
    version = 1

    class Params(SFT.Params):
        aux_weight: float = Field(0.75, ge=0, le=1, description="the weight on the student's own "
                                  "answers once warmed up (Burns et al.: 0.75 for large gaps)")
        aux_warmup: float = Field(0.2, ge=0, le=1, description="the share of optimizer steps "
                                  "over which that weight rises linearly from 0")
        max_answers: int = Field(32, ge=2, description="the most distinct targets the training "
                                 "data may have (the answer set a prediction is hardened over)")

    def train(self, base_model: str, data: list[TrainExample], out_dir: Path,
              ctx: TrainContext) -> Path:
        from transformers import AutoModelForCausalLM

        p = self.params
        answers = sorted({ex.target for ex in data})
        if len(answers) > p.max_answers:
            raise HarnessError(
                f"{self.name}: the training data has {len(answers)} distinct targets, over "
                f"max_answers {p.max_answers}; the auxiliary loss hardens a prediction over an "
                "answer set, so use it on a capability with a label set (or raise max_answers)")
        tok, model, args, data, held, stopping = self.prepare(base_model, data, ctx)
        index = {a: i for i, a in enumerate(answers)}
        rows, held_rows = ([{"prompt": ex.prompt, "label": index[ex.target]} for ex in part]
                           for part in (data, held))
        trainer = loss_trainer()(
            model=model, args=args, train_dataset=rows, eval_dataset=held_rows or None,
            data_collator=lambda batch: collate(batch, tok, answers, p.max_length),
            callbacks=[finetune.ProgressBar(ctx.progress_label), *stopping])
        trainer.aux = (p.aux_weight, p.aux_warmup)
        finetune.fit(trainer, tok, base_model, out_dir, p.lora, AutoModelForCausalLM,
                     history=ctx.history)
        return out_dir


def collate(batch: list[dict], tok, answers: list[str], max_length: int) -> dict:
    """Each prompt with every answer after it (``len(batch) x len(answers)`` rows, prompt
    tokens masked from the loss as ``sft`` masks them) and each example's weak answer."""
    import torch

    pairs = [TrainExample(prompt=b["prompt"], target=a) for b in batch for a in answers]
    rows = encode(tok, pairs, max_length)
    ids = [r["input_ids"] for r in rows]
    return {"input_ids": pad_right(ids, tok.pad_token_id),
            "labels": pad_right([r["labels"] for r in rows], -100),
            "attention_mask": attention_mask(ids),
            "weak": torch.tensor([b["label"] for b in batch], dtype=torch.long)}


def answer_nll(model, input_ids, labels, attention_mask):
    """Per row: the answer tokens' summed and mean negative log-likelihood."""
    import torch

    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits.float()
    logp = torch.log_softmax(logits[:, :-1], dim=-1)
    target = labels[:, 1:]
    scored = (target != -100).float()
    token = -logp.gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1) * scored
    total = token.sum(-1)
    return total, total / scored.sum(-1).clamp(min=1)


def confidence_loss(model, inputs: dict, coef: float):
    """The loss of one batch at mixing weight ``coef`` (see the module's docstring)."""
    import torch

    weak = inputs["weak"]
    n = len(weak)
    k = inputs["input_ids"].shape[0] // n
    with torch.no_grad():
        total, _ = answer_nll(model, inputs["input_ids"], inputs["labels"],
                              inputs["attention_mask"])
    own = total.view(n, k).argmin(-1)  # the most likely answer: least summed nll
    base = torch.arange(n, device=weak.device) * k
    rows = torch.cat([base + weak, base + own])
    _, mean = answer_nll(model, inputs["input_ids"][rows], inputs["labels"][rows],
                         inputs["attention_mask"][rows])
    return ((1 - coef) * mean[:n] + coef * mean[n:]).mean()


def warmed(weight: float, warmup: float, step_frac: float) -> float:
    """The mixing weight at ``step_frac`` of training: linear from 0 to ``weight`` over the
    first ``warmup`` share of steps, then ``weight``."""
    return weight if warmup <= 0 else weight * min(1.0, step_frac / warmup)


def loss_trainer():
    """transformers' Trainer with the auxiliary confidence loss (built on first use, so the
    module imports without transformers)."""
    from transformers import Trainer as HFTrainer

    class _Trainer(HFTrainer):
        aux: tuple[float, float] = (0.0, 0.0)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            frac = self.state.global_step / max(1, self.state.max_steps)
            loss = confidence_loss(model, inputs, warmed(*self.aux, frac))
            return (loss, None) if return_outputs else loss

    return _Trainer


@hookimpl
def register_trainers(register):
    register(Confidence)
