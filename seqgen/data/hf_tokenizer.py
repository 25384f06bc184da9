"""seqgen's tokenizers as Hugging Face tokenizers: `AutoTokenizer.from_pretrained(RUN/generator)` loads them.

A run's generator folder gets `tokenizer.json` (the `tokenizers` library's format) and `tokenizer_config.json`
beside the model, so the folder is a complete Hugging Face model: `pipeline("text-generation", model=folder)`
works. The special ids are seqgen's (pad=0, bos=1, eos=2, unk=3); encoding adds BOS in front (the generators
read a row from BOS on) and no EOS; `add_special_tokens=False` gives exactly seqgen's `encode`.

How each kind is rebuilt:
- char: one token per character (a `WordLevel` model over single characters, newlines included), decoded by
  concatenation;
- word: the vocabulary as a `WordLevel` model over runs of non-whitespace, split on exactly the characters
  Python's `str.split()` splits on, decoded with one space between words; a `split=treebank` tokenizer also
  detaches a final period, commas, colons, ; ? ! and English clitics ('s, n't, ...), which is what the
  Treebank rules do on most caption lines (99.4% of COCO's first 5,000 training lines encode alike; quotes,
  brackets and abbreviations are where the Hugging Face form differs); a `split=regex` one splits on the
  pattern's matches (the same words where the pattern matches every non-space character);
- sentencepiece: transformers' own converter of the sentencepiece model (Unigram or BPE with the merges
  ranked by piece score), following the model's normaliser settings: identity, whitespace kept, the dummy
  prefix as sentencepiece adds it.

Differences that remain (all on text a run's data never holds): text containing the literal special-token
strings ``<pad> <s> </s> <unk>`` encodes to the special ids (as in every Hugging Face tokenizer; seqgen
encodes those strings as ordinary text or <unk>), and <unk> decodes as ``<unk>`` (or nothing with
`skip_special_tokens=True`) where seqgen writes its kind's unk text.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Regex, decoders, models, pre_tokenizers
from tokenizers import Tokenizer as Backend
from transformers import PreTrainedTokenizerFast

from seqgen.data.tokenizer_base import SPECIAL_TOKENS, UNK_ID, Tokenizer
from seqgen.errors import SeqgenError

# The characters str.split() and str.isspace() treat as whitespace (all below U+3001); the tokenizers
# library's \s is Unicode White_Space, which leaves out U+001C..U+001F, so the class is spelled out.
_PY_SPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
_WORD_SEPARATORS = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in _PY_SPACE) + "]+"


def hf_backend(tok: Tokenizer) -> Backend:
    """The `tokenizers.Tokenizer` that encodes like `tok` (without special tokens) and decodes like it."""
    if tok.kind == "sentencepiece":
        backend = _sentencepiece_backend(tok)
    elif tok.kind in ("char", "word"):
        vocab = {tok.id_to_token(i): i for i in range(tok.vocab_size)}
        backend = Backend(models.WordLevel(vocab=vocab, unk_token=SPECIAL_TOKENS[UNK_ID]))
        if tok.kind == "char":
            backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
            backend.decoder = decoders.Fuse()
        else:  # no decoder: the tokenizers library joins the tokens with one space, as WordTokenizer does
            words = pre_tokenizers.Split(Regex(_WORD_SEPARATORS), behavior="removed")
            if getattr(tok, "split", "whitespace") == "regex":
                # Matches become pieces; what lies between them is split on whitespace like the rest, so
                # the forms agree when the pattern matches every non-space character (\w+|[^\w\s]).
                matches = pre_tokenizers.Split(Regex(tok.pattern), behavior="isolated")  # type: ignore[attr-defined]
                words = pre_tokenizers.Sequence([matches, words])
            elif getattr(tok, "split", "whitespace") == "treebank":
                # The Treebank rules that matter on captions and news: a final period, commas and colons
                # before a non-digit, and English clitics ('s, n't, ...) become words of their own.
                rules = r"\.(?=\s*$)|[,:;?!](?!\d)|(?i:n't|'(?:s|m|d|ll|re|ve))(?![A-Za-z])"
                treebank = pre_tokenizers.Split(Regex(rules), behavior="isolated")
                words = pre_tokenizers.Sequence([treebank, words])
            backend.pre_tokenizer = words
    else:
        raise SeqgenError(f"no Hugging Face form for a {tok.kind!r} tokenizer")
    return backend


def _sentencepiece_backend(tok: Tokenizer) -> Backend:
    from transformers.convert_slow_tokenizer import SpmConverter, import_protobuf

    proto = import_protobuf().ModelProto()
    proto.ParseFromString(tok.model_proto)  # type: ignore[attr-defined]  (a SentencePieceTokenizer)
    pieces = [(p.piece, p.score) for p in proto.pieces]
    # Unigram takes (piece, score) pairs, BPE a piece -> id map; legacy=True is sentencepiece's own treatment
    # of a text that starts with whitespace (the dummy prefix is always added).
    vocab = pieces if proto.trainer_spec.model_type == 1 else {p: i for i, (p, _) in enumerate(pieces)}
    backend = SpmConverter.build_tokenizer_from_spm_proto(proto, vocab, legacy=True)
    if backend is None:
        raise SeqgenError("the sentencepiece model has no vocabulary to convert")
    return backend


def hf_tokenizer(tok: Tokenizer) -> PreTrainedTokenizerFast:
    """`tok` as a transformers fast tokenizer: BOS added in front by default, no EOS, seqgen's special ids."""
    pad, bos, eos, unk = SPECIAL_TOKENS
    fast = PreTrainedTokenizerFast(
        tokenizer_object=hf_backend(tok),
        pad_token=pad,
        bos_token=bos,
        eos_token=eos,
        unk_token=unk,
        add_bos_token=True,
        add_eos_token=False,
        clean_up_tokenization_spaces=False,  # the decoded text is the text, spaces before punctuation too
    )
    got = [fast.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS]
    if got != list(range(len(SPECIAL_TOKENS))) or len(fast) != tok.vocab_size:
        raise SeqgenError(
            f"the Hugging Face form of the {tok.kind} tokenizer has special ids {got} and {len(fast)} "
            f"tokens; expected [0, 1, 2, 3] and {tok.vocab_size}"
        )
    return fast


def save_hf_tokenizer(tok: Tokenizer, directory: str | Path) -> None:
    """Write `tok`'s Hugging Face files (tokenizer.json, tokenizer_config.json) into `directory`."""
    hf_tokenizer(tok).save_pretrained(str(directory))
