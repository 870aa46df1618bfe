"""DICOM ingest core: strict reading, de-identification, pixels and archives.

Pure functions with no Django import; the service layer calls, per uploaded file::

    ds = read_validated(data=data, filename=name)
    result = deidentify(ds, project_secret=secret)
    for index in range(result.number_of_frames):
        pixels = frame_pixels(ds, index)
        window = default_window(ds, pixels, index=index)
        png = render_preview(pixels, window)
    stored = dataset_to_bytes(result.dataset)

Every refusal is a ``DicomRejected`` with ``code``, ``detail`` and ``status``.
"""

from annotator.dicom.archive import iter_archive
from annotator.dicom.deid import DeidResult, deidentify, patient_pseudonym, remap_uid
from annotator.dicom.errors import STATUS_BY_CODE, DicomRejected
from annotator.dicom.pixels import default_window, frame_pixels, render_preview
from annotator.dicom.reader import read_validated
from annotator.dicom.writer import dataset_to_bytes

__all__ = [
    "STATUS_BY_CODE",
    "DeidResult",
    "DicomRejected",
    "dataset_to_bytes",
    "default_window",
    "deidentify",
    "frame_pixels",
    "iter_archive",
    "patient_pseudonym",
    "read_validated",
    "remap_uid",
    "render_preview",
]
