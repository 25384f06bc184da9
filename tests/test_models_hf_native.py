"""A run's generator/ folder is a complete Hugging Face model: `AutoModelForCausalLM` + `AutoTokenizer` load
it after `import seqgen` alone, its tokenizer round-trips text like seqgen's, `generate()` gives the tokens of
seqgen's own sampler, `pipeline("text-generation")` writes text, and sampling warns about nothing.

The references are seqgen's own tokenizer and `Generator.sample`. Seeded sampling is compared draw for draw:
both samplers take one `torch.multinomial` per step, seqgen from a `torch.Generator` and transformers from the
global RNG, and a fresh generator seeded with s draws what `torch.manual_seed(s)` makes the global one draw.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from helpers import QUIET_NO_SAMPLES, TINY_GPT, TINY_LSTM
from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer, GPT2LMHeadModel, pipeline
from transformers.utils import logging as hf_logging

import seqgen
from seqgen.cli import main
from seqgen.data.caption_language import caption_splits
from seqgen.errors import SeqgenError
from seqgen.models import build_generator, load_generator
from seqgen.models.cache_names import OUTPUT_NAME, input_name
from seqgen.models.config import ModelConfig
from seqgen.models.discriminator import build_discriminator, save_discriminator
from seqgen.models.rnn import RNNForCausalLM
from seqgen.tokenization import load_tokenizer

KINDS = {
    "char": ["tokenizer.kind=char"],
    "word": ["tokenizer.kind=word"],
    "sentencepiece": ["tokenizer.kind=sentencepiece", "tokenizer.vocab_size=80"],
}
MODELS = {"lstm": TINY_LSTM, "transformer": TINY_GPT}
RUNS = [(m, k) for m in MODELS for k in KINDS]
# Beyond the corpus: spacing sentencepiece must keep, tabs, punctuation, characters never seen (<unk>).
EXTRA = ["a  man   riding  ", "  two dogs", "the cat\tsat .", "a man, ok?", "", " ", "zebra ÆØ quux"]


def corpus_lines() -> list[str]:
    """Caption sentences with capitals, punctuation and double spaces, so every tokenizer kind meets them."""
    lines = []
    for i, s in enumerate(caption_splits(300, 30, 1)[0]):
        s = s.capitalize() if i % 3 == 0 else s
        s = s.replace(" ", "  ", 1) if i % 5 == 0 else s
        lines.append(s + ", ok?" if i % 7 == 0 else s)
    return lines


@contextlib.contextmanager
def no_deprecation_warnings() -> Iterator[list[str]]:
    """Every warning and every transformers log line inside the block; after it, none may be a deprecation.

    transformers says "deprecated" two ways: `warnings.warn(FutureWarning)` and a `warning_once` log line
    (cached per message, so the cache is cleared first)."""
    hf_logging.warning_once.cache_clear()
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler, root = Collect(level=logging.WARNING), hf_logging.get_logger("transformers")
    root.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield seen
        seen += [str(w.message) for w in caught]
    finally:
        root.removeHandler(handler)
    bad = [m for m in seen if "deprecat" in m.lower() or "past_key_values" in m]
    assert not bad, bad


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "captions.txt"
    path.write_text("\n".join(corpus_lines()) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Callable[[str, str], Path]:
    """Every (model, tokenizer kind) run, trained once when first asked for; its training warns of no
    deprecation."""
    root, trained = tmp_path_factory.mktemp("runs"), {}
    common = [f"data.train={corpus}", "data.holdout=30", "data.max_len=24", "train.max_steps=2"]

    def get(model: str, kind: str) -> Path:
        if (model, kind) not in trained:
            out = root / f"{model}-{kind}"
            argv = ["train", *common, *MODELS[model], *KINDS[kind], *QUIET_NO_SAMPLES, f"out={out}"]
            with no_deprecation_warnings(), contextlib.redirect_stderr(io.StringIO()):
                assert main([*argv, "train.batch_size=8"]) == 0
            trained[model, kind] = out
        return trained[model, kind]

    return get


@pytest.fixture(params=RUNS, ids=[f"{m}-{k}" for m, k in RUNS])
def run(request: pytest.FixtureRequest, runs) -> Path:
    return runs(*request.param)


# ------------------------------------------------------------------------------------------------ tokenizer
def test_the_generator_folder_holds_a_tokenizer_that_round_trips_like_seqgens(run: Path) -> None:
    folder = run / "generator"
    assert {"tokenizer.json", "tokenizer_config.json", "config.json", "model.safetensors"} <= {
        p.name for p in folder.iterdir()
    }
    ours, hf = load_tokenizer(run / "tokenizer"), AutoTokenizer.from_pretrained(folder)
    assert [hf.pad_token_id, hf.bos_token_id, hf.eos_token_id, hf.unk_token_id] == [0, 1, 2, 3]
    assert len(hf) == ours.vocab_size
    for text in corpus_lines()[:60] + EXTRA:
        ids = ours.encode(text)
        assert hf(text, add_special_tokens=False)["input_ids"] == ids, text
        assert hf(text)["input_ids"] == [1, *ids]  # BOS in front, as the generators read a row; no EOS
        if 3 not in ids:  # <unk> is the one lossy id: seqgen writes its kind's unk text, HF "<unk>"
            assert hf.decode(ids, skip_special_tokens=True) == ours.decode(ids), text
    assert hf.decode([1, *ours.encode("a man"), 2, 0, 0], skip_special_tokens=True) == "a man"
    assert load_tokenizer(run / "tokenizer").kind == ours.kind  # RUN/tokenizer is still seqgen's own


def test_a_generator_folder_is_not_mistaken_for_a_seqgen_tokenizer_folder(runs) -> None:
    run = runs("lstm", "word")
    with pytest.raises(SeqgenError, match="Hugging Face tokenizer.*give the run's tokenizer/ folder"):
        load_tokenizer(run / "generator")
    with pytest.raises(SeqgenError, match="refusing to replace"):  # saving a tokenizer there would wipe it
        load_tokenizer(run / "tokenizer").save(run / "generator")
    assert load_generator(run / "generator").kind == "lstm"


# ------------------------------------------------------------------------------------------------ generate
def test_generate_greedy_equals_seqgens_greedy_sampler(run: Path) -> None:
    gen, tok = seqgen.load_run(run)
    lm = AutoModelForCausalLM.from_pretrained(run / "generator")
    hf = AutoTokenizer.from_pretrained(run / "generator")
    with no_deprecation_warnings():
        ours = gen.sample(4, 24, temperature=0.0)
        theirs = lm.generate(
            torch.full((4, 1), 1), attention_mask=torch.ones(4, 1), do_sample=False, max_length=24
        )
        assert torch.equal(ours, theirs)
        prompt = hf("a man", return_tensors="pt")
        ours = gen.sample(1, 24, prefix=torch.tensor(tok.encode("a man")), temperature=0.0)
        assert torch.equal(ours, lm.generate(**prompt, do_sample=False, max_length=24))


@pytest.mark.parametrize(
    "settings", [{}, {"temperature": 0.7}, {"top_k": 5}, {"temperature": 0.8, "top_p": 0.8}]
)
@pytest.mark.parametrize("model", list(MODELS))
def test_seeded_sampling_draws_what_seqgens_sampler_draws(runs, model: str, settings: dict) -> None:
    run = runs(model, "word")
    gen, _ = seqgen.load_run(run)
    lm = AutoModelForCausalLM.from_pretrained(run / "generator")
    ours = gen.sample(16, 24, generator=torch.Generator().manual_seed(7), **settings)
    torch.manual_seed(7)
    with no_deprecation_warnings():  # do_sample, temperature 1, no top-k/top-p: the saved generation defaults
        theirs = lm.generate(
            torch.full((16, 1), 1), attention_mask=torch.ones(16, 1), max_length=24, **settings
        )
    assert torch.equal(ours, theirs)


def test_pipeline_writes_text(run: Path) -> None:
    with no_deprecation_warnings():
        writer = pipeline("text-generation", model=str(run / "generator"))
        out = writer(["a man", ""], max_new_tokens=6, return_full_text=False)
    assert all(isinstance(o[0]["generated_text"], str) for o in out)
    assert any(o[0]["generated_text"].strip() for o in out)


def test_sampling_warns_of_nothing_deprecated(runs, capsys: pytest.CaptureFixture) -> None:
    for model in MODELS:
        gen, _ = seqgen.load_run(runs(model, "char"))
        with no_deprecation_warnings():
            gen.sample(3, 10)
            gen(torch.ones(2, 3, dtype=torch.long), return_state=True)
    capsys.readouterr()
    for args in (["-n", "2"], ["-n", "2", "--temperature", "0.7", "--top-k", "3", "--prefix", "a"]):
        with no_deprecation_warnings():
            assert main(["sample", str(runs("transformer", "char")), *args]) == 0
    assert "deprecat" not in capsys.readouterr().err


def test_the_state_goes_under_the_name_the_installed_transformers_uses() -> None:
    assert OUTPUT_NAME == "cache"  # transformers 5.24: `past_key_values` is deprecated, removed in 5.40
    assert input_name(GPT2LMHeadModel) == input_name(RNNForCausalLM) == "cache"
    gen = build_generator(ModelConfig(kind="lstm", emb_dim=8, hidden_dim=16), 9)
    x = torch.ones(2, 3, dtype=torch.long)
    new = gen.lm(x, cache=None, use_cache=True).cache
    old = gen.lm(
        x[:, :1], past_key_values=new, use_cache=True
    )  # the old name still works for seqgen's models
    assert torch.equal(old.logits, gen.lm(x[:, :1], cache=new).logits)


# ----------------------------------------------------------------------------- models built here, no training
@pytest.mark.parametrize("kind", ["gru", "independent"])
def test_untrained_gru_and_independent_generate_like_seqgen(tmp_path: Path, kind: str) -> None:
    torch.manual_seed(0)
    gen = build_generator(ModelConfig(kind=kind, emb_dim=8, hidden_dim=16, context=12), 11).eval()
    gen.save(tmp_path / "g")
    lm = AutoModelForCausalLM.from_pretrained(tmp_path / "g")
    start = torch.full((5, 1), 1)
    assert torch.equal(gen.sample(5, 13, temperature=0), lm.generate(start, do_sample=False, max_length=13))
    ours = gen.sample(5, 13, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(1)
    assert torch.equal(ours, lm.generate(start, max_length=13))
    # beam search reorders the state; without a state every step reads the whole prefix again
    beams = lm.generate(start[:2], num_beams=3, do_sample=False, max_length=8)
    assert torch.equal(
        beams, lm.generate(start[:2], num_beams=3, do_sample=False, max_length=8, use_cache=False)
    )
    with pytest.raises(ValueError, match="stateful"):  # assisted decoding would have to roll the state back
        lm.generate(start[:1], assistant_model=lm, do_sample=False, max_length=8)


def test_a_left_padded_batch_generates_as_its_rows_alone(runs) -> None:
    run = runs("lstm", "word")
    lm = AutoModelForCausalLM.from_pretrained(run / "generator")
    hf = AutoTokenizer.from_pretrained(run / "generator", padding_side="left")
    prompts = ["a man riding a", "two"]
    batch = lm.generate(**hf(prompts, return_tensors="pt", padding=True), do_sample=False, max_new_tokens=6)
    alone = [
        lm.generate(**hf([p], return_tensors="pt"), do_sample=False, max_new_tokens=6)[0] for p in prompts
    ]
    assert hf.batch_decode(batch, skip_special_tokens=True) == hf.batch_decode(
        alone, skip_special_tokens=True
    )


def test_the_independent_model_refuses_a_left_padded_batch() -> None:
    gen = build_generator(ModelConfig(kind="independent", context=8), 9)
    with pytest.raises(SeqgenError, match="left-padded"):
        gen.lm(torch.ones(2, 3, dtype=torch.long), attention_mask=torch.tensor([[0, 1, 1], [1, 1, 1]]))


def test_a_saved_discriminator_loads_with_automodel(tmp_path: Path) -> None:
    disc = build_discriminator("cnn", 9, 0, emb_dim=8, hidden_dim=8).eval()
    save_discriminator(disc, tmp_path / "d")
    x = torch.randint(3, 9, (2, 5))
    # the same weights; the kernels may round differently on differently allocated copies
    torch.testing.assert_close(AutoModel.from_pretrained(tmp_path / "d")(x).logits, disc(x).logits)


def test_import_seqgen_alone_registers_every_model_class(runs) -> None:
    folders = [str(runs(m, "sentencepiece") / "generator") for m in MODELS]
    code = (
        "import sys, seqgen\n"
        "from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline\n"
        "from transformers.models.auto.configuration_auto import CONFIG_MAPPING\n"
        "assert {'seqgen_rnn', 'seqgen_independent', 'seqgen_discriminator'} <= set(CONFIG_MAPPING)\n"
        "for f in sys.argv[1:]:\n"
        "    lm, tok = AutoModelForCausalLM.from_pretrained(f), AutoTokenizer.from_pretrained(f)\n"
        "    text = pipeline('text-generation', model=lm, tokenizer=tok)('a man', max_new_tokens=4)\n"
        "    print(type(lm).__name__, isinstance(text[0]['generated_text'], str))\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "always"}
    done = subprocess.run([sys.executable, "-c", code, *folders], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["RNNForCausalLM", "True", "GPT2LMHeadModel", "True"]
    assert "deprecat" not in done.stderr.lower(), done.stderr
