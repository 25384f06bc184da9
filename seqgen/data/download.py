"""`seqgen data download NAME`: the public corpora the recipes use, fetched from their sources and checked.

Each corpus is a folder DIR/NAME/ with the layout of ``../shared/data`` (coco/train.txt, test.txt,
nll_test.txt; emnlp_news/test.txt, nll_test.txt; tinyshakespeare/input.txt). Every file is fetched over
HTTP(S) with the standard library only, and must have the SHA-256 written below, so what lands at
DIR/NAME/FILE is byte for byte the upstream file or nothing:

- a download goes to a temporary sibling ``.FILE.part`` and is renamed into place only once its digest is
  right (a wrong digest removes it and is refused, naming the file and both digests);
- a ``.FILE.part`` left by an interrupted download is continued with an HTTP Range request (restarted when
  the server ignores the Range);
- a file already at DIR/NAME/FILE with the right digest is kept ("already there"); one with another digest is
  refused, never overwritten.

``mirror`` fetches every file from MIRROR/NAME/FILE instead (a copy of that layout: a URL or a local folder).
One-Billion-Word is 1.8 GB: `obw_instructions` says where it is and how to unpack it, and downloads nothing.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from seqgen.errors import SeqgenError

TEXYGEN = "https://raw.githubusercontent.com/geek-ai/Texygen"  # branches master and nll_test
CHAR_RNN = "https://raw.githubusercontent.com/karpathy/char-rnn/master"
OBW_URL = "http://www.statmt.org/lm-benchmark/1-billion-word-language-modeling-benchmark-r13output.tar.gz"
OBW_FOLDER = "1-billion-word-language-modeling-benchmark-r13output"  # what the tarball unpacks to
CHUNK = 1 << 16
TIMEOUT_S = 30
BAR_DELAY_S = 1.0  # a bar appears only for a download slow enough to watch (cf. data/progress.py)


@dataclass(frozen=True)
class Source:
    file: str  # its name in DIR/NAME/
    url: str  # where it is published
    sha256: str


# The digests are `sha256sum` of the byte-identical copies in ../shared/data (its README names these same
# sources: geek-ai/Texygen at master and at branch nll_test, karpathy/char-rnn at master).
CORPORA: dict[str, tuple[Source, ...]] = {
    "coco": (
        Source(
            "train.txt",
            f"{TEXYGEN}/master/data/image_coco.txt",
            "2c0fd1f0f43aac6a9dc3926a535516ccf395de535e15ac1fd17cd569420736f5",
        ),
        Source(
            "test.txt",
            f"{TEXYGEN}/master/data/testdata/test_coco.txt",
            "72e25c9fb4d2cd43182ac602c92f6ffc377762147f9709572943b0b09174bcae",
        ),
        Source(
            "nll_test.txt",
            f"{TEXYGEN}/nll_test/data/nll_test_coco.txt",
            "36e2984cf6474398b3a8707f0f0b9d002a26ae5accced0d3be7e00e7df2e1fcf",
        ),
    ),
    "emnlp_news": (
        Source(
            "test.txt",
            f"{TEXYGEN}/master/data/testdata/test_emnlp.txt",
            "03c646d08f766f4140443db4419b1f0ee292bc0db514208873e9f2e166b95bd2",
        ),
        Source(
            "nll_test.txt",
            f"{TEXYGEN}/nll_test/data/nll_test_emnlp.txt",
            "b8838401972c3e86a118433a34346126ea3ea8dd11bae6773e0702592f17ba5c",
        ),
    ),
    "tinyshakespeare": (
        Source(
            "input.txt",
            f"{CHAR_RNN}/data/tinyshakespeare/input.txt",
            "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        ),
    ),
}
NAMES = (*CORPORA, "obw")

DOWNLOAD_HELP = (
    "seqgen data download NAME [--dir data] [--mirror URL]\n\n"
    "Fetches a public corpus into DIR/NAME/ and checks every file's SHA-256:\n"
    "  coco             coco/train.txt, test.txt, nll_test.txt (MS-COCO captions, from geek-ai/Texygen)\n"
    "  emnlp_news       emnlp_news/test.txt, nll_test.txt (EMNLP2017 WMT News, from geek-ai/Texygen)\n"
    "  tinyshakespeare  tinyshakespeare/input.txt (from karpathy/char-rnn)\n"
    "  obw              prints where One-Billion-Word (1.8 GB) is and how to unpack it; downloads nothing\n"
    "Files already there with the right digest are kept; an interrupted download is resumed when run again."
)


@dataclass(frozen=True)
class Fetched:
    path: Path
    status: str  # "downloaded", "resumed" or "already there"
    size: int


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _sources(name: str) -> tuple[Source, ...]:
    if name not in CORPORA:
        raise SeqgenError(f"unknown corpus {name!r}; choose from {', '.join(NAMES)}")
    return CORPORA[name]


def _mirror_root(mirror: str) -> str:
    """A mirror URL without its trailing slash; a local folder becomes a file:// URL."""
    if "://" not in mirror:
        return Path(mirror).resolve().as_uri()
    return mirror.rstrip("/")


def download(name: str, folder: str | Path = "data", mirror: str | None = None) -> list[Fetched]:
    """Fetch corpus `name` into `folder`/`name`/ (see the module's docstring); what each file became."""
    sources = _sources(name)
    target = Path(folder) / name
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SeqgenError(f"cannot write to --dir {folder}: {e.strerror or e}: {target}") from None
    root = _mirror_root(mirror) if mirror else None
    return [
        _fetch_checked(f"{root}/{name}/{s.file}" if root else s.url, target / s.file, s.sha256)
        for s in sources
    ]


def _fetch_checked(url: str, final: Path, expected: str) -> Fetched:
    if final.exists() or final.is_symlink():
        actual = sha256_of(final) if final.is_file() else "(not a file)"
        if actual != expected:
            raise SeqgenError(
                f"{final} is there but is not the expected file (SHA-256 {actual}, expected {expected}); "
                "delete it or move it aside, then run the command again"
            )
        return Fetched(final, "already there", final.stat().st_size)
    part = final.with_name(f".{final.name}.part")
    resumed = _fetch(url, part, final.name)
    actual = sha256_of(part)
    if actual != expected:
        part.unlink(missing_ok=True)
        raise SeqgenError(
            f"checksum mismatch for {final} (from {url}): expected SHA-256 {expected}, got {actual}; "
            "the download was removed"
        )
    with open(part, "rb") as f:
        os.fsync(f.fileno())  # on disk before the rename makes it visible
    os.replace(part, final)
    return Fetched(final, "resumed" if resumed else "downloaded", final.stat().st_size)


def _open(url: str, offset: int) -> tuple[http.client.HTTPResponse, int]:
    """The response for `url` from byte `offset` on, and the offset it really starts at (0 when the server
    sends the whole file: it ignored the Range)."""
    headers = {"User-Agent": "seqgen"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:  # the partial file is as long as the file, or longer: start over
            return _open(url, 0)
        raise SeqgenError(f"cannot download {url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        raise SeqgenError(
            f"cannot download {url}: {reason} (no network? --mirror URL fetches from a copy)"
        ) from None
    status = getattr(response, "status", None) or 200  # file:// answers without a status
    ranged = status == 206 and response.headers.get("Content-Range", "").startswith(f"bytes {offset}-")
    if status == 206 and not ranged:  # a range we did not ask for: start over
        response.close()
        return _open(url, 0)
    return response, offset if ranged else 0


def _fetch(url: str, part: Path, desc: str) -> bool:
    """Download `url` into `part`, continuing the bytes already there when the server allows; whether it
    resumed. An interrupted transfer keeps `part`, so that running again continues it."""
    have = part.stat().st_size if part.is_file() else 0
    response, offset = _open(url, have)
    length = response.headers.get("Content-Length")
    total = offset + int(length) if length and length.isdigit() else None
    got = offset
    try:
        with response, open(part, "ab" if offset else "wb") as out, _bar(desc, total, offset) as bar:
            while block := response.read(CHUNK):
                out.write(block)
                got += len(block)
                bar.update(len(block))
    except (OSError, http.client.HTTPException) as e:
        if isinstance(e, OSError) and e.filename is not None:  # our side: the file, not the network
            raise SeqgenError(f"cannot write {e.filename}: {e.strerror or e}") from None
        why = str(e) or type(e).__name__
        raise SeqgenError(
            f"download of {url} interrupted after {got} bytes ({why}); run again to resume"
        ) from None
    if total is not None and got < total:
        raise SeqgenError(f"download of {url} stopped at {got} of {total} bytes; run again to resume")
    return offset > 0


def _bar(desc: str, total: int | None, initial: int):
    from tqdm.auto import tqdm

    isatty = getattr(sys.stderr, "isatty", None)
    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        file=sys.stderr,
        disable=not (callable(isatty) and isatty()),
        leave=False,
        delay=BAR_DELAY_S,
        mininterval=0.5,
        dynamic_ncols=True,
    )


def obw_instructions(folder: str | Path = "data") -> str:
    """Where the One-Billion-Word tarball is and how to unpack it for `data.train` (nothing is downloaded)."""
    tarball = OBW_URL.rsplit("/", 1)[1]
    dest = Path(folder) / "obw"
    return (
        "One-Billion-Word (1.8 GB) is not downloaded by seqgen; its official tarball is\n"
        f"  {OBW_URL}\n"
        "Fetch and unpack it with\n"
        f"  curl -LO {OBW_URL}\n"
        f"  mkdir -p {dest} && tar xzf {tarball} -C {dest}\n"
        f"then train with data.train={dest / OBW_FOLDER}\n"
        "To be added: streaming it from the Hugging Face hub instead, with\n"
        "  data.train=hf:billion-word-benchmark/lm1b data.hf_revision=refs/convert/parquet"
    )
