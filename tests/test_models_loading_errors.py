"""Loading generator weights (seqgen.models, seqgen.models.checked_loading): a run's generator over another
vocabulary than its tokenizer is named by `sample` / `evaluate`; `model.pretrained=DIR` with pickle-based
weights is refused unopened (nothing is unpickled), a truncated model.safetensors or shard is named, and
sharded safetensors still load. CLI refusals are the one-line error of helpers.py and change no file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from helpers import QUIET_NO_SAMPLES, TINY_DATA, TINY_GPT_MODEL, TINY_LSTM, fails, fails_strict, snapshot

from seqgen.errors import SeqgenError
from seqgen.models import build_generator
from seqgen.models.checked_loading import quiet_transformers
from seqgen.models.config import ModelConfig

# ------------------------------------------------------------------------------------- a run's generator


def _new_generator(run: Path, vocab_delta: int):
    """A fresh generator like the run's but over a vocabulary `vocab_delta` symbols larger."""
    import json

    from seqgen.models import build_generator
    from seqgen.run_folder import load_config

    vocab = json.loads((run / "run.json").read_text())["vocab_size"]
    return build_generator(load_config(None, TINY_LSTM).model, vocab + vocab_delta)


@pytest.mark.parametrize("vocab_delta", [-5, 7], ids=["smaller", "larger"])
@pytest.mark.parametrize("command", ["sample", "evaluate"])
def test_generator_of_another_vocabulary_size(run_copy, capsys, command, vocab_delta):
    shutil.rmtree(run_copy / "generator")
    _new_generator(run_copy, vocab_delta).save(run_copy / "generator")
    line = fails(
        capsys,
        command,
        run_copy,
        *(["--num-samples", "0"] if command == "evaluate" else []),
        says=(str(run_copy / "generator"),),
    )
    assert "vocab" in line and "tokenizer" in line, line


# -------------------------------------------------------------------------------------- model.pretrained


class _Booby:
    """Unpickling this creates `marker`: a stand-in for the code a malicious pytorch_model.bin runs."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _pretrained(folder: Path) -> Path:
    with quiet_transformers():
        build_generator(TINY_GPT_MODEL, 7).save(folder)
    return folder


def _train_from(pretrained: Path, out: Path) -> list[str]:
    return [
        "train",
        "model.kind=transformer",
        f"model.pretrained={pretrained}",
        *TINY_DATA,
        "train.max_steps=1",
        "train.batch_size=8",
        *QUIET_NO_SAMPLES,
        f"out={out}",
    ]


@pytest.mark.parametrize("payload", ["state-dict", "booby-trapped"])
def test_pretrained_pickle_weights_are_refused_unopened(tmp_path, capsys, payload):
    pre = _pretrained(tmp_path / "pre")
    state = build_generator(TINY_GPT_MODEL, 7).lm.state_dict()
    (pre / "model.safetensors").unlink()
    marker = tmp_path / "pickle-ran"
    torch.save(state if payload == "state-dict" else {"weights": _Booby(marker)}, pre / "pytorch_model.bin")
    before = snapshot(pre)
    out = tmp_path / "run"
    line = fails_strict(
        capsys,
        *_train_from(pre, out),
        says=(f"model.pretrained={pre}", "pytorch_model.bin", "pickle", "execute code", "only safetensors"),
    )
    assert "convert" in line
    assert not marker.exists()  # nothing was unpickled
    assert not out.exists() and snapshot(pre) == before
    if payload == "booby-trapped":  # the trap is live: a plain torch.load would have sprung it
        torch.load(pre / "pytorch_model.bin", weights_only=False)
        assert marker.exists()


def test_pretrained_truncated_safetensors_names_the_file(tmp_path, capsys):
    pre = _pretrained(tmp_path / "pre")
    weights = pre / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    before = snapshot(pre)
    out = tmp_path / "run"
    fails_strict(capsys, *_train_from(pre, out), says=("corrupt model.safetensors", str(weights)))
    assert not out.exists() and snapshot(pre) == before


def test_pretrained_without_any_weights_is_refused(tmp_path):
    pre = _pretrained(tmp_path / "pre")
    (pre / "model.safetensors").unlink()
    with pytest.raises(SeqgenError, match="has no model.safetensors"):
        build_generator(ModelConfig(kind="transformer", pretrained=str(pre)), 7)


def test_pretrained_sharded_safetensors_still_load_and_a_bad_shard_is_named(tmp_path):
    gen = build_generator(TINY_GPT_MODEL, 7)
    with quiet_transformers():
        gen.lm.save_pretrained(tmp_path / "pre", max_shard_size="5KB")
    shards = sorted((tmp_path / "pre").glob("model-*.safetensors"))
    assert len(shards) > 1 and (tmp_path / "pre" / "model.safetensors.index.json").is_file()
    cfg = ModelConfig(kind="transformer", pretrained=str(tmp_path / "pre"))
    again = build_generator(cfg, 7)
    x = torch.tensor([[1, 4, 5, 6]])
    assert torch.equal(again.lm(x).logits, gen.lm.eval()(x).logits)
    shards[-1].write_bytes(shards[-1].read_bytes()[:-10])
    with pytest.raises(SeqgenError, match=f"corrupt {shards[-1].name}") as err:
        build_generator(cfg, 7)
    assert str(shards[-1]) in str(err.value)
    shards[0].unlink()
    with pytest.raises(SeqgenError, match=f"shard {shards[0].name} listed in model.safetensors.index.json"):
        build_generator(cfg, 7)
