"""Published figures that seqgen's numbers are put beside (DESIGN §11; sources in ../shared/data/README.md).

They are data, not code, and live in one place: the BLEU tests reproduce Texygen's table from its sample
files, the BLEU benchmark prints it, and the study plots its rows on the BLEU-4 vs Self-BLEU-4 axes.
"""

from __future__ import annotations

# Texygen's README (Zhu et al. 2018), COCO captions: BLEU-2..5 of each model's 9,984 published samples against
# the 10,000 lines of coco/test.txt, then Self-BLEU-2..5 (nltk sentence_bleu, smoothing method1, treebank
# tokenization; Texygen truncates to 3 decimals). Keys are the sample files' names (texygen_samples/NAME.txt).
TEXYGEN_COCO: dict[str, tuple[float, ...]] = {
    "mle": (0.731, 0.497, 0.305, 0.189, 0.916, 0.769, 0.583, 0.408),
    "seq": (0.745, 0.498, 0.294, 0.180, 0.950, 0.840, 0.670, 0.489),
    "maligan": (0.673, 0.432, 0.257, 0.159, 0.918, 0.781, 0.606, 0.437),
    "rank": (0.743, 0.467, 0.264, 0.156, 0.959, 0.882, 0.762, 0.618),
    "leakgan": (0.746, 0.528, 0.355, 0.230, 0.966, 0.913, 0.848, 0.780),
    "textgan": (0.593, 0.463, 0.277, 0.207, 0.942, 0.931, 0.804, 0.746),
}
TEXYGEN_MODEL_NAMES = {
    "mle": "MLE",
    "seq": "SeqGAN",
    "maligan": "MaliGAN",
    "rank": "RankGAN",
    "leakgan": "LeakGAN",
    "textgan": "TextGAN",
}
TEXYGEN_COLUMNS = ("bleu2", "bleu3", "bleu4", "bleu5", "self_bleu2", "self_bleu3", "self_bleu4", "self_bleu5")
