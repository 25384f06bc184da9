"""`train.*`: the optimiser, its schedule, and what the loop writes when (DESIGN §5, §8, §9)."""

from __future__ import annotations

from dataclasses import dataclass

from seqgen.errors import SeqgenError, Settings, setting

# Accelerate's trackers (accelerate.utils.LoggerType), each imported only when a run asks for it.
TRACKERS = ("tensorboard", "wandb", "mlflow", "comet_ml", "aim", "clearml", "dvclive")


@dataclass
class TrainConfig(Settings):
    section = "train"

    max_steps: int = setting(1000, "optimizer steps")
    batch_size: int = setting(64, "sequences per optimizer step, over all processes and accumulation steps")
    grad_accum: int = setting(1, "micro-batches per optimizer step; must divide batch_size / processes")
    lr: float = setting(1e-3, "peak learning rate (AdamW)")
    weight_decay: float = setting(0.01, "AdamW weight decay")
    beta1: float = setting(0.9, "AdamW beta1")
    beta2: float = setting(0.99, "AdamW beta2")
    warmup_steps: int = setting(100, "linear warmup steps")
    schedule: str = setting("cosine", "learning-rate schedule after warmup", ("cosine", "constant"))
    min_lr_ratio: float = setting(0.1, "cosine schedule floor as a fraction of lr")
    grad_clip: float = setting(1.0, "clip the global gradient norm to this (0 = off)")
    seed: int = setting(0, "seed for initialisation, data order and sampling")
    eval_every: int = setting(
        200, "validate (and keep the best generator) every this many steps; 0 = only at the end"
    )
    save_every: int = setting(
        200, "write the resumable checkpoint every this many steps; 0 = only at the end"
    )
    log_every: int = setting(10, "log training metrics every this many steps")
    oracle_eval_every: int = setting(
        0,
        "data.train=oracle only: every this many steps (and at step 0) log the exact KL(P||Q), KL(Q||P), "
        "JS_pi, total variation and Q's mass on P's support to metrics.jsonl (split 'oracle'); 0 = off",
    )
    num_samples: int = setting(5, "samples written to samples/ at each validation")
    mixed_precision: str = setting(
        "auto",
        "precision of the training forward/backward; weights, optimiser state, validation, samples and "
        "evaluation stay fp32. no: fp32. bf16: bf16 autocast through Accelerate, refused on a CPU whose "
        "torch has no bf16 kernels and on a CUDA GPU without bf16 arithmetic (compute capability < 8.0). "
        "auto: bf16 on a CUDA GPU with bf16 arithmetic, fp32 on every CPU (the same numbers on CPUs with "
        "and without bf16 instructions)",
        ("auto", "no", "bf16"),
    )
    compile: bool = setting(False, "torch.compile the generator")
    on_nonfinite: str = setting(
        "stop",
        "a non-finite loss, or an update that would make the weights non-finite: stop (naming the step and "
        "the checkpoint on disk) or skip that update",
        ("stop", "skip"),
    )
    keep: str = setting(
        "auto",
        "which generator RUN/generator holds: best_valid (lowest validation NLL), last, or auto (last for "
        "adversarial runs, whose aim is not likelihood; best_valid otherwise)",
        ("auto", "best_valid", "last"),
    )
    tensorboard: bool = setting(True, "also log to TensorBoard through Accelerate when it is installed")
    report_to: str = setting(
        "",
        "comma list of Accelerate trackers that also get the training metrics: tensorboard, wandb, mlflow, "
        "comet_ml, aim, clearml, dvclive (each must be installed; empty = train.tensorboard decides)",
    )
    progress: bool = setting(True, "show a progress bar")

    def check(self) -> None:
        self.at_least(1, "max_steps", "batch_size", "grad_accum")
        self.at_least(1, "log_every")
        self.at_least(0, "warmup_steps", "eval_every", "save_every", "num_samples", "oracle_eval_every")
        self.positive("lr")
        self.at_least(0, "weight_decay", "grad_clip")  # grad_clip 0 is "off"; a negative norm means nothing
        self.within("min_lr_ratio", 0.0, 1.0)
        self.within("beta1", 0.0, 1.0, high_open=True)
        self.within("beta2", 0.0, 1.0, high_open=True)
        if not 0 <= self.seed < 2**32:  # numpy's seed (set by accelerate's set_seed) takes 0 .. 2**32 - 1
            self.refuse("seed", f"must be in [0, 2**32 - 1], got {self.seed}")
        unknown = [n for n in self.trackers() if n not in TRACKERS]
        if unknown:
            self.refuse("report_to", f"unknown tracker {unknown[0]!r}; choose from {', '.join(TRACKERS)}")
        if self.batch_size % self.grad_accum:
            raise SeqgenError(
                f"train.grad_accum={self.grad_accum} does not divide train.batch_size={self.batch_size}"
            )

    def check_with_corpus(self, corpus: str) -> None:
        """Rules between train.* and data.train (called by the run config): exact trajectories need an
        enumerable P to compare Q with."""
        if self.oracle_eval_every and corpus != "oracle":
            raise SeqgenError(
                f"train.oracle_eval_every={self.oracle_eval_every} needs data.train=oracle (exact "
                f"divergences need an enumerable P), got data.train={corpus}"
            )

    def trackers(self) -> list[str]:
        """train.report_to as a list of names."""
        return [n.strip() for n in self.report_to.split(",") if n.strip()]

    @property
    def micro_batch(self) -> int:
        """Sequences per micro-batch over all processes."""
        return self.batch_size // self.grad_accum
