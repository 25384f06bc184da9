"""Oracles: corpora whose true distribution P(x) is known exactly, so a model can be scored against P itself.

- `enumerable`: `EnumerableOracle`, a seeded distribution over all V^L sequences (V, L <= 8) with P(x) listed
  for every x, so divergences to a model's Q are exact sums;
- `seqgan`: `SeqGANOracle`, SeqGAN's random LSTM over 5,000 words (P(x) exact for any x, not enumerable);
- `symbols`: the codec both share (symbol k <-> token id 4 + k, rows of symbols <-> text lines, split draws);
- `corpus`: an oracle as a corpus (`data.train=oracle` / `seqgan_oracle`): built from a DataConfig, cached.

A model's exact distribution over an enumerable oracle's sequences needs the model, so it lives with the
metrics (`seqgen.metrics.exact_distribution`): data knows nothing of models.
"""
