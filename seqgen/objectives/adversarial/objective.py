"""`objective=adversarial`: policy-gradient training of the generator with discriminator rewards (DESIGN §5).

One optimiser step (the trainer drives it):
1. generator step (`Adversarial.loss`, inside the prepared generator module): sample the micro-batch's
   B = G x M rows in G groups of M (each group shares a prefix of k gold tokens from a real row, or the empty
   prefix), score them with the discriminator (no gradient), and form the surrogate loss of the chosen
   estimator, whose gradient is the policy gradient:
   - bgan_is: -sum_m w~_m log Q(x_m | c), w~ = softmax over the group (or the batch: MaliGAN) of log w;
   - reinforce: -(r - b) log Q(x | c), baseline b leave-one-out over the group, an EMA, or none; with
     `dense`, per-token rewards from the prefix logits and discounted returns, baseline per position;
   - seqgan_rollout: -sum_t Q_t log q(x_t | x_<t), Q_t the mean reward of N rollouts completing x_1..x_t.
   The loss is averaged over groups (over rows, for every estimator: each group carries weight M), plus
   lambda_mle times the token-mean NLL of the real rows.
2. discriminator step(s) (`Adversarial.discriminator_loss`, inside the prepared discriminator module): the
   loss of `adv.divergence` on real rows vs the samples of step 1 (later d_steps draw fresh samples), plus the
   gradient penalty.

`discriminator=oracle` replaces the learned discriminator by the exact logit on the enumerable oracle.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import torch

from seqgen.errors import SeqgenError
from seqgen.objectives.adversarial.discriminator_loss import discriminator_loss, gradient_penalty
from seqgen.objectives.adversarial.policy import (
    SymbolConstraint,
    sample_policy,
    sequence_log_probs,
    token_log_probs,
)
from seqgen.objectives.adversarial.rewards import (
    discounted_returns,
    effective_sample_size,
    group_weights,
    log_weights,
    loo_baseline,
    rewards,
)
from seqgen.objectives.mle import token_nll_sum
from seqgen.objectives.objective import Objective
from seqgen.run_folder import Config


class OracleDiscriminator:
    """The exact logit on the enumerable oracle: V(x) = log(pi p(x) / ((1-pi) q(x))) for divergence=gan,
    log p/q for kl / reverse_kl / hellinger, 2 (p/q - 1) for chi2 — the optimum of each discriminator loss.

    q is the generator's exact restricted distribution, recomputed for every call (the generator changes)."""

    def __init__(self, oracle: Any, divergence: str, pi: float) -> None:
        self.oracle, self.divergence, self.pi = oracle, divergence, pi

    def logits(self, generator: Any, ids: torch.Tensor) -> torch.Tensor:
        from seqgen.data.oracle import FIRST_SYMBOL_ID, model_distribution

        symbols = ids[:, 1 : 1 + self.oracle.length].cpu() - FIRST_SYMBOL_ID
        idx = self.oracle.index_of(symbols)
        log_q = model_distribution(generator, self.oracle).log()
        log_ratio = self.oracle.log_probs[idx] - log_q[idx]
        if self.divergence == "gan":
            v = log_ratio + math.log(self.pi / (1 - self.pi))
        elif self.divergence == "chi2":
            v = 2 * (log_ratio.exp() - 1)
        else:
            v = log_ratio
        return v.float().to(ids.device)


class Adversarial(Objective):
    name = "adversarial"

    def __init__(self, cfg: Config, pad_id: int) -> None:
        super().__init__(cfg, pad_id)
        self.a = cfg.adv
        self.constraint: SymbolConstraint | None = None
        self.discriminator: torch.nn.Module | None = None  # the unwrapped learned discriminator
        self.oracle_discriminator: OracleDiscriminator | None = None
        self.accelerator: Any = None
        self.ema: torch.Tensor | None = None  # the EMA baseline (a scalar, or one value per position)
        self._stat_sum: torch.Tensor | None = None
        self._stat_count = 0
        self.fakes: list[torch.Tensor] = []  # this step's samples, one tensor per micro-batch
        self._drawn: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # micro -> (real rows, samples)
        self._log_norm: torch.Tensor | None = None  # MaliGAN: log sum of the weights of the whole step
        self._step_rows = 0  # MaliGAN: samples of the whole step on all processes

    # ------------------------------------------------------------------ wiring
    def bind(self, *, tokenizer: Any, accelerator: Any, discriminator: torch.nn.Module | None) -> None:
        """What the objective needs from the run: special ids, the oracle, the process group, the critic."""
        self.eos_id, self.bos_id = tokenizer.eos_id, tokenizer.bos_id
        self.accelerator = accelerator
        self.discriminator = discriminator
        data = self.cfg.data
        if data.train == "oracle":
            from seqgen.data.oracle import FIRST_SYMBOL_ID
            from seqgen.data.oracle_corpus import build_oracle

            oracle = build_oracle(data)
            self.constraint = SymbolConstraint(FIRST_SYMBOL_ID, oracle.vocab, oracle.length, self.eos_id)
            if self.a.discriminator == "oracle":
                self.oracle_discriminator = OracleDiscriminator(oracle, self.a.divergence, self.a.pi)

    @property
    def max_len(self) -> int:
        return self.cfg.data.max_len

    def sample(
        self, generator: Any, n: int, rng: torch.Generator, prefix: torch.Tensor | None = None
    ) -> torch.Tensor:
        return sample_policy(generator, n, self.max_len, prefix=prefix, rng=rng, constraint=self.constraint)

    @torch.no_grad()
    def score(self, generator: Any, ids: torch.Tensor, token_logits: bool = False) -> torch.Tensor:
        """Discriminator logits of rows `ids` (B,), or per-prefix logits (B, T) with `token_logits`."""
        if self.oracle_discriminator is not None:
            if token_logits:
                raise SeqgenError("the oracle discriminator scores whole sequences only (no dense rewards)")
            return self.oracle_discriminator.logits(generator, ids)
        disc = self.discriminator
        was_training = disc.training
        disc.eval()  # rewards without dropout noise
        try:
            out = disc(ids, return_token_logits=token_logits)
        finally:
            disc.train(was_training)
        return (out.token_logits if token_logits else out.logits).float()

    # ------------------------------------------------------------------ generator step
    def check_data(self, train_ids: Any, tokenizer: Any) -> None:
        """A shared gold prefix of k tokens needs sentences longer than k to take it from."""
        k, eos = self.a.prefix_len, tokenizer.eos_id
        if not k:
            return
        rows = train_ids[: min(len(train_ids), 4096)]["input_ids"]  # rows hold no padding
        if not any(len(r) - 1 - (eos in r) > k for r in rows):
            raise SeqgenError(
                f"adv.prefix_len={k}: no training sentence has more than {k} tokens to take a gold prefix "
                "from; lower adv.prefix_len"
            )

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

    def _draw(self, generator: Any, batch: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        n, m = batch.size(0), self.a.group_size
        if n % m:
            raise SeqgenError(
                f"adv.group_size={m} does not divide this process's micro-batch of {n} sequences"
            )
        return self.sample(generator, n, rng, self._prefixes(batch))

    def begin_step(
        self,
        generator: torch.nn.Module,
        batches: list[torch.Tensor],
        rngs: list[torch.Generator],
        *,
        step: int,
    ) -> None:
        """Draw every micro-batch's samples (the generator does not change within a step, so this is what the
        micro-batch losses would draw), and for MaliGAN the normaliser of the weights over the whole step:
        all micro-batches and all processes, so the gradient does not depend on train.grad_accum."""
        self.fakes = []
        pairs = enumerate(zip(batches, rngs, strict=True))
        self._drawn = {j: (b, self._draw(generator, b, rng)) for j, (b, rng) in pairs}
        self._log_norm = None
        if self.a.estimator == "bgan_is" and self.a.normalize == "batch":
            log_w = torch.cat(
                [
                    log_weights(self.score(generator, f), self.a.divergence, self.a.pi)
                    for _, f in self._drawn.values()
                ]
            )
            everything = self._gather(log_w)
            self._log_norm = torch.logsumexp(everything.double(), dim=0)
            self._step_rows = everything.numel()
            w_all = (everything.double() - self._log_norm).exp()
            self._step_ess = float(1.0 / (w_all * w_all).sum())

    def step_samples(self) -> list[torch.Tensor]:
        return self.fakes

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
        fakes = drawn[1] if drawn is not None else self._draw(generator, batch, rng)
        n, k = fakes.size(0), a.prefix_len
        self.fakes.append(fakes)
        start = 1 + k
        # log Q of the samples in the mode they were drawn in: dropout off, so the policy gradient scores the
        # distribution that was sampled (sampling runs in eval mode).
        with _eval_mode(generator):
            logp, mask, entropy = token_log_probs(
                generator, fakes, start=start, pad_id=self.pad_id, constraint=self.constraint
            )
        diag: dict[str, Any] = {}
        if a.estimator == "bgan_is":
            v = self.score(generator, fakes)
            log_w = log_weights(v, a.divergence, a.pi)
            coef, ess = self._importance_coefficients(log_w)
            surrogate = -(coef * sequence_log_probs(logp, mask, a.length_normalize)).sum()
            diag.update(ess=float(ess), reward_mean=float(log_w.mean()), reward_std=float(log_w.std()))
        elif a.estimator == "reinforce" and not a.dense:
            v = self.score(generator, fakes)
            r = rewards(v, a.reward, a.divergence, a.pi)
            advantage = r - self._baseline(r, self._ema_stat(r))
            surrogate = -(advantage * sequence_log_probs(logp, mask, a.length_normalize)).sum()
            diag.update(reward_mean=float(r.mean()), reward_std=float(r.std()))
        else:  # per-token returns: dense reinforce or Monte-Carlo rollouts
            if a.estimator == "reinforce":
                token_v = self.score(generator, fakes, token_logits=True)
                v = token_v[torch.arange(n), (fakes != self.pad_id).sum(1) - 1]
                r_tok = rewards(token_v[:, 1:], a.reward, a.divergence, a.pi)  # reward of the token at t
                returns = discounted_returns(r_tok, mask, a.discount)
            else:
                v = self.score(generator, fakes)
                returns = self._rollout_returns(generator, fakes, start, v, rng) * mask
            denom = mask.sum(0).clamp_min(1.0)
            advantage = returns - self._baseline(returns, (returns * mask).sum(0) / denom) * mask
            if a.length_normalize:
                advantage = advantage / mask.sum(1, keepdim=True).clamp_min(1.0)
            surrogate = -(advantage * logp * mask).sum()
            per_row = (returns * mask).sum(1) / mask.sum(1).clamp_min(1.0)
            diag.update(reward_mean=float(per_row.mean()), reward_std=float(per_row.std()))
        loss = surrogate / totals["rows"]
        if a.lambda_mle > 0:
            nll, _ = token_nll_sum(generator, batch, self.pad_id)
            loss = loss + a.lambda_mle * nll / totals["tokens"]
            diag["mle_nll"] = float(nll.detach()) / max(int((batch[:, 1:] != self.pad_id).sum()), 1)
        generated = mask.sum()
        diag.update(
            d_fake_g=float(torch.sigmoid(v).mean()),
            entropy=float((entropy * mask).sum() / generated.clamp_min(1.0)),
            sample_tokens=float(generated) / n,
        )
        return loss, diag

    def _importance_coefficients(self, log_w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-row coefficients c with sum_rows c log Q / rows = the estimator's loss, and the ESS."""
        m = self.a.group_size
        if self.a.normalize == "group":
            w = group_weights(log_w, m)
            return w * m, effective_sample_size(w, m)
        if self._log_norm is not None:  # MaliGAN over the whole step (begin_step)
            w = (log_w.double() - self._log_norm).exp().float()
            return w * self._step_rows, torch.tensor(self._step_ess)
        # Called without begin_step (a single micro-batch): one normalisation over it on every process.
        everything = self._gather(log_w)
        lse = torch.logsumexp(everything.double(), dim=0)
        w = (log_w.double() - lse).exp().float()
        w_all = (everything.double() - lse).exp()
        return w * everything.numel(), (1.0 / (w_all * w_all).sum()).float()

    def _gather(self, x: torch.Tensor) -> torch.Tensor:
        acc = self.accelerator
        if acc is not None and acc.num_processes > 1:
            return acc.gather(x.contiguous())
        return x

    def _ema_stat(self, r: torch.Tensor) -> torch.Tensor:
        """The batch statistic the EMA baseline tracks: logmeanexp over each group of log w (BGAN's
        REINFORCE, reward=logit), else the mean reward."""
        if self.a.reward == "logit":
            g = r.reshape(-1, self.a.group_size)
            return (torch.logsumexp(g, dim=1) - math.log(self.a.group_size)).mean()
        return r.mean()

    def _baseline(self, r: torch.Tensor, stat: torch.Tensor) -> torch.Tensor:
        """The baseline for rewards `r` (n,) or returns (n, T-1); `stat` is this micro-batch's EMA statistic
        (a scalar, or the mean return per position)."""
        a = self.a
        if a.baseline == "none":
            return torch.zeros_like(r)
        if a.baseline == "loo":
            return loo_baseline(r, a.group_size)
        stat = stat.detach().double().cpu()
        if r.dim() == 2:  # per position: kept at a fixed width (max_len - 1) across batches
            stat = torch.nn.functional.pad(stat, (0, self.max_len - 1 - stat.numel()))
        self._stat_sum = stat if self._stat_sum is None else self._stat_sum + stat
        self._stat_count += 1
        value = stat if self.ema is None else self.ema  # first step: no history yet, the step's own value
        value = value.float().to(r.device)
        return value.expand_as(r) if r.dim() == 1 else value[None, : r.size(1)].expand_as(r)

    @torch.no_grad()
    def _rollout_returns(
        self, generator: Any, fakes: torch.Tensor, start: int, v: torch.Tensor, rng: torch.Generator
    ) -> torch.Tensor:
        """(n, T-1): for the target at token t, the mean reward of N rollouts completing x_1..x_t (SeqGAN);
        the last token of a row gets the reward of the row itself."""
        a = self.a
        n, length = fakes.shape
        q = torch.zeros(n, length - 1, device=fakes.device)
        final = rewards(v, a.reward, a.divergence, a.pi)
        ends = (fakes != self.pad_id).sum(1) - 1  # index of each row's last token
        for t in range(start, length):
            live = ends > t  # rows whose token t is not their last: they need rollouts
            if not bool(live.any()):
                continue
            rows = live.nonzero().squeeze(1)
            prefix = fakes[rows, 1 : t + 1].repeat_interleave(a.rollouts, dim=0)
            rolled = self.sample(generator, prefix.size(0), rng, prefix)
            r = rewards(self.score(generator, rolled), a.reward, a.divergence, a.pi)
            q[rows, t - 1] = r.reshape(-1, a.rollouts).mean(1)
        q[torch.arange(n), ends - 1] = final
        return q

    def end_step(self) -> None:
        """After a generator step: update the EMA baseline with the step's statistic over all processes."""
        if self._stat_sum is None:
            return
        stat = self._stat_sum / self._stat_count
        acc = self.accelerator
        if acc is not None and acc.num_processes > 1:
            stat = acc.reduce(stat.to(acc.device), reduction="mean")
        stat = stat.detach().double().cpu()
        decay = self.a.baseline_decay
        self.ema = stat if self.ema is None else decay * self.ema + (1 - decay) * stat
        self._stat_sum, self._stat_count = None, 0

    # ------------------------------------------------------------------ discriminator step
    def discriminator_loss(
        self, disc: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor, rng: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, float]]:
        a = self.a
        v_real, v_fake = disc(real).logits, disc(fake).logits
        loss = discriminator_loss(v_real, v_fake, a.divergence, a.pi)
        diag = {
            "d_real": float(torch.sigmoid(v_real.detach()).mean()),
            "d_fake": float(torch.sigmoid(v_fake.detach()).mean()),
        }
        if a.penalty != "none":
            penalty = gradient_penalty(
                disc,
                real,
                fake,
                kind=a.penalty,
                pad_id=self.pad_id,
                vocab_size=disc.config.vocab_size,
                generator=rng,
                dragan_scale=a.dragan_scale,
            )
            loss = loss + a.penalty_weight * penalty
            diag["penalty"] = float(penalty.detach())
        diag["d_loss"] = float(loss.detach())
        return loss, diag

    # ------------------------------------------------------------------ checkpointed state
    def state(self) -> dict[str, Any]:
        return {"ema": None if self.ema is None else self.ema.tolist()}

    def load_state(self, state: dict[str, Any]) -> None:
        ema = state.get("ema")
        self.ema = None if ema is None else torch.tensor(ema, dtype=torch.float64)


@contextlib.contextmanager
def _eval_mode(module: torch.nn.Module) -> Iterator[None]:
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


class DiscriminatorModule(torch.nn.Module):
    """The discriminator and its loss as one module: what the trainer hands to Accelerate."""

    def __init__(self, discriminator: torch.nn.Module, objective: Adversarial) -> None:
        super().__init__()
        self.discriminator = discriminator
        self.objective = objective

    def forward(
        self, real: torch.Tensor, fake: torch.Tensor, rng: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, float]]:
        return self.objective.discriminator_loss(self.discriminator, real, fake, rng)
