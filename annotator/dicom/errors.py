"""The one exception the DICOM ingest core raises for files it refuses."""

from __future__ import annotations

from typing import Any

# Machine code -> HTTP status. The service layer maps DicomRejected to a response
# with this status; nothing else in the ingest core chooses a status.
STATUS_BY_CODE: dict[str, int] = {
    "file_too_large": 413,
    "not_dicom_part10": 415,
    "dicom_truncated": 400,
    "dicom_invalid": 400,
    "invalid_uid": 400,
    "unsupported_transfer_syntax": 415,
    "no_decoder": 415,
    "unsupported_sop_class": 415,
    "no_pixel_data": 422,
    "inconsistent_pixel_module": 422,
    "undecodable_pixel_data": 422,
    "pixel_data_too_large": 413,
    "unsafe_archive_entry": 400,
    "archive_invalid": 400,
    "archive_too_large": 413,
}


class DicomRejected(Exception):
    """An uploaded file (or archive) that ingest refuses.

    ``code`` is a stable machine code (see ``STATUS_BY_CODE``), ``status`` the HTTP
    status for it and ``detail`` a human sentence naming the reason. ``detail`` never
    holds values read from the file (they may be patient data): it names tags,
    transfer syntax UIDs and sizes only. ``filename`` is the name the upload came
    with, kept apart from ``detail`` because names of uploaded files often contain
    patient names; the caller decides whether to show it.
    """

    def __init__(self, code: str, detail: str, *, filename: str | None = None) -> None:
        if code not in STATUS_BY_CODE:
            raise ValueError(f"unknown rejection code {code!r}")
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.status = STATUS_BY_CODE[code]
        self.filename = filename

    def __reduce__(self) -> tuple[Any, tuple[str, str, str | None]]:
        """Keeps the exception picklable across Celery processes."""
        return (_rebuild, (self.code, self.detail, self.filename))


def _rebuild(code: str, detail: str, filename: str | None) -> DicomRejected:
    return DicomRejected(code, detail, filename=filename)
