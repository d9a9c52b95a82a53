"""Checksummed download and safe, atomic extraction (file:// URLs, no network)."""

import hashlib
import zipfile

import pytest

from tests.movielens_files import write_latest
from tfrec.data import fetch, load_dataset, registry
from tfrec.data.download import safe_extract
from tfrec.errors import DataError


@pytest.fixture
def archive(tmp_path):
    source = write_latest(tmp_path / "src")
    path = tmp_path / "served" / "ml-latest-small.zip"
    path.parent.mkdir()
    with zipfile.ZipFile(path, "w") as zf:
        for f in source.iterdir():
            zf.write(f, f"ml-latest-small/{f.name}")
    return path


def _serve(monkeypatch, archive, sha256):
    monkeypatch.setattr(registry, "_GROUPLENS", archive.parent.as_uri())
    spec = registry.DATASETS["ml-latest-small"]
    monkeypatch.setitem(
        registry.DATASETS,
        "ml-latest-small",
        registry.DatasetSpec(**{**spec.__dict__, "sha256": sha256}),
    )


def test_fetch_verifies_and_unpacks(tmp_path, archive, monkeypatch):
    _serve(monkeypatch, archive, hashlib.sha256(archive.read_bytes()).hexdigest())
    root = tmp_path / "cache"
    path = fetch("ml-latest-small", root, quiet=True)
    assert (path / "ratings.csv").exists()
    assert not (root / "ml-latest-small.zip").exists()
    assert len(load_dataset("ml-latest-small", root).ratings) > 0


def test_checksum_mismatch_keeps_nothing(tmp_path, archive, monkeypatch):
    _serve(monkeypatch, archive, "0" * 64)
    root = tmp_path / "cache"
    with pytest.raises(DataError, match="checksum mismatch"):
        fetch("ml-latest-small", root, quiet=True)
    assert list(root.iterdir()) == []


def test_load_with_download_flag(tmp_path, archive, monkeypatch):
    _serve(monkeypatch, archive, hashlib.sha256(archive.read_bytes()).hexdigest())
    data = load_dataset("ml-latest-small", tmp_path / "cache", download=True)
    assert len(data.ratings) > 0


@pytest.mark.parametrize("member", ["../evil.txt", "/abs/evil.txt", "ml-latest-small/../../x"])
def test_unsafe_archive_members_are_refused(tmp_path, member):
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ml-latest-small/ratings.csv", "x")
        zf.writestr(member, "boom")
    with pytest.raises(DataError, match="unsafe archive member"):
        safe_extract(path, tmp_path / "out" / "ml-latest-small", "ml-latest-small")
    assert not (tmp_path / "out" / "ml-latest-small").exists()
    assert not (tmp_path / "evil.txt").exists()


def test_not_a_zip(tmp_path):
    path = tmp_path / "x.zip"
    path.write_text("not a zip")
    with pytest.raises(DataError, match="not a valid zip"):
        safe_extract(path, tmp_path / "out", "x")
