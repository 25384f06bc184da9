"""`adv.*`: the adversarial objective's discriminator, estimator and reward (DESIGN §5).

Each value is checked on construction; `check_run` holds the rules that involve other sections (the batch
the groups divide, the corpus the oracle discriminator needs), called by the run config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seqgen.errors import SeqgenError, Settings, setting


def filter_widths(text: str) -> list[int]:
    """'2,3,4,5' -> [2, 3, 4, 5]; anything else is a one-line error."""
    try:
        widths = [int(w) for w in str(text).split(",") if w.strip()]
    except ValueError:
        widths = []
    if not widths or min(widths) < 1:
        raise SeqgenError(f"adv.d_filter_widths must be comma-separated positive integers, got {text!r}")
    return widths


@dataclass
class AdversarialConfig(Settings):
    section = "adv"

    discriminator: str = setting(
        "cnn",
        "discriminator: cnn (SeqGAN-style), rnn, transformer, or oracle (exact log(pi p / ((1-pi) q)) on "
        "data.train=oracle, no training: checks estimators without discriminator error)",
        ("cnn", "rnn", "transformer", "oracle"),
    )
    d_emb_dim: int = setting(64, "discriminator embedding size")
    d_hidden_dim: int = setting(64, "discriminator hidden size (rnn state, transformer width)")
    d_num_layers: int = setting(1, "discriminator layers (rnn, transformer)")
    d_filter_widths: str = setting("2,3,4,5", "cnn discriminator: comma-separated filter widths")
    d_num_filters: int = setting(64, "cnn discriminator: filters per width")
    d_num_heads: int = setting(4, "transformer discriminator: attention heads")
    d_dropout: float = setting(0.0, "discriminator dropout")
    d_lr: float = setting(1e-3, "discriminator learning rate (Adam, constant)")
    d_beta1: float = setting(0.5, "discriminator Adam beta1")
    d_beta2: float = setting(0.99, "discriminator Adam beta2")
    d_steps: int = setting(1, "discriminator updates per generator step")
    d_pretrain_steps: int = setting(0, "discriminator updates before the first generator step")
    pi: float = setting(
        0.5,
        "class balance of the discriminator loss -pi E_P[log D] - (1-pi) E_Q[log(1-D)] (divergence=gan); "
        "pi -> 0 moves the objective towards KL(P||Q), pi -> 1 towards KL(Q||P) (Huszar 2015)",
    )
    penalty: str = setting(
        "none",
        "gradient penalty on the discriminator logit, on soft one-hot rows: gp (at real/fake "
        "interpolates) or dragan (at perturbed real rows)",
        ("none", "gp", "dragan"),
    )
    penalty_weight: float = setting(10.0, "lambda of the gradient penalty")
    dragan_scale: float = setting(0.5, "dragan: perturbation scale c, x + c * std(x) * U[0, 1]")
    estimator: str = setting(
        "bgan_is",
        "generator gradient: bgan_is (self-normalised importance weights over groups of group_size samples), "
        "reinforce (reward minus a baseline) or seqgan_rollout (Monte-Carlo rollouts per prefix)",
        ("bgan_is", "reinforce", "seqgan_rollout"),
    )
    group_size: int = setting(8, "samples per conditioning (M); must divide the micro-batch on each process")
    prefix_len: int = setting(0, "gold tokens the M samples of a group share (k); 0 = the empty prefix")
    normalize: str = setting(
        "group",
        "bgan_is: normalise the weights over each group, or over the whole micro-batch (batch = MaliGAN)",
        ("group", "batch"),
    )
    divergence: str = setting(
        "gan",
        "f-divergence of the discriminator loss and of the BGAN weights: gan (pi-balanced logistic), kl, "
        "reverse_kl, hellinger (log w = V for all four) or chi2 (w = V/2 + 1, clipped at 0)",
        ("gan", "kl", "reverse_kl", "hellinger", "chi2"),
    )
    reward: str = setting(
        "logit",
        "reinforce / seqgan_rollout reward: logit (log w, the log density-ratio estimate), non_saturating "
        "(log D) or minimax (-log(1 - D))",
        ("logit", "non_saturating", "minimax"),
    )
    baseline: str = setting(
        "loo",
        "reinforce / seqgan_rollout baseline: loo (mean reward of the other samples of the group), ema "
        "(moving average) or none",
        ("loo", "ema", "none"),
    )
    baseline_decay: float = setting(0.99, "ema baseline decay")
    rollouts: int = setting(4, "seqgan_rollout: Monte-Carlo rollouts per prefix")
    dense: bool = setting(
        False, "reinforce: per-token rewards from the discriminator's prefix logits, discounted returns"
    )
    discount: float = setting(1.0, "dense rewards: discount gamma of the returns")
    length_normalize: bool = setting(False, "divide each sample's log Q by its number of generated tokens")
    lambda_mle: float = setting(0.0, "weight of an added MLE (teacher forcing) term on the real batch")

    def check(self) -> None:
        self.at_least(1, "group_size", "d_steps", "rollouts", "d_emb_dim", "d_hidden_dim", "d_num_layers")
        self.at_least(1, "d_num_filters", "d_num_heads")
        self.at_least(0, "d_pretrain_steps", "prefix_len", "lambda_mle", "penalty_weight", "dragan_scale")
        filter_widths(self.d_filter_widths)
        self.within("pi", 0.0, 1.0, low_open=True, high_open=True)
        if self.divergence != "gan" and self.pi != 0.5:
            raise SeqgenError(
                f"adv.pi={self.pi} applies to adv.divergence=gan only "
                "(the f-divergence losses have no class balance)"
            )
        if self.estimator == "bgan_is":
            if self.reward != "logit":
                raise SeqgenError(
                    f"adv.reward={self.reward} applies to reinforce and seqgan_rollout; bgan_is weights come "
                    "from adv.divergence"
                )
            if self.group_size < 2 and self.normalize == "group":
                raise SeqgenError("adv.estimator=bgan_is with normalize=group needs adv.group_size >= 2")
        elif self.baseline == "loo" and self.group_size < 2:
            raise SeqgenError("adv.baseline=loo needs adv.group_size >= 2 (the other samples of the group)")
        if self.dense and self.estimator != "reinforce":
            raise SeqgenError("adv.dense=true needs adv.estimator=reinforce")
        self.within("discount", 0.0, 1.0, low_open=True)
        self.within("baseline_decay", 0.0, 1.0, high_open=True)
        self.positive("d_lr")
        self.within("d_beta1", 0.0, 1.0, high_open=True)
        self.within("d_beta2", 0.0, 1.0, high_open=True)
        self.within("d_dropout", 0.0, 1.0, high_open=True)
        if self.discriminator == "oracle" and (self.penalty != "none" or self.d_pretrain_steps):
            raise SeqgenError(
                "adv.discriminator=oracle is exact and not trained: adv.penalty and adv.d_pretrain_steps "
                "do not apply"
            )
        if self.discriminator == "transformer" and self.d_hidden_dim % self.d_num_heads:
            raise SeqgenError(
                f"adv.d_num_heads={self.d_num_heads} does not divide adv.d_hidden_dim={self.d_hidden_dim}"
            )


def check_run(
    adv: AdversarialConfig, *, micro_batch: int, batch_size: int, grad_accum: int, data: Any
) -> None:
    """The rules between `adv.*` and the batch and corpus of the run (`data` is its DataConfig)."""
    if micro_batch % adv.group_size:
        raise SeqgenError(
            f"adv.group_size={adv.group_size} does not divide the micro-batch of {micro_batch} sequences "
            f"(train.batch_size={batch_size} / train.grad_accum={grad_accum})"
        )
    if data.mode != "sentence":
        raise SeqgenError("objective=adversarial needs data.mode=sentence (samples end at EOS)")
    if data.streaming:  # the discriminator's real rows are drawn at random from the whole training split
        raise SeqgenError("objective=adversarial cannot train on a stream: set data.streaming=false")
    if adv.prefix_len > data.max_len - 2:
        raise SeqgenError(
            f"adv.prefix_len={adv.prefix_len} leaves nothing to generate in data.max_len={data.max_len} "
            "(BOS + prefix + at least one token)"
        )
    if adv.discriminator == "oracle" and data.train != "oracle":
        raise SeqgenError("adv.discriminator=oracle needs data.train=oracle (an enumerable oracle)")
