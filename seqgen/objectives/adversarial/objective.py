"""`objective=adversarial`: policy-gradient training of the generator with discriminator rewards (DESIGN §5).

One optimiser step (the loop drives it through the Objective interface):
1. `begin_step`: sample every micro-batch's B = G x M rows in G groups of M (each group shares a prefix of
   k gold tokens from a real row longer than k, or the empty prefix). The generator does not change within a
   step, so this is what each micro-batch would draw; MaliGAN's normaliser is taken over all of them.
2. `loss` per micro-batch: score the samples with the discriminator (no gradient) and form the surrogate
   loss of the chosen estimator, whose gradient is the policy gradient:
   - bgan_is (`bgan.py`): -sum_m w~_m log Q(x_m | c), w~ = softmax over the group (or the step: MaliGAN);
   - reinforce (`reinforce.py`): -(r - b) log Q(x | c), baseline leave-one-out, EMA or none; with `dense`,
     per-token rewards from the prefix logits and discounted returns, baseline per position;
   - seqgan_rollout (`rollout.py`): -sum_t Q_t log q(x_t | x_<t), Q_t the mean reward of N rollouts.
   log Q is computed with dropout off, as the samples were drawn. The loss is averaged over rows (each group
   carries weight M), plus lambda_mle times the token-mean NLL of the real rows (with dropout, as in MLE).
3. `after_optimizer_step`: `adv.d_steps` discriminator updates (`critic.py`), the first on step 1's samples.

`adv.discriminator=oracle` replaces the learned discriminator by the exact logit on the enumerable oracle
(`oracle_discriminator.py`).

Mixed precision (train.mixed_precision=bf16): Accelerate autocasts the forward of the prepared modules, i.e.
`loss` here and the discriminator's training step (`critic.py`), so both get bf16 for what carries a
gradient. Samples and rewards are drawn and scored in fp32 wherever they are called (`sample`, `score`): the
trainer calls `begin_step` outside the prepared forward but `loss` (rollouts, rewards) inside it, and the
same sample or reward must not depend on which; the oracle's exact logit would lose its exactness in bf16.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from seqgen.data.oracles.symbols import FIRST_SYMBOL_ID
from seqgen.errors import SeqgenError
from seqgen.models.devices import full_precision
from seqgen.objectives.adversarial.bgan import StepNormaliser, importance_coefficients
from seqgen.objectives.adversarial.config import AdversarialConfig
from seqgen.objectives.adversarial.critic import Critic
from seqgen.objectives.adversarial.oracle_discriminator import OracleDiscriminator
from seqgen.objectives.adversarial.policy import (
    SymbolConstraint,
    sample_policy,
    sequence_log_probs,
    token_log_probs,
)
from seqgen.objectives.adversarial.reinforce import Baseline
from seqgen.objectives.adversarial.rewards import discounted_returns, log_weights, rewards
from seqgen.objectives.adversarial.rollout import rollout_returns
from seqgen.objectives.base import Objective, TrainingContext
from seqgen.objectives.mle import token_nll_sum
from seqgen.tokenization import EOS_ID

if TYPE_CHECKING:
    from seqgen.models import Generator


class Adversarial(Objective):
    name = "adversarial"
    keep_default = "last"  # the aim is not likelihood: RUN/generator is the last generator

    def __init__(
        self,
        settings: AdversarialConfig,
        *,
        pad_id: int,
        max_len: int,
        oracle: Any = None,
        eos_id: int = EOS_ID,
    ) -> None:
        """`oracle`: the enumerable oracle when the run trains on one (samples follow its convention: L
        symbols, then EOS), else None. Usable without `bind` with the exact (oracle) discriminator."""
        super().__init__(pad_id)
        self.a, self.max_len, self.oracle, self.eos_id = settings, max_len, oracle, eos_id
        self.constraint = (
            SymbolConstraint(FIRST_SYMBOL_ID, oracle.vocab, oracle.length, eos_id)
            if oracle is not None
            else None
        )
        self.critic: Critic | None = None
        self.oracle_discriminator = (
            OracleDiscriminator(oracle, settings.divergence, settings.pi)
            if settings.discriminator == "oracle"
            else None
        )
        self.baseline = Baseline(
            settings.baseline,
            group_size=settings.group_size,
            decay=settings.baseline_decay,
            reward=settings.reward,
            max_len=max_len,
        )
        self.fakes: list[torch.Tensor] = []  # this step's samples, one tensor per micro-batch
        self._drawn: dict[int, torch.Tensor] = {}  # micro-batch -> its samples (begin_step)
        self._step_norm: StepNormaliser | None = None  # MaliGAN's normaliser of the whole step

    # ------------------------------------------------------------------ wiring
    def bind(self, ctx: TrainingContext) -> None:
        """The run's special ids, process group and training split; the learned discriminator is built and
        prepared here (after the generator: the checkpoint order)."""
        super().bind(ctx)
        tok, acc, a = ctx.tokenizer, ctx.accelerator, self.a
        self.eos_id = tok.eos_id
        per_process = ctx.micro_batch // acc.num_processes
        if per_process % a.group_size:
            raise SeqgenError(
                f"adv.group_size={a.group_size} does not divide the micro-batch of {per_process} sequences "
                f"on each of {acc.num_processes} processes"
            )
        self._check_prefixes(ctx.train_ids)
        if self.oracle is not None:
            self.constraint = SymbolConstraint(
                FIRST_SYMBOL_ID, self.oracle.vocab, self.oracle.length, tok.eos_id
            )
        if self.oracle_discriminator is None:
            self.critic = Critic(a, ctx, max_len=self.max_len)

    def _check_prefixes(self, train_ids: Any) -> None:
        """A shared gold prefix of k tokens needs sentences longer than k to take it from."""
        k = self.a.prefix_len
        if not k:
            return
        rows = train_ids[: min(len(train_ids), 4096)]["input_ids"]  # rows hold no padding
        if not any(len(r) - 1 - (self.eos_id in r) > k for r in rows):
            raise SeqgenError(
                f"adv.prefix_len={k}: no training sentence has more than {k} tokens to take a gold prefix "
                "from; lower adv.prefix_len"
            )

    @property
    def discriminator(self) -> torch.nn.Module | None:
        """The learned discriminator (unwrapped), or None with the oracle discriminator."""
        return self.critic.discriminator if self.critic is not None else None

    def pretrain(self, generator: torch.nn.Module) -> None:
        if self.critic is not None:
            self.critic.pretrain(lambda n, rng: self.sample(generator, n, rng))

    # ------------------------------------------------------------------ sampling and scoring
    def sample(
        self, generator: Generator, n: int, rng: torch.Generator, prefix: torch.Tensor | None = None
    ) -> torch.Tensor:
        self.samples_drawn += n
        with full_precision(generator.device):  # also for rollouts, drawn inside the autocast forward
            return sample_policy(
                generator, n, self.max_len, prefix=prefix, rng=rng, constraint=self.constraint
            )

    @torch.no_grad()
    def score(self, generator: Generator, ids: torch.Tensor, token_logits: bool = False) -> torch.Tensor:
        """Discriminator logits of rows `ids` (B,), or per-prefix logits (B, T) with `token_logits`; in fp32
        (MaliGAN's step normaliser scores in `begin_step`, the weights it normalises in `loss`)."""
        if self.oracle_discriminator is not None:
            if token_logits:
                raise SeqgenError("the oracle discriminator scores whole sequences only (no dense rewards)")
            with full_precision(ids.device):
                return self.oracle_discriminator.logits(generator, ids)
        with full_precision(ids.device):
            return self.critic.score(ids, token_logits)

    def _real_tokens(self, batch: torch.Tensor) -> torch.Tensor:
        """Tokens between BOS and EOS of each row (a truncated row has no EOS)."""
        present = (batch != self.pad_id).sum(1)
        return present - 1 - (batch == self.eos_id).any(1).long()

    def _prefixes(self, batch: torch.Tensor) -> torch.Tensor | None:
        """The k gold tokens each group of M samples shares: group g takes them from the g-th row (cycling)
        among the rows with more than k tokens, so a prefix never holds EOS or padding and every sample
        generates at least one token of its own."""
        k, m = self.a.prefix_len, self.a.group_size
        if not k:
            return None
        eligible = (self._real_tokens(batch) > k).nonzero().squeeze(1)
        if eligible.numel() == 0:
            raise SeqgenError(
                f"adv.prefix_len={k}: no sentence of this micro-batch has more than {k} tokens to take a "
                "gold prefix from; lower adv.prefix_len"
            )
        groups = batch.size(0) // m
        rows = eligible[torch.arange(groups, device=batch.device) % eligible.numel()]
        return batch[rows, 1 : 1 + k].repeat_interleave(m, dim=0)

    def _draw(self, generator: Generator, batch: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        n, m = batch.size(0), self.a.group_size
        if n % m:
            raise SeqgenError(
                f"adv.group_size={m} does not divide this process's micro-batch of {n} sequences"
            )
        return self.sample(generator, n, rng, self._prefixes(batch))

    def _gather(self, x: torch.Tensor) -> torch.Tensor:
        acc = self.ctx.accelerator if self.ctx is not None else None
        if acc is not None and acc.num_processes > 1:
            return acc.gather(x.contiguous())
        return x

    # ------------------------------------------------------------------ one optimiser step
    def begin_step(
        self,
        generator: torch.nn.Module,
        batches: list[torch.Tensor],
        rngs: list[torch.Generator],
        *,
        step: int,
    ) -> None:
        self.fakes = []
        self._drawn = {
            j: self._draw(generator, b, rng) for j, (b, rng) in enumerate(zip(batches, rngs, strict=True))
        }
        self._step_norm = None
        if self.a.estimator == "bgan_is" and self.a.normalize == "batch":
            log_w = torch.cat(
                [
                    log_weights(self.score(generator, f), self.a.divergence, self.a.pi)
                    for f in self._drawn.values()
                ]
            )
            self._step_norm = StepNormaliser.of(log_w, self._gather)

    def loss(
        self,
        generator: torch.nn.Module,
        batch: torch.Tensor,
        *,
        step: int,
        rng: torch.Generator,
        totals: dict[str, float],
        micro: int | None = None,
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        a = self.a
        drawn = self._drawn.pop(micro, None) if micro is not None else None
        fakes = drawn if drawn is not None else self._draw(generator, batch, rng)
        self.fakes.append(fakes)
        start = 1 + a.prefix_len
        # log Q of the samples in the mode they were drawn in: dropout off, so the policy gradient scores the
        # distribution that was sampled (sampling runs in eval mode).
        with _eval_mode(generator):
            logp, mask, entropy = token_log_probs(
                generator, fakes, start=start, pad_id=self.pad_id, constraint=self.constraint
            )
        if a.estimator == "bgan_is":
            surrogate, v, diag = self._bgan(generator, fakes, logp, mask)
        elif a.estimator == "reinforce" and not a.dense:
            surrogate, v, diag = self._reinforce(generator, fakes, logp, mask)
        else:
            surrogate, v, diag = self._per_token(generator, fakes, logp, mask, start, rng)
        loss = surrogate / totals["rows"]
        if a.lambda_mle > 0:
            nll, _ = token_nll_sum(generator, batch, self.pad_id)
            loss = loss + a.lambda_mle * nll / totals["tokens"]
            diag["mle_nll"] = float(nll.detach()) / max(int((batch[:, 1:] != self.pad_id).sum()), 1)
        generated = mask.sum()
        diag.update(
            d_fake_g=float(torch.sigmoid(v).mean()),
            entropy=float((entropy * mask).sum() / generated.clamp_min(1.0)),
            sample_tokens=float(generated) / fakes.size(0),
        )
        return loss, diag

    def _bgan(
        self, generator: Generator, fakes: torch.Tensor, logp: torch.Tensor, mask: torch.Tensor
    ) -> tuple:
        a = self.a
        v = self.score(generator, fakes)
        log_w = log_weights(v, a.divergence, a.pi)
        coef, ess = importance_coefficients(
            log_w, a.group_size, a.normalize, step=self._step_norm, gather=self._gather
        )
        surrogate = -(coef * sequence_log_probs(logp, mask, a.length_normalize)).sum()
        return (
            surrogate,
            v,
            {"ess": float(ess), "reward_mean": float(log_w.mean()), "reward_std": float(log_w.std())},
        )

    def _reinforce(
        self, generator: Generator, fakes: torch.Tensor, logp: torch.Tensor, mask: torch.Tensor
    ) -> tuple:
        a = self.a
        v = self.score(generator, fakes)
        r = rewards(v, a.reward, a.divergence, a.pi)
        advantage = r - self.baseline(r, self.baseline.statistic(r))
        surrogate = -(advantage * sequence_log_probs(logp, mask, a.length_normalize)).sum()
        return surrogate, v, {"reward_mean": float(r.mean()), "reward_std": float(r.std())}

    def _per_token(
        self,
        generator: Generator,
        fakes: torch.Tensor,
        logp: torch.Tensor,
        mask: torch.Tensor,
        start: int,
        rng: torch.Generator,
    ) -> tuple:
        """Dense reinforce or Monte-Carlo rollouts: per-token returns, a baseline per position."""
        a = self.a
        if a.estimator == "reinforce":
            token_v = self.score(generator, fakes, token_logits=True)
            v = token_v[torch.arange(fakes.size(0)), (fakes != self.pad_id).sum(1) - 1]
            r_tok = rewards(token_v[:, 1:], a.reward, a.divergence, a.pi)  # reward of the token at t
            returns = discounted_returns(r_tok, mask, a.discount)
        else:
            v = self.score(generator, fakes)

            def reward(rows: torch.Tensor) -> torch.Tensor:
                return rewards(self.score(generator, rows), a.reward, a.divergence, a.pi)

            returns = rollout_returns(
                fakes,
                start=start,
                final=rewards(v, a.reward, a.divergence, a.pi),
                rollouts=a.rollouts,
                pad_id=self.pad_id,
                complete=lambda prefix: self.sample(generator, prefix.size(0), rng, prefix),
                reward=reward,
            )
            returns = returns * mask
        denom = mask.sum(0).clamp_min(1.0)
        advantage = returns - self.baseline(returns, (returns * mask).sum(0) / denom) * mask
        if a.length_normalize:
            advantage = advantage / mask.sum(1, keepdim=True).clamp_min(1.0)
        surrogate = -(advantage * logp * mask).sum()
        per_row = (returns * mask).sum(1) / mask.sum(1).clamp_min(1.0)
        return surrogate, v, {"reward_mean": float(per_row.mean()), "reward_std": float(per_row.std())}

    def after_backward(self) -> None:
        self.baseline.end_step(self.ctx.accelerator if self.ctx is not None else None)

    def after_optimizer_step(self, generator: torch.nn.Module, *, step: int) -> dict[str, float]:
        """`adv.d_steps` discriminator updates, the first against this step's samples."""
        out: dict[str, float] = {}
        if self.critic is None:
            return out
        for i in range(self.a.d_steps):
            fakes = self.fakes if i == 0 else None
            out.update(self.critic.update(step, fakes, lambda n, rng: self.sample(generator, n, rng)))
        return out

    # ------------------------------------------------------------------ log and checkpoints
    def step_samples(self) -> list[torch.Tensor]:
        return self.fakes

    def state(self) -> dict[str, Any]:
        critic = self.critic.state() if self.critic is not None else {}
        return {"ema": self.baseline.state(), "samples_drawn": self.samples_drawn, **critic}

    def load_state(self, state: dict[str, Any]) -> None:
        self.baseline.load_state(state.get("ema"))
        self.samples_drawn = int(state.get("samples_drawn", 0))
        if self.critic is not None:
            self.critic.load_state(state)

    def trained_tensors(self) -> list[torch.Tensor]:
        return self.critic.trained_tensors() if self.critic is not None else []

    def save_models(self, folder: Path) -> None:
        if self.critic is not None:
            self.critic.save(folder)


@contextlib.contextmanager
def _eval_mode(module: torch.nn.Module) -> Iterator[None]:
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)
