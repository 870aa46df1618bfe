"""Stored files: the one home of how RadLabel reads and writes through Django's storage.

Every stored file (de-identified DICOM, previews, model weights, export zips) lives in
``default_storage``: a folder on the web host by default, an S3-compatible object store when
``RADLABEL_STORAGE_URL`` says so (``backend.env.file_storage``). Nothing outside this module
and the storage calls it wraps assumes a file has a path on this host.

- ``open_stored_file``: a stored file opened for reading; a missing one is a clear 404 and an
  unreachable store a 503, never a 500.
- ``publish``: a local file written under a temporary name, its checksum verified by reading
  it back, then moved to its final name; only then may a row point at it.
- ``local_copy``: a stored file as a path on this host (model weights for ``torch.load``,
  images a worker reads again at each retrain: ``CachedReader``), from a checksum-keyed cache
  in the host's work folder when the store is remote, its least recently used files evicted
  past ``RADLABEL_CACHE_BYTES``.
- ``folder_copy``: a media folder copied into the configured store, each file verified
  (``manage.py copy_media_to_store``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, default_storage

from annotator.exceptions import ApplicationError

CHUNK = 1024 * 1024


class StoredFileError(ApplicationError):
    """A stored file that cannot be read or written as asked."""


class StoredFileMissing(StoredFileError):
    status = 404
    code = "stored_file_missing"


class FileStoreUnavailable(StoredFileError):
    status = 503
    code = "file_store_unavailable"


class ChecksumMismatch(StoredFileError):
    status = 500
    code = "checksum_mismatch"


def _store_errors() -> tuple[type[BaseException], ...]:
    """What a remote store raises when it cannot be reached or refuses (botocore, if used)."""
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # only local storage is configured without boto3
        return ()
    return (BotoCoreError, ClientError)


@contextmanager
def _translated(name: str) -> Iterator[None]:
    try:
        yield
    except FileNotFoundError as missing:
        raise StoredFileMissing(f"The stored file {name} is missing from the file store.") from (
            missing
        )
    except _store_errors() as error:
        raise FileStoreUnavailable(
            "The file store could not be reached or refused the request; try again later."
        ) from error


def open_stored_file(name: str, storage: Storage = default_storage) -> IO[Any]:
    """``name`` opened for binary reading; StoredFileMissing / FileStoreUnavailable otherwise.

    An object of an S3 store is streamed from one GET: django-storages' own file asks for the
    object's head first and spools all of it to a temporary file before the first byte.
    """
    with _translated(name):
        obj = _s3_object(storage, name)
        if obj is None:
            return storage.open(name, "rb")
        from botocore.exceptions import ClientError

        try:
            return obj.get()["Body"]
        except ClientError as error:
            if error.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
                raise FileNotFoundError(name) from error
            raise


def _s3_object(storage: Storage, name: str) -> Any:
    """The boto3 object behind ``name`` when the storage is django-storages' S3, else None."""
    bucket = getattr(storage, "bucket", None)
    if bucket is None:
        return None
    from storages.utils import clean_name

    return bucket.Object(storage._normalize_name(clean_name(name)))  # type: ignore[attr-defined]


class _Reader:
    """``default_storage`` as ``dicom.open_stored`` reads it, with ``open_stored_file``'s
    errors: ``dicom.open_stored(storage.reader, name)``."""

    def open(self, name: str, mode: str = "rb") -> IO[Any]:
        stream = open_stored_file(name)
        if stream.seekable():
            return stream
        with stream:  # pydicom seeks: a streamed object is read whole first
            return io.BytesIO(stream.read())


reader = _Reader()


def stream_sha256(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def stored_sha256(name: str, storage: Storage = default_storage) -> str:
    with open_stored_file(name, storage) as stream:
        return stream_sha256(stream)


def _local_path(storage: Storage, name: str) -> Path | None:
    """The file's path on this host when the storage is a local folder, else None."""
    try:
        return Path(storage.path(name))
    except NotImplementedError:
        return None


def publish(local: Path, name: str, sha256: str, storage: Storage = default_storage) -> str:
    """Store ``local`` as ``name`` (or the free name the storage picks) and return the stored
    name, once its bytes read back from the store match ``sha256``.

    The file is written and verified under a temporary name, then moved to its final name (a
    rename on a local folder, a copy inside the store on S3); a reader finds it only after the
    move, and a row may point at it only after this returns. A mismatch removes it and raises.
    """
    folder, base = os.path.split(name)
    with _translated(name):
        with local.open("rb") as stream:
            temporary = _saved_verified(
                storage, f"{folder}/.partial-{uuid.uuid4().hex}-{base}", stream, sha256
            )
        try:
            final = storage.get_available_name(name)
            source, target = _local_path(storage, temporary), _local_path(storage, final)
            if source is not None and target is not None:
                os.replace(source, target)
                return final
            # the only other storage backend.env configures: S3, where the copy stays inside
            target_object = _s3_object(storage, final)
            source_key = _s3_object(storage, temporary).key
            target_object.copy_from(
                CopySource={"Bucket": target_object.bucket_name, "Key": source_key}
            )
            return final
        finally:
            if storage.exists(temporary):
                storage.delete(temporary)


def _saved_verified(storage: Storage, name: str, stream: IO[bytes], sha256: str) -> str:
    """``stream`` saved as ``name`` (or the free name the storage picks), then read back; a
    copy whose checksum is not ``sha256`` is removed."""
    stored = storage.save(name, File(stream))
    if stored_sha256(stored, storage) != sha256:
        storage.delete(stored)
        raise ChecksumMismatch(f"{name} did not read back with its checksum; not stored.")
    return stored


def save_file(name: str, content: File, storage: Storage = default_storage) -> str:
    """``content`` stored as ``name`` (or the free name the storage picks); its stored name.
    An unreachable store raises FileStoreUnavailable."""
    with _translated(name):
        return storage.save(name, content)


def delete_stored(name: str, storage: Storage = default_storage) -> None:
    with _translated(name):
        storage.delete(name)


def local_copy(name: str, sha256: str, storage: Storage = default_storage) -> Path:
    """A path on this host holding the stored file ``name`` whose checksum is ``sha256``.

    A local storage answers with the file itself (its reader checks the checksum); a remote
    one is copied once into ``RADLABEL_WORK_DIR/cache``, keyed by checksum and verified
    before it is kept, so a corrupt download is never reused.
    """
    path = _local_path(storage, name)
    if path is not None:
        return path
    cache = Path(settings.RADLABEL_WORK_DIR) / "cache"
    cached = cache / f"{sha256}{Path(name).suffix}"
    if cached.exists():
        cached.touch()  # recently used: evicted last
        return cached
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=cache, delete=False) as partial:
        try:
            digest = hashlib.sha256()
            with open_stored_file(name, storage) as stream:
                for chunk in iter(lambda: stream.read(CHUNK), b""):
                    digest.update(chunk)
                    partial.write(chunk)
            partial.close()
            if digest.hexdigest() != sha256:
                raise ChecksumMismatch(f"{name} in the file store does not match its checksum.")
            os.replace(partial.name, cached)
        finally:
            if os.path.exists(partial.name):
                os.unlink(partial.name)
    _cache_added(cache, keep=cached)
    return cached


_added_since_sweep = 0


def _cache_added(cache: Path, *, keep: Path) -> None:
    """Sweep the cache once a twentieth of its limit was added since the last sweep (a sweep
    reads every entry: once per copy would make a first retrain quadratic)."""
    global _added_since_sweep
    limit = settings.RADLABEL_CACHE_BYTES
    _added_since_sweep += keep.stat().st_size
    if _added_since_sweep >= limit // 20:
        _added_since_sweep = 0
        _evict(cache, keep=keep, limit=limit)


def _evict(cache: Path, *, keep: Path, limit: int) -> None:
    """The least recently used files of ``cache`` removed until it holds ``limit`` bytes."""
    entries = []
    for path in cache.iterdir():
        with contextlib.suppress(FileNotFoundError):  # another process evicted it
            stat = path.stat()
            entries.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries):
        if total <= limit:
            break
        if path != keep:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            total -= size


@dataclass(frozen=True)
class CachedReader:
    """One stored file read through this host's checksum-keyed copy (``local_copy``), for
    ``dicom.open_stored``: the images a worker reads at each retrain come from the store once."""

    sha256: str

    def open(self, name: str, mode: str = "rb") -> IO[Any]:
        return local_copy(name, self.sha256).open("rb")


def regular_files(root: Path) -> list[Path]:
    """Regular files under ``root`` (or ``root`` itself), sorted; symbolic links are never
    followed."""
    if root.is_file() and not root.is_symlink():
        return [root]
    found = []
    for folder, _, names in os.walk(root, followlinks=False):
        for name in names:
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                found.append(path)
    return sorted(found)


@dataclass
class FolderCopy:
    copied: list[str] = field(default_factory=list)
    already_there: list[str] = field(default_factory=list)
    differing: list[str] = field(default_factory=list)  # stored under the name, other bytes


def folder_copy(
    source: Path,
    storage: Storage = default_storage,
    on_file: Callable[[str, str], None] | None = None,
) -> FolderCopy:
    """Every regular file under ``source`` stored under its path relative to ``source``, and
    read back to check its checksum (a copy that does not match is removed and raises); a
    file already stored with the same bytes is left, one stored with other bytes is reported
    and never overwritten. Half-published files (``.partial-*``) are not copied.
    ``on_file(name, outcome)`` hears each file's outcome."""
    report = FolderCopy()
    for path in regular_files(source):
        name = path.relative_to(source).as_posix()
        if path.name.startswith(".partial-"):
            continue
        with path.open("rb") as stream:
            sha256 = stream_sha256(stream)
        with _translated(name):
            exists = storage.exists(name)
        if exists:
            outcome = "already_there" if stored_sha256(name, storage) == sha256 else "differing"
        else:
            with _translated(name), path.open("rb") as stream:
                stored = _saved_verified(storage, name, stream, sha256)
            outcome = "copied"
            if stored != name:  # another process stored the name between the check and here
                delete_stored(stored, storage)
                outcome = "differing"
        getattr(report, outcome).append(name)
        if on_file is not None:
            on_file(name, outcome)
    return report
