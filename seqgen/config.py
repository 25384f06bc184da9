"""Run configuration: nested dataclasses, filled from an optional YAML file and then `key=value` overrides.

Every field carries its help text (``field(metadata={"help": ...})``); ``seqgen train --help`` prints them.
Unknown keys and values of the wrong type are refused with a one-line `SeqgenError` naming the key, so a
typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from seqgen.errors import SeqgenError


def _f(default: Any, help: str, choices: tuple[str, ...] | None = None) -> Any:
    meta = {"help": help}
    if choices is not None:
        meta["choices"] = choices
    return field(default=default, metadata=meta)


@dataclass
class OracleConfig:
    vocab: int = _f(4, "enumerable oracle (data.train=oracle): vocabulary size V, 2..8")
    length: int = _f(5, "enumerable oracle: sequence length L, 1..8 (all V^L sequences are enumerated)")
    kind: str = _f("lstm", "enumerable oracle: P from a random lstm or hmm", ("lstm", "hmm"))
    dependence: float = _f(6.0, "enumerable oracle: dependence between positions (0 = independent)")
    hidden: int = _f(16, "enumerable oracle: hidden size of the random LSTM / number of HMM states")
    seed: int = _f(0, "seed of the oracle's parameters and of its sampled splits")
    sentences: int = _f(10000, "training sequences drawn from the oracle (oracle and seqgan_oracle)")


@dataclass
class DataConfig:
    train: str = _f(
        "caption",
        "training corpus: a text file (one sentence a line), a folder of .txt files, a One-Billion-Word "
        "root, 'caption' (the embedded caption language), 'oracle' (an enumerable oracle, data.oracle.*), "
        "'seqgan_oracle' (SeqGAN's random-LSTM oracle) or 'hf:NAME' (a hub dataset, online only)",
    )
    valid: str | None = _f(None, "validation corpus (same forms as train); default: see the split rules")
    test: str | None = _f(None, "test corpus (same forms as train); default: see the split rules")
    mode: str = _f(
        "sentence",
        "sentence: one sentence a row, BOS..EOS, padded; stream: contiguous blocks of the token stream",
        ("sentence", "stream"),
    )
    max_len: int = _f(64, "tokens per row including BOS/EOS (sentence mode) or block length (stream mode)")
    truncation: str = _f(
        "truncate",
        "sentences longer than max_len: 'truncate' keeps BOS and the first max_len-1 tokens (no EOS), "
        "'drop' leaves them out",
        ("truncate", "drop"),
    )
    holdout: int = _f(
        1000, "when valid/test are not given for a plain corpus: sentences held out for each (at most 5%)"
    )
    caption_sentences: int = _f(20000, "training sentences drawn from the caption language")
    caption_seed: int = _f(0, "seed of the caption language's sentences (the grammar itself is fixed)")
    text_column: str = _f("text", "column holding the text in a hub dataset")
    oracle: OracleConfig = field(default_factory=OracleConfig)


@dataclass
class TokenizerConfig:
    kind: str = _f("word", "char, word or sentencepiece", ("char", "word", "sentencepiece"))
    path: str | None = _f(None, "a saved tokenizer folder to use instead of training one on data.train")
    vocab_size: int = _f(8000, "sentencepiece vocabulary size")
    model_type: str = _f("unigram", "sentencepiece model type", ("unigram", "bpe"))
    min_freq: int = _f(1, "word: keep words seen at least this often")
    max_vocab: int = _f(0, "word/char: keep at most this many symbols, most frequent first (0 = all)")


@dataclass
class ModelConfig:
    kind: str = _f("lstm", "lstm, gru or transformer", ("lstm", "gru", "transformer"))
    pretrained: str | None = _f(None, "a local save_pretrained folder to start from (transformer)")
    emb_dim: int = _f(128, "RNN embedding size")
    hidden_dim: int = _f(256, "RNN hidden size")
    num_layers: int = _f(1, "RNN or Transformer layers")
    dropout: float = _f(0.0, "dropout probability")
    tie_embeddings: bool = _f(
        False, "RNN: share input embedding and output projection (needs emb_dim == hidden_dim)"
    )
    d_model: int = _f(256, "Transformer width")
    num_heads: int = _f(4, "Transformer attention heads")
    context: int = _f(128, "Transformer maximum sequence length (positions)")


@dataclass
class TrainConfig:
    max_steps: int = _f(1000, "optimizer steps")
    batch_size: int = _f(64, "sequences per optimizer step, over all processes and accumulation steps")
    grad_accum: int = _f(1, "micro-batches per optimizer step; must divide batch_size / processes")
    lr: float = _f(1e-3, "peak learning rate (AdamW)")
    weight_decay: float = _f(0.01, "AdamW weight decay")
    beta1: float = _f(0.9, "AdamW beta1")
    beta2: float = _f(0.99, "AdamW beta2")
    warmup_steps: int = _f(100, "linear warmup steps")
    schedule: str = _f("cosine", "learning-rate schedule after warmup", ("cosine", "constant"))
    min_lr_ratio: float = _f(0.1, "cosine schedule floor as a fraction of lr")
    grad_clip: float = _f(1.0, "clip the global gradient norm to this (0 = off)")
    seed: int = _f(0, "seed for initialisation, data order and sampling")
    eval_every: int = _f(
        200, "validate (and keep the best generator) every this many steps; 0 = only at the end"
    )
    save_every: int = _f(200, "write the resumable checkpoint every this many steps; 0 = only at the end")
    log_every: int = _f(10, "log training metrics every this many steps")
    num_samples: int = _f(5, "samples written to samples/ at each validation")
    mixed_precision: str = _f("auto", "auto (bf16 on GPU, fp32 on CPU), no or bf16", ("auto", "no", "bf16"))
    compile: bool = _f(False, "torch.compile the generator")
    on_nonfinite: str = _f(
        "stop", "a non-finite loss: stop (naming the step) or skip the step", ("stop", "skip")
    )
    keep: str = _f(
        "auto",
        "which generator RUN/generator holds: best_valid (lowest validation NLL), last, or auto (last for "
        "adversarial runs, whose aim is not likelihood; best_valid otherwise)",
        ("auto", "best_valid", "last"),
    )
    tensorboard: bool = _f(True, "also log to TensorBoard through Accelerate when it is installed")
    progress: bool = _f(True, "show a progress bar")


@dataclass
class ScheduledSamplingConfig:
    mode: str = _f(
        "two_pass",
        "exact: token by token, each replacement sampled given the already-mixed prefix; two_pass: a "
        "teacher-forced pass without gradient picks the replacements, a second pass on the mixed inputs "
        "carries the loss (the fast option for Transformers)",
        ("exact", "two_pass"),
    )
    mix: str = _f(
        "sample",
        "what replaces a gold input: a sampled token, the argmax token, or (two_pass only) soft = the "
        "probability-weighted embedding",
        ("sample", "argmax", "soft"),
    )
    schedule: str = _f(
        "constant",
        "p_gold over training step i: constant = p_gold; linear = max(p_min, k - c*i); exponential = k**i "
        "(k < 1); inverse_sigmoid = k/(k+exp(i/k)) (k >= 1)",
        ("constant", "linear", "exponential", "inverse_sigmoid"),
    )
    p_gold: float = _f(
        0.75, "constant schedule: probability of feeding the gold token (Huszar's epsilon is 1 - p_gold)"
    )
    k: float = _f(1.0, "schedule parameter k (start of linear, base of exponential, inverse-sigmoid k)")
    c: float = _f(0.0, "linear schedule: decrease of p_gold per step")
    p_min: float = _f(0.0, "floor of the linear and exponential schedules")
    grad_through_both: bool = _f(False, "two_pass: also backpropagate through the first pass")


@dataclass
class AdversarialConfig:
    discriminator: str = _f(
        "cnn",
        "discriminator: cnn (SeqGAN-style), rnn, transformer, or oracle (exact log(pi p / ((1-pi) q)) on "
        "data.train=oracle, no training: checks estimators without discriminator error)",
        ("cnn", "rnn", "transformer", "oracle"),
    )
    d_emb_dim: int = _f(64, "discriminator embedding size")
    d_hidden_dim: int = _f(64, "discriminator hidden size (rnn state, transformer width)")
    d_num_layers: int = _f(1, "discriminator layers (rnn, transformer)")
    d_filter_widths: str = _f("2,3,4,5", "cnn discriminator: comma-separated filter widths")
    d_num_filters: int = _f(64, "cnn discriminator: filters per width")
    d_num_heads: int = _f(4, "transformer discriminator: attention heads")
    d_dropout: float = _f(0.0, "discriminator dropout")
    d_lr: float = _f(1e-3, "discriminator learning rate (Adam, constant)")
    d_beta1: float = _f(0.5, "discriminator Adam beta1")
    d_beta2: float = _f(0.99, "discriminator Adam beta2")
    d_steps: int = _f(1, "discriminator updates per generator step")
    d_pretrain_steps: int = _f(0, "discriminator updates before the first generator step")
    pi: float = _f(
        0.5,
        "class balance of the discriminator loss -pi E_P[log D] - (1-pi) E_Q[log(1-D)] (divergence=gan); "
        "pi -> 0 moves the objective towards KL(P||Q), pi -> 1 towards KL(Q||P) (Huszar 2015)",
    )
    penalty: str = _f(
        "none",
        "gradient penalty on the discriminator logit, on soft one-hot rows: gp (at real/fake "
        "interpolates) or dragan (at perturbed real rows)",
        ("none", "gp", "dragan"),
    )
    penalty_weight: float = _f(10.0, "lambda of the gradient penalty")
    dragan_scale: float = _f(0.5, "dragan: perturbation scale c, x + c * std(x) * U[0, 1]")
    estimator: str = _f(
        "bgan_is",
        "generator gradient: bgan_is (self-normalised importance weights over groups of group_size samples), "
        "reinforce (reward minus a baseline) or seqgan_rollout (Monte-Carlo rollouts per prefix)",
        ("bgan_is", "reinforce", "seqgan_rollout"),
    )
    group_size: int = _f(8, "samples per conditioning (M); must divide the micro-batch on each process")
    prefix_len: int = _f(0, "gold tokens the M samples of a group share (k); 0 = the empty prefix")
    normalize: str = _f(
        "group",
        "bgan_is: normalise the weights over each group, or over the whole micro-batch (batch = MaliGAN)",
        ("group", "batch"),
    )
    divergence: str = _f(
        "gan",
        "f-divergence of the discriminator loss and of the BGAN weights: gan (pi-balanced logistic), kl, "
        "reverse_kl, hellinger (log w = V for all four) or chi2 (w = V/2 + 1, clipped at 0)",
        ("gan", "kl", "reverse_kl", "hellinger", "chi2"),
    )
    reward: str = _f(
        "logit",
        "reinforce / seqgan_rollout reward: logit (log w, the log density-ratio estimate), non_saturating "
        "(log D) or minimax (-log(1 - D))",
        ("logit", "non_saturating", "minimax"),
    )
    baseline: str = _f(
        "loo",
        "reinforce / seqgan_rollout baseline: loo (mean reward of the other samples of the group), ema "
        "(moving average) or none",
        ("loo", "ema", "none"),
    )
    baseline_decay: float = _f(0.99, "ema baseline decay")
    rollouts: int = _f(4, "seqgan_rollout: Monte-Carlo rollouts per prefix")
    dense: bool = _f(
        False, "reinforce: per-token rewards from the discriminator's prefix logits, discounted returns"
    )
    discount: float = _f(1.0, "dense rewards: discount gamma of the returns")
    length_normalize: bool = _f(False, "divide each sample's log Q by its number of generated tokens")
    lambda_mle: float = _f(0.0, "weight of an added MLE (teacher forcing) term on the real batch")


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    ss: ScheduledSamplingConfig = field(default_factory=ScheduledSamplingConfig)
    adv: AdversarialConfig = field(default_factory=AdversarialConfig)
    objective: str = _f(
        "mle",
        "training objective: mle (teacher forcing), scheduled_sampling (settings in ss.*) or adversarial "
        "(policy gradient with discriminator rewards, settings in adv.*)",
        ("mle", "scheduled_sampling", "adversarial"),
    )
    out: str = _f("runs/default", "run folder (config, tokenizer, checkpoints, metrics, samples)")
    resume: bool = _f(False, "continue the run in `out` from its last checkpoint")
    init_from: str | None = _f(None, "start the generator from this run folder's generator")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def set_given(self, keys: set[str] | frozenset[str]) -> None:
        """Record which keys the user set (YAML or key=value): a resumed run, or one started `init_from`
        another run, inherits every other key of its data/tokenizer/model sections from that run."""
        self._given = frozenset(keys)

    def given_keys(self) -> frozenset[str]:
        """The keys set explicitly; for a Config built in Python, the keys whose value is not the default."""
        given = getattr(self, "_given", None)
        if given is not None:
            return given
        mine, default = flat_dict(self.to_dict()), flat_dict(Config().to_dict())
        return frozenset(k for k, v in mine.items() if default.get(k) != v)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))


# --------------------------------------------------------------------------- parsing and validation


def flat_dict(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'train': {'lr': 1}} -> {'train.lr': 1}."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat_dict(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _type_name(tp: Any) -> str:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if args:
        return " or ".join(_type_name(a) for a in args) + (" or null" if _is_optional(tp) else "")
    return getattr(tp, "__name__", str(tp))


def _is_optional(tp: Any) -> bool:
    return (typing.get_origin(tp) in (typing.Union, types.UnionType)) and type(None) in typing.get_args(tp)


def _coerce(key: str, tp: Any, value: Any, raw: str | None = None) -> Any:
    """Check `value` against the field type `tp`.

    Ints are accepted for floats, and so are strings that read as floats ('1e-3': YAML 1.1 reads that as a
    string); a string field given on the command line keeps the text as typed (`out=007` stays '007').
    Nothing else is converted."""
    if _is_optional(tp):
        if value is None:
            return None
        (tp,) = [a for a in typing.get_args(tp) if a is not type(None)]
    if tp is str and raw is not None and not isinstance(value, bool | dict | list):
        value = raw.strip()
    if tp is float and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    ok = (
        (tp is bool and isinstance(value, bool))
        or (tp is int and isinstance(value, int) and not isinstance(value, bool))
        or (tp is float and isinstance(value, int | float) and not isinstance(value, bool))
        or (tp is str and isinstance(value, str))
    )
    if not ok:
        raise SeqgenError(f"config key '{key}' expects {_type_name(tp)}, got {value!r}")
    if tp is float:
        value = float(value)
        # No seqgen setting means anything at inf or nan (a nan learning rate trains nothing, silently).
        if not math.isfinite(value):
            raise SeqgenError(f"config key '{key}' must be a finite number, got {value}")
    return value


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unknown(key: str, known: list[str]) -> SeqgenError:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return SeqgenError(f"unknown config key '{key}'{hint}")


def all_keys(cls: type = Config, prefix: str = "") -> list[str]:
    """Every dotted leaf key of a config class, e.g. 'train.max_steps'."""
    out = []
    for f in dataclasses.fields(cls):
        tp = _hints(cls)[f.name]
        if dataclasses.is_dataclass(tp):
            out += all_keys(tp, prefix + f.name + ".")
        else:
            out.append(prefix + f.name)
    return out


def _apply(obj: Any, key: str, value: Any, raw: str | None = None, given: set[str] | None = None) -> None:
    """Set dotted `key` of config `obj` to `value` (checked); a section takes a mapping of its keys. Every
    leaf key set is added to `given`."""
    parts = key.split(".")
    target = obj
    for i, part in enumerate(parts):
        hints = _hints(type(target))
        if part not in hints:
            raise _unknown(key, all_keys())
        if i == len(parts) - 1:
            tp = hints[part]
            if dataclasses.is_dataclass(tp):
                if not isinstance(value, dict):
                    raise SeqgenError(
                        f"config key '{key}' is a section; give its keys, e.g. '{key}.KEY=VALUE'"
                    )
                for k, v in value.items():
                    _apply(obj, f"{key}.{k}", v, given=given)
                return
            field_ = next(f for f in dataclasses.fields(target) if f.name == part)
            value = _coerce(key, tp, value, raw)
            choices = field_.metadata.get("choices")
            if choices and value is not None and value not in choices:
                raise SeqgenError(f"config key '{key}' must be one of {', '.join(choices)}; got {value!r}")
            setattr(target, part, value)
            if given is not None:
                given.add(key)
        else:
            target = getattr(target, part)
            if not dataclasses.is_dataclass(target):
                raise _unknown(key, all_keys())


def _parse_override(text: str) -> tuple[str, Any, str]:
    if "=" not in text:
        raise SeqgenError(f"expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    key = key.strip()
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    # YAML reads `out=runs/1e3` style values as str already; keep strings that YAML turns into dates etc.
    if not isinstance(value, str | int | float | bool | type(None) | dict | list):
        value = raw
    return key, value, raw


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Defaults, then the YAML file (if any), then `key=value` overrides, each checked."""
    cfg = Config()
    given: set[str] = set()
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise SeqgenError(f"config file not found: {p}")
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise SeqgenError(f"config file is not UTF-8 text: {p}") from None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            raise SeqgenError(f"config file is not valid YAML{where}: {p}") from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise SeqgenError(f"config file must hold a mapping of keys, got {type(data).__name__}: {p}")
        for k, v in data.items():
            _apply(cfg, str(k), v, given=given)
    for text in overrides:
        _apply(cfg, *_parse_override(text), given=given)
    validate(cfg)
    cfg.set_given(given)
    return cfg


def config_from_dict(data: dict[str, Any]) -> Config:
    cfg = Config()
    for k, v in data.items():
        _apply(cfg, str(k), v)
    validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    """Settings that are each fine alone but impossible together, or out of range."""
    t, d, m = cfg.train, cfg.data, cfg.model
    positive = {
        "train.max_steps": t.max_steps,
        "train.batch_size": t.batch_size,
        "train.grad_accum": t.grad_accum,
        "data.max_len": d.max_len,
        "model.num_layers": m.num_layers,
    }
    for key, v in positive.items():
        if v < 1:
            raise SeqgenError(f"config key '{key}' must be at least 1, got {v}")
    for key, v in {
        "train.warmup_steps": t.warmup_steps,
        "train.eval_every": t.eval_every,
        "train.save_every": t.save_every,
        "train.log_every": t.log_every,
        "data.holdout": d.holdout,
    }.items():
        if v < 0:
            raise SeqgenError(f"config key '{key}' must not be negative, got {v}")
    if t.lr <= 0:
        raise SeqgenError(f"config key 'train.lr' must be positive, got {t.lr}")
    for key, v in {
        "train.weight_decay": t.weight_decay,
        "train.grad_clip": t.grad_clip,  # 0 is "off"; a negative norm means nothing
        "train.num_samples": t.num_samples,
    }.items():
        if v < 0:
            raise SeqgenError(f"config key '{key}' must not be negative, got {v}")
    if not 0.0 <= t.min_lr_ratio <= 1.0:
        raise SeqgenError(f"config key 'train.min_lr_ratio' must be in [0, 1], got {t.min_lr_ratio}")
    for key, v in {"train.beta1": t.beta1, "train.beta2": t.beta2}.items():
        if not 0.0 <= v < 1.0:
            raise SeqgenError(f"config key '{key}' must be in [0, 1), got {v}")
    # numpy's seed (set by accelerate's set_seed) takes 0 .. 2**32 - 1.
    if not 0 <= t.seed < 2**32:
        raise SeqgenError(f"config key 'train.seed' must be in [0, 2**32 - 1], got {t.seed}")
    for key, v in {
        "data.caption_sentences": d.caption_sentences,
        "model.emb_dim": m.emb_dim,
        "model.hidden_dim": m.hidden_dim,
        "model.d_model": m.d_model,
        "model.num_heads": m.num_heads,
        "model.context": m.context,
        "tokenizer.min_freq": cfg.tokenizer.min_freq,
    }.items():
        if v < 1:
            raise SeqgenError(f"config key '{key}' must be at least 1, got {v}")
    tk = cfg.tokenizer
    if tk.vocab_size <= 4:
        raise SeqgenError(
            f"config key 'tokenizer.vocab_size' must be more than the 4 special tokens, got {tk.vocab_size}"
        )
    if tk.max_vocab < 0 or 0 < tk.max_vocab <= 4:
        raise SeqgenError(
            f"config key 'tokenizer.max_vocab' must be 0 (no limit) or more than the 4 special tokens, "
            f"got {tk.max_vocab}"
        )
    if not 0.0 <= m.dropout < 1.0:
        raise SeqgenError(f"config key 'model.dropout' must be in [0, 1), got {m.dropout}")
    if t.batch_size % t.grad_accum:
        raise SeqgenError(f"train.grad_accum={t.grad_accum} does not divide train.batch_size={t.batch_size}")
    if d.max_len < 2:
        raise SeqgenError("config key 'data.max_len' must be at least 2 (BOS and one token)")
    if m.kind == "transformer":
        if m.d_model % m.num_heads:
            raise SeqgenError(f"model.num_heads={m.num_heads} does not divide model.d_model={m.d_model}")
        # A row of max_len tokens feeds the model max_len - 1 inputs (the last token is only a target).
        if d.max_len - 1 > m.context:
            raise SeqgenError(
                f"data.max_len={d.max_len} needs {d.max_len - 1} positions but model.context={m.context}"
            )
    if d.train in ("oracle", "seqgan_oracle"):
        from seqgen.data.oracle_corpus import build_oracle

        length = build_oracle(d).length
        if d.mode != "sentence" or d.max_len < length + 2:
            raise SeqgenError(
                f"data.train={d.train} needs data.mode=sentence and data.max_len >= {length + 2} "
                f"(BOS, {length} symbols, EOS); got mode={d.mode}, max_len={d.max_len}"
            )
    if cfg.objective == "scheduled_sampling":
        _validate_ss(cfg)
    if cfg.objective == "adversarial":
        from seqgen.objectives.adversarial_config import validate_adversarial

        validate_adversarial(cfg)
    if m.tie_embeddings and m.kind in ("lstm", "gru") and m.emb_dim != m.hidden_dim:
        raise SeqgenError(
            "model.tie_embeddings needs model.emb_dim == model.hidden_dim "
            f"(got {m.emb_dim} and {m.hidden_dim})"
        )


def _validate_ss(cfg: Config) -> None:
    from seqgen.objectives.schedules import p_gold

    ss = cfg.ss
    if ss.mode == "exact" and ss.mix == "soft":
        raise SeqgenError("ss.mix=soft needs ss.mode=two_pass (exact mode feeds tokens, not embeddings)")
    if ss.grad_through_both and ss.mode != "two_pass":
        raise SeqgenError("ss.grad_through_both applies to ss.mode=two_pass only")
    try:
        p_gold(ss.schedule, 0, k=ss.k, c=ss.c, p_min=ss.p_min, value=ss.p_gold)
    except SeqgenError as e:
        raise SeqgenError(f"ss.* settings: {e}") from None


def help_text() -> str:
    """One line per key: name, type, default and help; for `seqgen train --help`."""
    lines = []

    def walk(cls: type, obj: Any, prefix: str) -> None:
        for f in dataclasses.fields(cls):
            tp = _hints(cls)[f.name]
            if dataclasses.is_dataclass(tp):
                walk(tp, getattr(obj, f.name), prefix + f.name + ".")
                continue
            default = getattr(obj, f.name)
            choices = f.metadata.get("choices")
            extra = f" [{'|'.join(choices)}]" if choices else ""
            lines.append(
                f"  {prefix + f.name} ({_type_name(tp)}, default {default!r}){extra}: {f.metadata['help']}"
            )

    walk(Config, Config(), "")
    return "\n".join(lines)
