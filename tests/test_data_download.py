"""`seqgen data download`: against a local HTTP server on 127.0.0.1 that serves ../shared/data (or a tampered
copy) as the mirror. Files land byte-identical or not at all; partial downloads resume with a Range request;
files already there are kept when right and refused when wrong. No test goes online.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import fails_strict, snapshot
from helpers import write as write_file

from seqgen.cli import main
from seqgen.data.download import CORPORA, OBW_URL

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data not present")


class _Handler(http.server.SimpleHTTPRequestHandler):
    """GET with optional Range support (`server.ranges`) and an optional early cut (`server.cut_after`)."""

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start = 0
        asked = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if asked and srv.ranges:
            start = int(asked[1])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        self.wfile.write(body if srv.cut_after is None else body[: srv.cut_after])


@pytest.fixture
def serve() -> Iterator:
    """serve(root, ranges=True, cut_after=None) -> the server (its .url, and .requests: (path, Range))."""
    servers = []

    def start(root: Path, *, ranges: bool = True, cut_after: int | None = None):
        srv = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(_Handler, directory=str(root))
        )
        srv.requests, srv.ranges, srv.cut_after = [], ranges, cut_after
        srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_file(path, data)


def run_ok(capsys: pytest.CaptureFixture, *argv: object) -> str:
    """`seqgen argv` succeeds; its stdout."""
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert rc == 0, err
    return out


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_mirror_download_is_byte_identical(capsys, serve, tmp_path: Path, name: str) -> None:
    srv = serve(SHARED)
    out = run_ok(capsys, "data", "download", name, "--dir", tmp_path / "data", "--mirror", srv.url)
    files = [s.file for s in CORPORA[name]]
    for file in files:
        assert (tmp_path / "data" / name / file).read_bytes() == (SHARED / name / file).read_bytes()
        assert f"downloaded: {tmp_path / 'data' / name / file}" in out
    assert sorted(snapshot(tmp_path / "data" / name)) == sorted(files)  # no temporary file left
    assert [p for p, _ in srv.requests] == [f"/{name}/{f}" for f in files]


def test_local_folder_mirror(capsys, tmp_path: Path) -> None:
    run_ok(capsys, "data", "download", "tinyshakespeare", "--dir", tmp_path, "--mirror", SHARED)
    got = tmp_path / "tinyshakespeare" / "input.txt"
    assert got.read_bytes() == (SHARED / "tinyshakespeare" / "input.txt").read_bytes()


def test_checksum_mismatch_refused_and_nothing_left(capsys, serve, tmp_path: Path) -> None:
    root = tmp_path / "mirror"
    shutil.copytree(SHARED / "coco", root / "coco")
    bad = root / "coco" / "test.txt"
    bad.write_bytes(bad.read_bytes().replace(b"a", b"b", 1))
    srv = serve(root)
    line = fails_strict(
        capsys,
        "data",
        "download",
        "coco",
        "--dir",
        tmp_path / "data",
        "--mirror",
        srv.url,
        says=("test.txt",),
    )
    expected = next(s.sha256 for s in CORPORA["coco"] if s.file == "test.txt")
    assert expected in line and hashlib.sha256(bad.read_bytes()).hexdigest() in line
    # train.txt (before it) is complete and checked; nothing of test.txt is left, not even its temporary file
    assert sorted(snapshot(tmp_path / "data" / "coco")) == ["train.txt"]


def test_interrupted_download_resumes_with_range(capsys, serve, tmp_path: Path) -> None:
    original = (SHARED / "tinyshakespeare" / "input.txt").read_bytes()
    n = 123_457
    write(tmp_path / "tinyshakespeare" / ".input.txt.part", original[:n])  # what an interruption leaves
    srv = serve(SHARED)
    out = run_ok(capsys, "data", "download", "tinyshakespeare", "--dir", tmp_path, "--mirror", srv.url)
    assert srv.requests == [("/tinyshakespeare/input.txt", f"bytes={n}-")]
    assert "resumed:" in out
    assert (tmp_path / "tinyshakespeare" / "input.txt").read_bytes() == original
    assert sorted(snapshot(tmp_path / "tinyshakespeare")) == ["input.txt"]


def test_partial_restarted_when_server_ignores_range(capsys, serve, tmp_path: Path) -> None:
    original = (SHARED / "tinyshakespeare" / "input.txt").read_bytes()
    write(tmp_path / "tinyshakespeare" / ".input.txt.part", b"garbage that is not the file's start")
    srv = serve(SHARED, ranges=False)
    out = run_ok(capsys, "data", "download", "tinyshakespeare", "--dir", tmp_path, "--mirror", srv.url)
    assert srv.requests[0][1] is not None and "downloaded:" in out  # asked for a range, got the whole file
    assert (tmp_path / "tinyshakespeare" / "input.txt").read_bytes() == original


def test_cut_transfer_keeps_partial_and_the_next_run_resumes(capsys, serve, tmp_path: Path) -> None:
    original = (SHARED / "tinyshakespeare" / "input.txt").read_bytes()
    cut = serve(SHARED, cut_after=300_000)
    argv = ("data", "download", "tinyshakespeare", "--dir", tmp_path)
    fails_strict(capsys, *argv, "--mirror", cut.url, says=("run again to resume",))
    part = tmp_path / "tinyshakespeare" / ".input.txt.part"
    assert part.read_bytes() == original[:300_000]
    assert not (tmp_path / "tinyshakespeare" / "input.txt").exists()
    srv = serve(SHARED)
    assert "resumed:" in run_ok(capsys, *argv, "--mirror", srv.url)
    assert srv.requests[0][1] == "bytes=300000-"
    assert (tmp_path / "tinyshakespeare" / "input.txt").read_bytes() == original and not part.exists()


def test_existing_correct_file_is_skipped(capsys, serve, tmp_path: Path) -> None:
    shutil.copytree(SHARED / "coco", tmp_path / "coco")
    srv = serve(SHARED)
    out = run_ok(capsys, "data", "download", "coco", "--dir", tmp_path, "--mirror", srv.url)
    assert out.count("already there:") == 3 and srv.requests == []


def test_existing_wrong_file_is_refused_and_kept(capsys, serve, tmp_path: Path) -> None:
    wrong = write(tmp_path / "tinyshakespeare" / "input.txt", "not shakespeare\n")
    srv = serve(SHARED)
    fails_strict(
        capsys,
        *("data", "download", "tinyshakespeare", "--dir", tmp_path, "--mirror", srv.url),
        says=(str(wrong), "delete it", CORPORA["tinyshakespeare"][0].sha256),
    )
    assert wrong.read_text() == "not shakespeare\n" and srv.requests == []


def test_obw_prints_the_address_and_downloads_nothing(capsys, tmp_path: Path) -> None:
    out = run_ok(capsys, "data", "download", "obw", "--dir", tmp_path / "data")
    assert OBW_URL in out and f"-C {tmp_path / 'data' / 'obw'}" in out and "tar xzf" in out
    assert "data.train=hf:billion-word-benchmark/lm1b data.hf_revision=refs/convert/parquet" in out
    assert not (tmp_path / "data").exists()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_one_line_errors(capsys, serve, tmp_path: Path) -> None:
    fails_strict(capsys, "data", "download", "wikitext", says=("unknown corpus 'wikitext'", "coco"))
    (tmp_path / "empty").mkdir()
    empty = serve(tmp_path / "empty")
    fails_strict(
        capsys, "data", "download", "coco", "--dir", tmp_path / "d", "--mirror", empty.url, says=("404",)
    )
    dead = f"http://127.0.0.1:{_closed_port()}"
    fails_strict(capsys, "data", "download", "coco", "--dir", tmp_path / "d", "--mirror", dead, says=(dead,))
    blocker = write(tmp_path / "a-file", "x")
    fails_strict(capsys, "data", "download", "coco", "--dir", blocker, says=("--dir", str(blocker)))
    assert not list((tmp_path / "d").rglob("*.txt"))


def test_complete_partial_gets_416_and_is_fetched_again(capsys, serve, tmp_path: Path) -> None:
    original = (SHARED / "tinyshakespeare" / "input.txt").read_bytes()
    write(tmp_path / "tinyshakespeare" / ".input.txt.part", original + b"more")  # longer than the file
    srv = serve(SHARED)
    out = run_ok(capsys, "data", "download", "tinyshakespeare", "--dir", tmp_path, "--mirror", srv.url)
    assert [r for _, r in srv.requests] == [f"bytes={len(original) + 4}-", None] and "downloaded:" in out
    assert (tmp_path / "tinyshakespeare" / "input.txt").read_bytes() == original
