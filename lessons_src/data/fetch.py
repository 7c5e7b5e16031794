"""Finding, downloading and verifying dataset files.

Look-up order for a dataset ``name``:

1. ``$LESSONS_DATA_DIR/<name>/`` — a local mirror (read-only is fine; nothing is written there);
2. ``<user cache>/data/<name>/`` — files this package downloaded before;
3. the canonical URL — downloaded into a temporary file, checked, and only then renamed into the
   cache, so an interrupted or corrupt download never leaves a file under its final name.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from platformdirs import user_cache_dir
from tqdm.auto import tqdm

from .registry import DatasetSpec, Source, get_spec

DATA_DIR_ENV = "LESSONS_DATA_DIR"
CACHE_DIR_ENV = "LESSONS_CACHE_DIR"
_CHUNK = 1 << 20


class DataError(RuntimeError):
    """A dataset file is missing, corrupt, or unsafe."""


def cache_dir() -> Path:
    """Where downloads and derived files go: ``$LESSONS_CACHE_DIR`` or the user cache directory."""
    root = os.environ.get(CACHE_DIR_ENV) or user_cache_dir("lessons_src")
    return Path(root)


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(path: Path, algorithm: str, expected: str | None, advice: str, name: str | None = None) -> None:
    """Raise :class:`DataError` naming the file (or ``name``), both digests and what to do if they differ."""
    if expected is None:
        return
    actual = file_digest(path, algorithm)
    if actual != expected:
        raise DataError(
            f"{name or path}: {algorithm} mismatch (expected {expected}, got {actual}). "
            f"The file is corrupt, truncated or a different version. {advice}"
        )


def _complete(folder: Path, spec: DatasetSpec) -> bool:
    return all((folder / member).is_file() for member in spec.members)


def _verify_members(folder: Path, spec: DatasetSpec, advice: str) -> Path:
    for member, sha256 in spec.members.items():
        verify_file(folder / member, "sha256", sha256, advice)
    return folder


def dataset_path(name: str, spec: DatasetSpec | None = None, download: bool = True) -> Path:
    """Return a directory holding every verified member file of dataset ``name``."""
    spec = spec or get_spec(name)
    mirror = os.environ.get(DATA_DIR_ENV)
    if mirror:
        folder = Path(mirror) / spec.name
        if _complete(folder, spec):
            return _verify_members(
                folder, spec, f"Replace it in ${DATA_DIR_ENV} ({mirror}) or unset the variable."
            )
    folder = cache_dir() / "data" / spec.name
    if _complete(folder, spec):
        return _verify_members(folder, spec, f"Delete {folder} and run again to download it anew.")
    if not download:
        raise DataError(
            f"dataset {spec.name!r} is not in ${DATA_DIR_ENV} ({mirror or 'unset'}) nor in {folder}, "
            "and download=False"
        )
    folder.mkdir(parents=True, exist_ok=True)
    for source in spec.sources:
        _fetch_source(source, folder, spec)
    missing = [m for m in spec.members if not (folder / m).is_file()]
    if missing:
        raise DataError(f"dataset {spec.name!r}: the download did not provide {missing}")
    return folder


def _download(url: str, destination: Path) -> None:
    """Stream ``url`` into ``destination`` with a progress bar (no rename, no checks here)."""
    request = urllib.request.Request(url, headers={"User-Agent": "lessons_src"})
    with urllib.request.urlopen(request, timeout=60) as response, open(destination, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        received = 0
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"download {Path(url).name}") as bar:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    # http.client returns b"" instead of raising when the server closes the connection early, so
    # a truncated body would otherwise pass unnoticed wherever no digest is published
    if total is not None and received != total:
        raise OSError(f"connection closed after {received} of {total} bytes (truncated download)")


def _fetch_source(source: Source, folder: Path, spec: DatasetSpec) -> None:
    advice = f"Try again later, or download {source.url} yourself into ${DATA_DIR_ENV}/{spec.name}/."
    with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as scratch:
        scratch = Path(scratch)
        raw = scratch / "raw"
        try:
            _download(source.url, raw)
        except (OSError, http.client.HTTPException) as error:
            raise DataError(f"could not download {source.url}: {error}. {advice}") from error
        if source.digest is not None:
            verify_file(raw, source.digest[0], source.digest[1], advice, name=f"download of {source.url}")
        if source.kind == "file":
            _install(raw, folder / source.member, spec.members.get(source.member), advice)
        elif source.kind == "gzip":
            plain = scratch / "plain"
            try:
                with gzip.open(raw, "rb") as packed, open(plain, "wb") as out:
                    shutil.copyfileobj(packed, out, _CHUNK)
            except (OSError, EOFError) as error:
                raise DataError(f"{source.url}: not a valid gzip file ({error}). {advice}") from error
            _install(plain, folder / source.member, spec.members.get(source.member), advice)
        elif source.kind == "zip":
            extracted = scratch / "extracted"
            safe_extract_zip(raw, extracted)
            for member, sha256 in spec.members.items():
                if not member.startswith(source.extract_to):
                    continue  # another archive of this dataset provides it
                inside = source.archive_prefix + member[len(source.extract_to):]
                found = extracted / inside
                if not found.is_file():
                    raise DataError(f"{source.url}: archive has no member {inside}")
                _install(found, folder / member, sha256, advice)
        else:
            raise ValueError(f"unknown source kind {source.kind!r} for {source.url}")


def _install(candidate: Path, final: Path, sha256: str | None, advice: str) -> None:
    """Check ``candidate`` and move it to ``final`` in one atomic rename."""
    verify_file(candidate, "sha256", sha256, advice, name=f"{final.name} (to be installed as {final})")
    final.parent.mkdir(parents=True, exist_ok=True)  # members are relative paths, maybe nested
    os.replace(candidate, final)


def safe_extract_zip(archive: Path, destination: Path) -> None:
    """Extract ``archive`` into ``destination``, refusing absolute paths, ``..`` and links."""
    destination.mkdir(parents=True, exist_ok=True)
    try:
        bundle = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as error:
        raise DataError(f"{archive}: not a valid zip archive ({error})") from error
    with bundle:
        for info in bundle.infolist():
            parts = PurePosixPath(info.filename.replace("\\", "/"))
            if parts.is_absolute() or ".." in parts.parts or (parts.parts and ":" in parts.parts[0]):
                raise DataError(
                    f"{archive}: refusing to extract {info.filename!r} (absolute path or '..' "
                    "would write outside the destination folder)"
                )
            is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
            if is_link:
                raise DataError(f"{archive}: refusing to extract symbolic link {info.filename!r}")
        bundle.extractall(destination)
