"""Import a server folder (or one file) of DICOM files and zips into a project."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from annotator.models import Project
from annotator.services.studies import upload_ingest
from annotator.storage import regular_files


class Command(BaseCommand):
    help = "Import DICOM files and zips from PATH into the project SLUG (de-identified)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--project", required=True, help="the project's slug")

    def handle(self, *args: Any, path: Path, project: str, **options: Any) -> None:
        target = Project.objects.filter(slug=project).first()
        if target is None:
            raise CommandError(f"No project with slug {project!r}.")
        if not path.exists():
            raise CommandError(f"{path} does not exist.")
        failed = stored = 0
        for file_path in regular_files(path):
            with file_path.open("rb") as stream:
                outcomes = upload_ingest(
                    project=target,
                    actor=None,
                    files=[(str(file_path.relative_to(path.parent)), stream)],
                )
            for outcome in outcomes:
                stored += outcome.code == "stored"
                failed += not outcome.ok
                self.stdout.write(
                    f"{outcome.status} {outcome.code:<28} {outcome.name}"
                    + ("" if outcome.ok else f": {outcome.detail}")
                )
        self.stdout.write(f"{stored} stored, {failed} failed")
        if failed:
            raise SystemExit(2)
