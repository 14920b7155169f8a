"""The paper's selector: a reward model built from the strong model scores the weak labels.

The paper leaves the reward model's data and loss open; these are the defaults and parameters:
- **Initialisation**: the strong base model with a scalar head (``AutoModelForSequenceClassification``,
  one label).
- **Data**: items where the weak label and the strong model's own greedy answer agree give
  *positives* (the weak answer), items where they disagree give *negatives* (the strong model's
  answer). Positives and negatives come from different prompts, so pairs are formed within a
  capability by a seeded pairing.
- **Loss**: pairwise Bradley-Terry through TRL's ``RewardTrainer`` (default), or pointwise
  regression to 1 / 0 through the transformers ``Trainer``.
- **Selection**: the reward of every weak label, kept by ratio, top-k or threshold, per capability
  or over the pool; optionally every agreeing item is kept whatever its reward.

A share of the items (``held_out``) is kept out of training; the reward model's pairwise accuracy
on them, per capability, is written to ``reward_model.json`` in the selection's directory, and
every pool item's reward to ``rewards.jsonl`` (the collector ranks weak-label correctness by
them after the selection, so gold never reaches the selector).
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field

from harness import Footprint, SelectContext, Selector, Signal, WeakItem, hookimpl
from harness.progress import say
from harness.trust import allow, trusted
from harness_plugins.batching import attention_mask, pad_right
from harness_plugins.selectors.rules import RuleParams, StrongAnswerParams, keep
from harness_plugins.trainers import lora as adapters
from harness_plugins.trainers.lora import LoraParams


class RewardParams(RuleParams, StrongAnswerParams):
    """The strong answers (``strong``) decide agreement and give the negatives."""

    positives: Literal["weak_agree", "strong_agree"] = Field(
        "weak_agree", description="on agreeing items, the weak label or the strong answer")
    negatives: Literal["strong_disagree", "weak_disagree"] = Field(
        "strong_disagree", description="on disagreeing items, the strong answer or the weak label")
    loss: Literal["pairwise", "pointwise"] = Field(
        "pairwise", description="pairwise (Bradley-Terry, TRL's RewardTrainer) or pointwise "
                                "(regression to 1/0)")
    keep_agreeing: bool = Field(False, description="keep every agreeing item, then apply the rule")
    held_out: float = Field(0.1, ge=0, lt=1, description="share of items kept out to measure it")
    max_pairs: int | None = Field(None, ge=1, description="cap on training pairs (or points)")
    epochs: float = Field(1.0, gt=0, description="passes over the training pairs")
    lr: float = Field(1e-5, gt=0, description="peak learning rate")
    batch_size: int = Field(
        16, ge=1, description="effective batch (micro x accumulation x processes), kept exact")
    micro_batch_size: int = Field(8, ge=1, description="examples per forward pass")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay")
    max_length: int = Field(1024, ge=8, description="tokens kept of each prompt + answer")
    score_batch_size: int = Field(32, ge=1, description="items scored at once")
    lora: LoraParams | None = Field(
        None, description="train LoRA adapters and the head (merged before scoring)")


class RewardModel(Selector):
    """Reward model from the strong model, trained on weak-strong agreement, scores weak labels."""

    name = "reward_model"
    version = 1
    hub_models = True  # it trains a reward model from the strong model
    gpus = 1
    Params = RewardParams

    def footprint(self) -> Footprint:
        """The reward model's training run, and the share of the pool the rule keeps."""
        p = self.params
        return Footprint(micro_batch_size=p.micro_batch_size, batch_size=p.batch_size,
                         max_length=p.max_length, epochs=p.epochs, keeps=p.kept(),
                         **adapters.footprint(p.lora))

    def needs(self) -> set[Signal]:
        return {self.params.signal()}

    def select(self, pool: list[WeakItem], ctx: SelectContext) -> list[WeakItem]:
        p = self.params
        train, held = preference_data(pool, p, ctx.seed)
        report: dict = {"pairs": len(train), "held_out_pairs": sum(map(len, held.values())),
                        "agreeing": sum(bool(i.agree) for i in pool), "pool": len(pool)}
        if not train:
            say(f"reward_model: no {p.positives} / {p.negatives} pairs in the pool; "
                "ranking by agreement alone")
            scores = {i.id: float(bool(i.agree)) for i in pool}
        else:
            folder = Path(tempfile.mkdtemp(prefix="reward-", dir=ctx.work_dir))
            try:
                train_reward_model(ctx.strong_model, train, p, folder, ctx.seed)
                if trusted(ctx.strong_model):
                    allow(str(folder))
                texts = [i.prompt + i.label for i in pool]
                held_texts = [t for pairs in held.values() for pair in pairs for t in pair]
                values = reward_scores(folder, texts + held_texts, p.score_batch_size)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            scores = dict(zip((i.id for i in pool), values[: len(pool)]))
            rest = iter(values[len(pool):])
            by_cap = {cap: sum(next(rest) > next(rest) for _ in pairs) / len(pairs)
                      for cap, pairs in held.items()}
            if by_cap:
                report["held_out_accuracy"] = by_cap
        (ctx.work_dir / "reward_model.json").write_text(json.dumps(report, indent=1))
        with (ctx.work_dir / "rewards.jsonl").open("w") as f:
            for i in pool:
                f.write(json.dumps({"id": i.id, "reward": scores[i.id]}) + "\n")
        if p.keep_agreeing:
            scores = {i.id: float("inf") if i.agree else scores[i.id] for i in pool}
        return keep(pool, scores, p, ctx.seed)


def preference_data(pool: list[WeakItem], p: RewardParams, seed: int
                    ) -> tuple[list[tuple[str, str]], dict[str, list[tuple[str, str]]]]:
    """(chosen text, rejected text) pairs for training, and per capability for the held-out
    check.

    Items are split into train and held-out first, then paired within each capability, so no
    held-out item is ever trained on.
    """
    rng = random.Random(seed)
    by_cap: dict[str, tuple[list[str], list[str]]] = {}
    for item in pool:
        if item.agree is None or item.strong_answer is None:
            continue
        pos, neg = by_cap.setdefault(item.capability, ([], []))
        if item.agree:
            pos.append(item.prompt + (item.label if p.positives == "weak_agree"
                                      else item.strong_answer))
        else:
            neg.append(item.prompt + (item.strong_answer if p.negatives == "strong_disagree"
                                      else item.label))
    train: list[tuple[str, str]] = []
    held: dict[str, list[tuple[str, str]]] = {}
    for cap in sorted(by_cap):
        pos, neg = by_cap[cap]
        if not pos or not neg:
            continue
        rng.shuffle(pos)
        rng.shuffle(neg)
        cut_p, cut_n = round(len(pos) * p.held_out), round(len(neg) * p.held_out)
        if _pair(pos[:cut_p], neg[:cut_n]):
            held[cap] = _pair(pos[:cut_p], neg[:cut_n])
        train += _pair(pos[cut_p:], neg[cut_n:])
    rng.shuffle(train)
    return train[: p.max_pairs] if p.max_pairs else train, held


def _pair(pos: list[str], neg: list[str]) -> list[tuple[str, str]]:
    """Every item used at least once: the shorter side cycles."""
    if not pos or not neg:
        return []
    return [(pos[k % len(pos)], neg[k % len(neg)]) for k in range(max(len(pos), len(neg)))]


def train_reward_model(base: str, pairs: list[tuple[str, str]], p: RewardParams, out: Path,
                       seed: int) -> None:
    """Fine-tune ``base`` with a scalar head on the pairs and save it to ``out``."""
    from transformers import AutoModelForSequenceClassification, set_seed

    from harness_plugins.trainers import finetune

    set_seed(seed)
    tok = finetune.tokenizer(base)
    head = {"num_labels": 1, "pad_token_id": tok.pad_token_id}
    model = finetune.model(base, AutoModelForSequenceClassification, p.lora, "SEQ_CLS", **head)
    common = finetune.arguments(
        out / "work", epochs=p.epochs, batch_size=p.batch_size,
        micro_batch_size=p.micro_batch_size, lr=p.lr, weight_decay=p.weight_decay,
        scheduler="cosine", seed=seed, bf16=finetune.bf16_enabled("auto"))
    callbacks = [finetune.ProgressBar(f"reward model ({p.loss})")]
    if p.loss == "pairwise":
        from datasets import Dataset
        from trl import RewardConfig, RewardTrainer

        trainer = RewardTrainer(
            model=model, processing_class=tok, callbacks=callbacks,
            args=RewardConfig(max_length=p.max_length, **common),
            train_dataset=Dataset.from_list([{"chosen": c, "rejected": r} for c, r in pairs]),
        )
    else:
        from transformers import Trainer, TrainingArguments

        points = {c: 1.0 for c, _ in pairs} | {r: 0.0 for _, r in pairs}
        rows = [{"input_ids": _encode(tok, t, p.max_length), "labels": y}
                for t, y in points.items()]
        trainer = Trainer(model=model, args=TrainingArguments(remove_unused_columns=False,
                                                              **common),
                          train_dataset=rows, callbacks=callbacks,
                          data_collator=lambda b: _collate(b, tok.pad_token_id))
    finetune.fit(trainer, tok, base, out, p.lora, AutoModelForSequenceClassification, **head)


def _encode(tok, text: str, max_length: int) -> list[int]:
    """Text then end-of-text, as TRL's reward trainer encodes its pairs."""
    return (tok(text)["input_ids"] + [tok.eos_token_id])[:max_length]


def _collate(batch: list[dict], pad_id: int) -> dict:
    import torch

    ids = [b["input_ids"] for b in batch]
    out = {"input_ids": pad_right(ids, pad_id), "attention_mask": attention_mask(ids)}
    if "labels" in batch[0]:
        out["labels"] = torch.tensor([b["labels"] for b in batch], dtype=torch.float32)
    return out


def reward_scores(model_dir: Path, texts: list[str], batch_size: int) -> list[float]:
    """The scalar reward of each text, encoded as in training."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from harness.progress import progress

    from harness_plugins.backends.hf import inference_dtype

    device = "cuda" if torch.cuda.is_available() else "cpu"
    remote = trusted(str(model_dir))
    tok = AutoTokenizer.from_pretrained(str(model_dir), trust_remote_code=remote)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(model_dir), dtype=inference_dtype("auto", device), use_safetensors=True,
        trust_remote_code=remote).to(device).eval()
    limit = getattr(model.config, "max_position_embeddings", None) or 1_000_000
    out: list[float] = []
    bar = progress(total=len(texts), desc="reward scores", unit="sample")
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = [{"input_ids": _encode(tok, t, limit)} for t in texts[start:start + batch_size]]
            enc = {k: v.to(device) for k, v in _collate(batch, model.config.pad_token_id).items()}
            out += model(**enc).logits[:, 0].float().tolist()
            bar.update(len(batch))
    bar.close()
    return out


@hookimpl
def register_selectors(register):
    register(RewardModel)
