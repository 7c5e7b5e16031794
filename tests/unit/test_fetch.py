"""Finding, downloading and verifying dataset files, without the network.

Sources are ``file://`` URLs (urllib opens them like any other) or a loopback HTTP server; the
cache is a temp folder (see ``conftest.isolated_data_env``).
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import threading
import zipfile
from pathlib import Path

import pytest

from lessons_src.data import fetch
from lessons_src.data.fetch import DataError, cache_dir, dataset_path, safe_extract_zip
from lessons_src.data.registry import REGISTRY, DatasetSpec, Source, get_spec


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def leftovers(folder: Path) -> list[Path]:
    """Temporary download folders or files left in ``folder``."""
    return [p for p in folder.iterdir() if p.name.startswith(".download-")] if folder.exists() else []


PAYLOAD = b"1 2\n1 3\n2 5\n" * 50


def file_spec(source_path: Path, data: bytes = PAYLOAD, *, source_digest="md5", member_sha="ok", name="toy") -> DatasetSpec:
    """A one-file dataset ``data.txt`` downloaded from ``source_path``."""
    digest = {"md5": ("md5", md5(data)), "sha256": ("sha256", sha256(data)), None: None}[source_digest]
    member = {"ok": sha256(data), None: None}.get(member_sha, member_sha)
    return DatasetSpec(name, {"data.txt": member}, (Source(source_path.as_uri(), digest, "file", member="data.txt"),))


# --------------------------------------------------------------------------- happy paths


def test_cache_dir_follows_environment(isolated_data_env):
    assert cache_dir() == isolated_data_env


def test_plain_file_is_downloaded_verified_and_cached(tmp_path, isolated_data_env):
    source = tmp_path / "remote" / "data.txt"
    source.parent.mkdir()
    source.write_bytes(PAYLOAD)
    spec = file_spec(source)

    folder = dataset_path("toy", spec)
    assert folder == isolated_data_env / "data" / "toy"
    assert (folder / "data.txt").read_bytes() == PAYLOAD
    assert leftovers(folder) == []

    # second call: served from the cache, the source is not needed any more
    source.unlink()
    assert dataset_path("toy", spec) == folder
    assert dataset_path("toy", spec, download=False) == folder
    assert (folder / "data.txt").read_bytes() == PAYLOAD


def test_zip_archive_members_are_extracted_from_prefix(tmp_path):
    members = {"a.txt": b"alpha\n" * 10, "sub/b.txt": b"beta\n" * 20}
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for name, data in members.items():
            bundle.writestr(f"bundle-v1/{name}", data)
        bundle.writestr("bundle-v1/README", b"not a member")
    data = archive.read_bytes()
    spec = DatasetSpec(
        "zipped",
        {name: sha256(content) for name, content in members.items()},
        (Source(archive.as_uri(), ("md5", md5(data)), "zip", archive_prefix="bundle-v1/"),),
    )
    folder = dataset_path("zipped", spec)
    for name, content in members.items():
        assert (folder / name).read_bytes() == content
    assert not (folder / "README").exists()
    assert leftovers(folder) == []

    archive.unlink()
    assert dataset_path("zipped", spec) == folder


def test_zip_missing_member_is_an_error(tmp_path):
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("pre/a.txt", b"a")
    spec = DatasetSpec("z", {"a.txt": None, "b.txt": None}, (Source(archive.as_uri(), None, "zip", archive_prefix="pre/"),))
    with pytest.raises(DataError, match="pre/b.txt"):
        dataset_path("z", spec)


def test_gzip_source_is_decompressed(tmp_path):
    plain = bytes(range(256)) * 40
    packed = tmp_path / "image.bin.gz"
    packed.write_bytes(gzip.compress(plain))
    spec = DatasetSpec(
        "gz",
        {"image.bin": sha256(plain)},
        (Source(packed.as_uri(), ("md5", md5(packed.read_bytes())), "gzip", member="image.bin"),),
    )
    folder = dataset_path("gz", spec)
    assert (folder / "image.bin").read_bytes() == plain
    assert leftovers(folder) == []
    packed.unlink()
    assert (dataset_path("gz", spec) / "image.bin").read_bytes() == plain


def test_invalid_gzip_is_a_data_error(tmp_path):
    packed = tmp_path / "image.bin.gz"
    packed.write_bytes(b"this is not gzip at all")
    spec = DatasetSpec("gz", {"image.bin": None}, (Source(packed.as_uri(), None, "gzip", member="image.bin"),))
    with pytest.raises(DataError, match="gzip"):
        dataset_path("gz", spec)
    assert not (cache_dir() / "data" / "gz" / "image.bin").exists()


# --------------------------------------------------------------------------- corrupt downloads


@pytest.mark.parametrize("where", ["source digest", "member sha256"])
def test_wrong_checksum_names_file_and_both_digests_and_caches_nothing(tmp_path, where):
    source = tmp_path / "data.txt"
    source.write_bytes(PAYLOAD)
    wrong = "0" * 64 if where == "member sha256" else "0" * 32
    if where == "source digest":
        spec = DatasetSpec("toy", {"data.txt": None}, (Source(source.as_uri(), ("md5", wrong), member="data.txt"),))
        actual = md5(PAYLOAD)
    else:
        spec = DatasetSpec("toy", {"data.txt": wrong}, (Source(source.as_uri(), None, member="data.txt"),))
        actual = sha256(PAYLOAD)

    with pytest.raises(DataError) as caught:
        dataset_path("toy", spec)
    message = str(caught.value)
    assert wrong in message and actual in message
    assert "data.txt" in message  # the URL of the file is named
    folder = cache_dir() / "data" / "toy"
    assert not (folder / "data.txt").exists()
    assert leftovers(folder) == []


def test_truncated_file_is_rejected_by_its_digest(tmp_path):
    source = tmp_path / "data.txt"
    source.write_bytes(PAYLOAD[: len(PAYLOAD) // 2])  # what a cut-off transfer leaves behind
    spec = DatasetSpec("toy", {"data.txt": sha256(PAYLOAD)}, (Source(source.as_uri(), ("md5", md5(PAYLOAD)), member="data.txt"),))
    with pytest.raises(DataError, match="mismatch"):
        dataset_path("toy", spec)
    folder = cache_dir() / "data" / "toy"
    assert not (folder / "data.txt").exists() and leftovers(folder) == []


class _TruncatingHandler(http.server.BaseHTTPRequestHandler):
    """Announces 4000 bytes, sends 1000, then closes the connection."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("Content-Length", "4000")
        self.end_headers()
        self.wfile.write(b"x" * 1000)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def truncating_server():
    server = http.server.HTTPServer(("127.0.0.1", 0), _TruncatingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.mark.parametrize("published", [True, False], ids=["with-digest", "no-digest"])
def test_truncated_http_download_is_rejected(truncating_server, published):
    """Even without any published digest, a short body must not end up in the cache."""
    url = f"{truncating_server}/data.txt"
    digest = ("sha256", sha256(b"x" * 4000)) if published else None
    spec = DatasetSpec("toy", {"data.txt": None}, (Source(url, digest, member="data.txt"),))
    with pytest.raises(DataError):
        dataset_path("toy", spec)
    folder = cache_dir() / "data" / "toy"
    assert not (folder / "data.txt").exists()
    assert leftovers(folder) == []


def test_unreachable_source_is_a_data_error(tmp_path):
    spec = file_spec(tmp_path / "does-not-exist.txt")
    with pytest.raises(DataError, match="could not download"):
        dataset_path("toy", spec)


def test_download_false_without_files_is_a_data_error(tmp_path):
    source = tmp_path / "data.txt"
    source.write_bytes(PAYLOAD)
    with pytest.raises(DataError, match="download=False"):
        dataset_path("toy", file_spec(source), download=False)


def test_corrupted_cache_file_is_reported(tmp_path):
    source = tmp_path / "data.txt"
    source.write_bytes(PAYLOAD)
    spec = file_spec(source)
    folder = dataset_path("toy", spec)
    (folder / "data.txt").write_bytes(b"bit rot")
    with pytest.raises(DataError) as caught:
        dataset_path("toy", spec)
    assert str(folder / "data.txt") in str(caught.value)


# --------------------------------------------------------------------------- unsafe archives


def _zip_with(tmp_path: Path, name: str, data: bytes = b"evil") -> Path:
    archive = tmp_path / "archive.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("pre/good.txt", b"good")
        bundle.writestr(zipfile.ZipInfo(name), data)
    assert name in zipfile.ZipFile(archive).namelist()  # the name is stored verbatim
    return archive


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "nested-dotdot", "drive"])
def test_zip_slip_members_are_refused(tmp_path, kind):
    outside = tmp_path / "outside"
    outside.mkdir()
    name = {
        "dotdot": "../evil.txt",
        "absolute": str(outside / "abs-evil.txt"),
        "nested-dotdot": "pre/../../evil.txt",
        "drive": "C:/evil.txt",
    }[kind]
    archive = _zip_with(tmp_path, name)
    spec = DatasetSpec("slip", {"good.txt": None}, (Source(archive.as_uri(), None, "zip", archive_prefix="pre/"),))
    with pytest.raises(DataError) as caught:
        dataset_path("slip", spec)
    assert name in str(caught.value)
    folder = cache_dir() / "data" / "slip"
    assert not (folder / "good.txt").exists()  # nothing installed from a refused archive
    assert leftovers(folder) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.zip", "outside"]
    assert list(outside.iterdir()) == []
    assert not list(cache_dir().rglob("*evil*"))


def test_zip_symlink_member_is_refused(tmp_path):
    archive = tmp_path / "archive.zip"
    link = zipfile.ZipInfo("pre/link")
    link.external_attr = (0o120777 << 16)
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr(link, "/etc/passwd")
    with pytest.raises(DataError, match="symbolic link"):
        safe_extract_zip(archive, tmp_path / "out")


def test_not_a_zip_is_a_data_error(tmp_path):
    archive = tmp_path / "archive.zip"
    archive.write_bytes(b"PK but not really")
    with pytest.raises(DataError, match="not a valid zip"):
        safe_extract_zip(archive, tmp_path / "out")


# --------------------------------------------------------------------------- the local mirror


def test_complete_mirror_is_used_without_download(tmp_path, monkeypatch, isolated_data_env):
    mirror = tmp_path / "mirror"
    (mirror / "toy").mkdir(parents=True)
    (mirror / "toy" / "data.txt").write_bytes(PAYLOAD)
    monkeypatch.setenv("LESSONS_DATA_DIR", str(mirror))
    spec = file_spec(tmp_path / "no-such-source.txt")  # a download would fail
    assert dataset_path("toy", spec) == mirror / "toy"
    assert not (isolated_data_env / "data" / "toy").exists()  # nothing written to the cache


def test_corrupt_mirror_file_is_named(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / "toy").mkdir(parents=True)
    (mirror / "toy" / "data.txt").write_bytes(PAYLOAD + b"extra")
    monkeypatch.setenv("LESSONS_DATA_DIR", str(mirror))
    source = tmp_path / "data.txt"
    source.write_bytes(PAYLOAD)
    with pytest.raises(DataError) as caught:
        dataset_path("toy", file_spec(source))
    message = str(caught.value)
    assert str(mirror / "toy" / "data.txt") in message
    assert sha256(PAYLOAD) in message and sha256(PAYLOAD + b"extra") in message
    assert "LESSONS_DATA_DIR" in message


def test_incomplete_mirror_falls_back_to_download(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / "toy").mkdir(parents=True)  # empty: the member is missing
    monkeypatch.setenv("LESSONS_DATA_DIR", str(mirror))
    source = tmp_path / "data.txt"
    source.write_bytes(PAYLOAD)
    folder = dataset_path("toy", file_spec(source))
    assert folder == cache_dir() / "data" / "toy"
    assert (folder / "data.txt").read_bytes() == PAYLOAD
    assert list((mirror / "toy").iterdir()) == []  # the mirror is never written


# --------------------------------------------------------------------------- the registry


def test_unknown_dataset_lists_known_ones():
    with pytest.raises(KeyError) as caught:
        get_spec("no-such-dataset")
    for name in REGISTRY:
        assert name in str(caught.value)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registry_entries_are_consistent(name):
    spec = REGISTRY[name]
    assert spec.name == name
    for source in spec.sources:
        assert source.digest is not None, "every canonical download has a published digest"
        assert source.kind in ("file", "zip", "gzip")
        if source.kind in ("file", "gzip"):
            assert source.member in spec.members
    for digest in spec.members.values():
        assert digest is None or len(digest) == 64


def test_file_digest_reads_in_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch, "_CHUNK", 7)
    data = bytes(range(256)) * 3
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert fetch.file_digest(path) == sha256(data)
    assert fetch.file_digest(path, "md5") == md5(data)
