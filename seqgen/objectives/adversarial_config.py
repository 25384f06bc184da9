"""Config-time checks of `adv.*`: settings that are each valid alone but impossible together are refused with
one line naming the keys, before any data is loaded or model built."""

from __future__ import annotations

from typing import Any

from seqgen.errors import SeqgenError


def filter_widths(text: str) -> list[int]:
    """'2,3,4,5' -> [2, 3, 4, 5]; anything else is a one-line error."""
    try:
        widths = [int(w) for w in str(text).split(",") if w.strip()]
    except ValueError:
        widths = []
    if not widths or min(widths) < 1:
        raise SeqgenError(f"adv.d_filter_widths must be comma-separated positive integers, got {text!r}")
    return widths


def validate_adversarial(cfg: Any) -> None:
    a, t, d = cfg.adv, cfg.train, cfg.data
    micro = t.batch_size // t.grad_accum
    for key, value, low in (
        ("adv.group_size", a.group_size, 1),
        ("adv.d_steps", a.d_steps, 1),
        ("adv.rollouts", a.rollouts, 1),
        ("adv.d_emb_dim", a.d_emb_dim, 1),
        ("adv.d_hidden_dim", a.d_hidden_dim, 1),
        ("adv.d_num_layers", a.d_num_layers, 1),
        ("adv.d_num_filters", a.d_num_filters, 1),
        ("adv.d_num_heads", a.d_num_heads, 1),
        ("adv.d_pretrain_steps", a.d_pretrain_steps, 0),
        ("adv.prefix_len", a.prefix_len, 0),
    ):
        if value < low:
            raise SeqgenError(f"config key '{key}' must be at least {low}, got {value}")
    filter_widths(a.d_filter_widths)
    if micro % a.group_size:
        raise SeqgenError(
            f"adv.group_size={a.group_size} does not divide the micro-batch of {micro} sequences "
            f"(train.batch_size={t.batch_size} / train.grad_accum={t.grad_accum})"
        )
    if not 0.0 < a.pi < 1.0:
        raise SeqgenError(f"config key 'adv.pi' must be in (0, 1), got {a.pi}")
    if a.divergence != "gan" and a.pi != 0.5:
        raise SeqgenError(
            f"adv.pi={a.pi} applies to adv.divergence=gan only "
            "(the f-divergence losses have no class balance)"
        )
    if d.mode != "sentence":
        raise SeqgenError("objective=adversarial needs data.mode=sentence (samples end at EOS)")
    if a.prefix_len > d.max_len - 2:
        raise SeqgenError(
            f"adv.prefix_len={a.prefix_len} leaves nothing to generate in data.max_len={d.max_len} "
            "(BOS + prefix + at least one token)"
        )
    if a.estimator == "bgan_is":
        if a.reward != "logit":
            raise SeqgenError(
                f"adv.reward={a.reward} applies to reinforce and seqgan_rollout; bgan_is weights come from "
                "adv.divergence"
            )
        if a.group_size < 2 and a.normalize == "group":
            raise SeqgenError("adv.estimator=bgan_is with normalize=group needs adv.group_size >= 2")
    elif a.baseline == "loo" and a.group_size < 2:
        raise SeqgenError("adv.baseline=loo needs adv.group_size >= 2 (the other samples of the group)")
    if a.dense and a.estimator != "reinforce":
        raise SeqgenError("adv.dense=true needs adv.estimator=reinforce")
    if not 0.0 < a.discount <= 1.0:
        raise SeqgenError(f"config key 'adv.discount' must be in (0, 1], got {a.discount}")
    if not 0.0 <= a.baseline_decay < 1.0:
        raise SeqgenError(f"config key 'adv.baseline_decay' must be in [0, 1), got {a.baseline_decay}")
    for key, value in (("adv.lambda_mle", a.lambda_mle), ("adv.penalty_weight", a.penalty_weight)):
        if value < 0:
            raise SeqgenError(f"config key '{key}' must not be negative, got {value}")
    if a.d_lr <= 0:
        raise SeqgenError(f"config key 'adv.d_lr' must be positive, got {a.d_lr}")
    for key, value in (("adv.d_beta1", a.d_beta1), ("adv.d_beta2", a.d_beta2)):
        if not 0.0 <= value < 1.0:
            raise SeqgenError(f"config key '{key}' must be in [0, 1), got {value}")
    if a.dragan_scale < 0:
        raise SeqgenError(f"config key 'adv.dragan_scale' must not be negative, got {a.dragan_scale}")
    if not 0.0 <= a.d_dropout < 1.0:
        raise SeqgenError(f"config key 'adv.d_dropout' must be in [0, 1), got {a.d_dropout}")
    if a.discriminator == "oracle":
        if d.train != "oracle":
            raise SeqgenError("adv.discriminator=oracle needs data.train=oracle (an enumerable oracle)")
        if a.penalty != "none" or a.d_pretrain_steps:
            raise SeqgenError(
                "adv.discriminator=oracle is exact and not trained: adv.penalty and adv.d_pretrain_steps "
                "do not apply"
            )
    if a.discriminator == "transformer" and a.d_hidden_dim % a.d_num_heads:
        raise SeqgenError(
            f"adv.d_num_heads={a.d_num_heads} does not divide adv.d_hidden_dim={a.d_hidden_dim}"
        )
