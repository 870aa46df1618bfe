"""DICOM ingest core: strict reading, de-identification, pixels and archives.

Pure functions with no Django import; the service layer calls, per uploaded file::

    source = read_validated_file(data=data, filename=name)
    result = deidentify(source.dataset, project_secret=secret)
    windows = default_windows(source.dataset)
    stored = dataset_to_bytes(result.dataset, source=source)

and later, off the request path, ``ds = open_stored(default_storage, path)`` and
``render_preview(frame_pixels(ds, index), windows[index])``.

Every refusal is a ``DicomRejected`` with ``code``, ``detail`` and ``status``.
"""

from annotator.dicom.archive import iter_archive
from annotator.dicom.deid import DeidResult, deidentify, patient_pseudonym, remap_uid
from annotator.dicom.errors import STATUS_BY_CODE, DicomRejected
from annotator.dicom.pixels import default_window, default_windows, frame_pixels, render_preview
from annotator.dicom.reader import ValidatedFile, open_stored, read_validated, read_validated_file
from annotator.dicom.writer import dataset_to_bytes

__all__ = [
    "STATUS_BY_CODE",
    "DeidResult",
    "DicomRejected",
    "ValidatedFile",
    "dataset_to_bytes",
    "default_window",
    "default_windows",
    "deidentify",
    "frame_pixels",
    "iter_archive",
    "open_stored",
    "patient_pseudonym",
    "read_validated",
    "read_validated_file",
    "remap_uid",
    "render_preview",
]
