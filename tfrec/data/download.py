"""Downloading dataset archives: SHA-256 verified, safely and atomically unpacked."""

from __future__ import annotations

import hashlib
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from tfrec.errors import DataError

_CHUNK = 1 << 20


def download(url: str, destination: Path, sha256: str, *, quiet: bool = False) -> Path:
    """Downloads ``url`` to ``destination`` and checks its SHA-256.

    The file appears at ``destination`` only once complete and verified.

    Raises:
        DataError: The download failed or its checksum does not match.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, part = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=".part", dir=destination.parent
    )
    try:
        with open(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=60)  # noqa: S310 (official URLs)
            except (urllib.error.URLError, OSError) as e:
                reason = getattr(e, "reason", e)
                raise DataError(
                    f"cannot download {url}: {reason}; check the network, or download "
                    f"it by hand and unpack it under {destination.parent}"
                ) from None
            with response:
                total = int(response.headers.get("Content-Length") or 0)
                done, shown = 0, -1
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    percent = int(100 * done / total) if total else -1
                    if not quiet and percent // 10 != shown:
                        shown = percent // 10
                        print(
                            f"  {url}: {done / 1e6:.1f} MB" + (f" ({percent}%)" if total else ""),
                            file=sys.stderr,
                        )
        actual = digest.hexdigest()
        if actual != sha256:
            raise DataError(
                f"checksum mismatch for {url}: expected sha256 {sha256}, got {actual}; "
                "the download is corrupt or the file changed upstream. Retry, or "
                f"unpack a copy you trust under {destination.parent}"
            )
        Path(part).replace(destination)
    finally:
        Path(part).unlink(missing_ok=True)
    return destination


def safe_extract(archive: Path, target: Path, member_root: str) -> Path:
    """Unpacks ``member_root/`` of a zip archive into ``target``, atomically.

    Members with absolute paths, ``..`` components or symlinks are refused,
    so an archive cannot write outside ``target``. The archive is unpacked
    into a temporary directory beside ``target`` and renamed into place.

    Raises:
        DataError: The archive is not a zip, escapes the target, or lacks
            ``member_root``.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile:
        raise DataError(
            f"{archive} is not a valid zip archive; delete it and fetch again"
        ) from None
    with zf:
        for info in zf.infolist():
            path = PurePosixPath(info.filename)
            is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
            if path.is_absolute() or ".." in path.parts or "\\" in info.filename or is_link:
                raise DataError(
                    f"{archive}: refusing unsafe archive member {info.filename!r} "
                    "(absolute path, '..', or symlink)"
                )
        names = [n for n in zf.namelist() if n.startswith(f"{member_root}/")]
        if not names:
            raise DataError(
                f"{archive}: no '{member_root}/' folder inside; is this the right archive?"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            zf.extractall(staging, members=names)
            if target.exists():
                shutil.rmtree(target)
            (staging / member_root).replace(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target
