"""Copy a local media folder into the configured file store, verifying every file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages
from django.core.management.base import BaseCommand, CommandError

from annotator.exceptions import ApplicationError
from annotator.storage import folder_copy


class Command(BaseCommand):
    help = (
        "Copy every file of a local media folder (default: RADLABEL_MEDIA_ROOT) into the file "
        "store RADLABEL_STORAGE_URL names, reading each back to verify its SHA-256. Files "
        "already stored with the same bytes are skipped; one stored with other bytes is "
        "reported, never overwritten, and fails the command."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--source", type=Path, default=None, help="the folder to copy")

    def handle(self, *args: Any, source: Path | None, **options: Any) -> None:
        source = (source or Path(settings.MEDIA_ROOT)).resolve()
        if not source.is_dir():
            raise CommandError(f"{source} is not a folder.")
        if isinstance(storages["default"], FileSystemStorage):
            raise CommandError(
                "The file store is the local folder MEDIA_ROOT: set RADLABEL_STORAGE_URL to the "
                "object store to copy into."
            )

        def heard(name: str, outcome: str) -> None:
            if options["verbosity"] > 1 or outcome == "differing":
                self.stdout.write(f"{outcome}: {name}")

        try:
            report = folder_copy(source, on_file=heard)
        except ApplicationError as error:
            raise CommandError(error.detail) from error
        self.stdout.write(
            f"{len(report.copied)} copied and verified, {len(report.already_there)} already "
            f"stored with the same bytes, {len(report.differing)} stored with other bytes"
        )
        if report.differing:
            raise CommandError(
                f"{len(report.differing)} files are stored with other bytes under the same name; "
                "they were left as they are: " + ", ".join(report.differing[:20])
            )
