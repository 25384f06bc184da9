"""Optional realism metrics on sentence embeddings (DESIGN §6 realism (d)): FED and MAUVE.

Both compare two sets of texts (generated samples and real references) through a sentence-embedding model the
user already has on disk: any transformers model folder (a sentence-transformers folder works, its config.json
sits at the top). seqgen never downloads: a hub name is accepted only when it is already in the local Hugging
Face cache.

- FED (Fréchet embedding distance) fits a Gaussian to each set of embeddings and reports the Fréchet (2-
  Wasserstein) distance between them, as FID does for images. Lower is closer; 0 for identical sets.
- MAUVE (Pillutla et al., 2021) quantizes both sets into shared k-means clusters and integrates the divergence
  frontier of the two histograms; it comes from the `mauve-text` package (the `embeddings` extra), imported
  only when asked for. Higher is closer; 1 for identical sets.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seqgen.errors import SeqgenError

POOLINGS = ("mean", "cls")
METRICS = ("fed", "mauve")
MAUVE_MISSING = "MAUVE needs the embeddings extra: pip install 'seqgen[embeddings]'"
# mauve-text's own defaults, passed explicitly so that a result records every setting it depends on.
MAUVE_DEFAULTS: dict[str, Any] = {
    "num_buckets": "auto",
    "pca_max_data": -1,
    "kmeans_explained_var": 0.9,
    "kmeans_num_redo": 5,
    "kmeans_max_iter": 500,
    "divergence_curve_discretization_size": 25,
    "mauve_scaling_factor": 5,
}


def _one_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__


def load_embedding_model(model_dir: str | Path, device: str = "cpu") -> tuple[Any, Any]:
    """(tokenizer, model) from a local model folder, or a hub name in the local cache; never online."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    path = Path(model_dir).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise SeqgenError(f"{path} is not a transformers model folder: it has no config.json")
        source = str(path)
    elif path.exists():
        raise SeqgenError(f"{path} is a file, not a sentence-embedding model folder")
    else:
        source = str(model_dir)
        try:
            AutoConfig.from_pretrained(source, local_files_only=True)
        except (OSError, ValueError) as err:
            raise SeqgenError(
                f"embedding model {source!r} is not available offline: no such folder, and no model of that "
                "name in the local Hugging Face cache (seqgen never downloads; pass a local model folder)"
            ) from err
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
    except Exception as err:  # transformers raises OSError, ValueError, KeyError... for a bad folder
        raise SeqgenError(f"cannot load a tokenizer from {source}: {_one_line(err)}") from err
    try:
        model = AutoModel.from_pretrained(source, local_files_only=True)
    except Exception as err:
        raise SeqgenError(f"cannot load the model in {source}: {_one_line(err)}") from err
    if getattr(model.config, "is_encoder_decoder", False):
        model = model.get_encoder()  # T5-style folders: the encoder alone gives sentence features
    return tokenizer, model.to(device).eval()


def _check_embed_args(texts: Sequence[str], batch_size: int, max_length: int, pooling: str) -> None:
    if pooling not in POOLINGS:
        raise SeqgenError(f"pooling must be one of {', '.join(POOLINGS)}, not {pooling!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise SeqgenError(f"batch_size must be a positive integer, not {batch_size!r}")
    if not isinstance(max_length, int) or max_length < 1:
        raise SeqgenError(f"max_length must be a positive integer, not {max_length!r}")
    if len(texts) == 0:
        raise SeqgenError("no texts to embed")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise SeqgenError(f"text {i} is a {type(text).__name__}, not a string")


def embed_with(
    tokenizer: Any,
    model: Any,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    max_length: int = 128,
    pooling: str = "mean",
) -> np.ndarray:
    """Embeddings (N, D) float64 of `texts` with an already loaded tokenizer and model (see `embed_texts`)."""
    import torch

    _check_embed_args(texts, batch_size, max_length, pooling)
    ids = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    for i, row in enumerate(ids):
        if not row:
            raise SeqgenError(
                f"text {i} is empty after tokenization and this tokenizer adds no special tokens"
            )
    # Batches of similar length waste little on padding; right padding under the attention mask leaves every
    # real token's position and context unchanged, so a text's embedding does not depend on its batch.
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0  # masked: any id will do
    param = next(model.parameters())
    out: np.ndarray | None = None
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            rows = [ids[i] for i in order[start : start + batch_size]]
            width = max(len(r) for r in rows)
            input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            for j, row in enumerate(rows):
                input_ids[j, : len(row)] = torch.tensor(row, dtype=torch.long)
                mask[j, : len(row)] = 1
            input_ids, mask = input_ids.to(param.device), mask.to(param.device)
            try:
                hidden = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
            except (RuntimeError, IndexError) as err:
                raise SeqgenError(
                    f"the embedding model failed on texts of up to {width} tokens "
                    f"(is max_length={max_length} too long for it?): {_one_line(err)}"
                ) from err
            hidden = hidden.double()
            if pooling == "mean":
                weights = mask.unsqueeze(-1).double()
                pooled = (hidden * weights).sum(1) / weights.sum(1)
            else:
                pooled = hidden[:, 0]
            if out is None:
                out = np.empty((len(ids), pooled.shape[1]), dtype=np.float64)
            out[order[start : start + batch_size]] = pooled.cpu().numpy()
    assert out is not None  # texts is non-empty
    return out


def embed_texts(
    texts: list[str],
    model_dir: str | Path,
    *,
    batch_size: int = 64,
    device: str = "cpu",
    max_length: int = 128,
    pooling: str = "mean",
) -> np.ndarray:
    """Sentence embeddings (N, D), float64, of `texts` under the local model in `model_dir`.

    pooling="mean" (the default, and what sentence-transformers models are trained for) averages the last
    hidden state over the real tokens of each text, pad tokens excluded by the attention mask; pooling="cls"
    takes the first token's hidden state (BERT's [CLS]). Texts are truncated to `max_length` tokens. The model
    runs in eval mode without gradients, so the same texts always give the same embeddings.
    """
    _check_embed_args(texts, batch_size, max_length, pooling)
    tokenizer, model = load_embedding_model(model_dir, device)
    return embed_with(tokenizer, model, texts, batch_size=batch_size, max_length=max_length, pooling=pooling)


def _features(x: Any, name: str, min_rows: int = 2) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise SeqgenError(f"{name} must be a 2-D array (one row per text), got shape {arr.shape}")
    if arr.shape[0] < min_rows:
        raise SeqgenError(f"{name} needs at least {min_rows} rows, got {arr.shape[0]}")
    if not np.isfinite(arr).all():
        raise SeqgenError(f"{name} contains NaN or infinite values")
    return arr


def _pair(x: Any, y: Any, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    a, b = _features(x, names[0]), _features(y, names[1])
    if a.shape[1] != b.shape[1]:
        raise SeqgenError(f"{names[0]} has {a.shape[1]} columns but {names[1]} has {b.shape[1]}")
    return a, b


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    """Symmetric square root of a covariance; eigenvalues that rounding made slightly negative count as 0."""
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to the rows of `x` and `y` (each (n, D), n >= 2).

    ||mu_x - mu_y||^2 + Tr(Sx + Sy - 2 (Sx^1/2 Sy Sx^1/2)^1/2), with unbiased (n - 1) covariances. The
    middle matrix is symmetric positive semi-definite, so both roots come from `eigh`: no complex parts and no
    failure on the singular covariances that fewer texts than dimensions give (scipy's sqrtm of Sx Sy can).
    """
    a, b = _pair(x, y, ("x", "y"))
    sx = np.atleast_2d(np.cov(a, rowvar=False))
    sy = np.atleast_2d(np.cov(b, rowvar=False))
    root = _psd_sqrt(sx)
    middle = root @ sy @ root
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_term = np.trace(sx) + np.trace(sy) - 2.0 * np.sqrt(np.clip(eig, 0.0, None)).sum()
    diff = a.mean(0) - b.mean(0)
    return max(float(diff @ diff + trace_term), 0.0)  # >= 0 exactly; rounding may give -1e-16


def _compute_mauve(p: np.ndarray, q: np.ndarray, seed: int, kw: dict[str, Any]) -> Any:
    try:
        import mauve
    except ImportError as err:
        raise SeqgenError(MAUVE_MISSING) from err
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise SeqgenError(f"seed must be a non-negative integer, not {seed!r}")
    settings = {**MAUVE_DEFAULTS, **kw}
    try:
        return mauve.compute_mauve(p_features=p, q_features=q, seed=seed, verbose=False, **settings)
    except (TypeError, ValueError, AssertionError, RuntimeError) as err:
        raise SeqgenError(f"MAUVE failed: {_one_line(err)}") from err


def mauve_score(p_features: np.ndarray, q_features: np.ndarray, *, seed: int = 0, **kw: Any) -> float:
    """MAUVE between two feature sets (rows = texts) with mauve-text; extra keywords go to compute_mauve.

    The k-means quantization is seeded, so a seed gives one value. Clipped to [0, 1] (the area can round to
    1 + 2e-16 for identical sets).
    """
    p, q = _pair(p_features, q_features, ("p_features", "q_features"))
    return min(max(float(_compute_mauve(p, q, seed, kw).mauve), 0.0), 1.0)


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def embedding_metrics(
    samples: list[str],
    references: list[str],
    model_dir: str | Path,
    *,
    metrics: Sequence[str] = METRICS,
    seed: int = 0,
    batch_size: int = 64,
    device: str = "cpu",
    pooling: str = "mean",
    max_length: int = 128,
) -> dict[str, Any]:
    """FED and/or MAUVE of `samples` against `references`, with every setting needed to reproduce them."""
    wanted = list(dict.fromkeys(metrics))
    unknown = [m for m in wanted if m not in METRICS]
    if unknown or not wanted:
        raise SeqgenError(f"unknown embedding metric {unknown[0] if unknown else '(none)'}: use {METRICS}")
    if "mauve" in wanted:
        try:
            import mauve  # noqa: F401  (fail before the slow part, not after it)
        except ImportError as err:
            raise SeqgenError(MAUVE_MISSING) from err
    for name, texts in (("samples", samples), ("references", references)):
        if len(texts) < 2:
            raise SeqgenError(f"embedding metrics need at least 2 {name}, got {len(texts)}")
    _check_embed_args(samples, batch_size, max_length, pooling)
    tokenizer, model = load_embedding_model(model_dir, device)
    kw = {"batch_size": batch_size, "max_length": max_length, "pooling": pooling}
    p, q = embed_with(tokenizer, model, samples, **kw), embed_with(tokenizer, model, references, **kw)
    path = Path(model_dir).expanduser()
    out: dict[str, Any] = {
        "model_dir": str(path.resolve()) if path.is_dir() else str(model_dir),
        "model_type": getattr(model.config, "model_type", None),
        "pooling": pooling,
        "max_length": max_length,
        "n_samples": len(samples),
        "n_references": len(references),
        "dim": int(p.shape[1]),
        "seed": seed,
        "transformers_version": _version("transformers"),
    }
    if "fed" in wanted:
        out["fed"] = frechet_distance(p, q)
    if "mauve" in wanted:
        result = _compute_mauve(q, p, seed, {})  # mauve-text's convention: p = human text, q = model text
        out["mauve"] = min(max(float(result.mauve), 0.0), 1.0)
        out["mauve_settings"] = {**MAUVE_DEFAULTS, "num_buckets": int(result.num_buckets)}
        out["mauve_version"] = _version("mauve-text")
    return out
