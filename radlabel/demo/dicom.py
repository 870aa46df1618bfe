"""Synthetic-lesion CT studies as real DICOM files, for the demo project and the tests.

Each slice is a real CT slice (see :mod:`radlabel.demo.lesions`) with solid or ground-glass
nodules whose masks are known exactly. The files carry fake patient identifiers (so ingest has
something to de-identify and patients spread over the splits) and the demo window, which
becomes each image's default window and so the window the model trains and predicts in.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO

import numpy as np
import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from radlabel.demo.lesions import CLASS_NAMES, DEMO_WINDOW, random_lesion_slice


@dataclass
class LesionSlice:
    data: bytes  # a Part-10 CT file
    patient_id: str
    masks: np.ndarray  # uint8 (N, H, W)
    labels: np.ndarray  # int64 (N,), 1-based indexes into CLASS_NAMES

    @property
    def class_names(self) -> list[str]:
        return [CLASS_NAMES[label - 1] for label in self.labels]


def _dataset(hu: np.ndarray, *, patient: int, index: int, seed: int) -> pydicom.Dataset:
    size = hu.shape[0]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = generate_uid(entropy_srcs=[f"demo-{seed}-{patient}-{index}"])
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[f"demo-{seed}-{patient}-study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[f"demo-{seed}-{patient}-series"])
    ds.FrameOfReferenceUID = generate_uid(entropy_srcs=[f"demo-{seed}-{patient}-for"])
    ds.PatientName = f"Demo^Patient{patient:03d}"
    ds.PatientID = f"DEMO-{seed}-{patient:03d}"
    ds.PatientBirthDate = "19700101"
    ds.Modality = "CT"
    ds.BodyPartExamined = "CHEST"
    ds.SeriesNumber = 1
    ds.InstanceNumber = index + 1
    ds.ImagePositionPatient = [0.0, 0.0, float(index) * 5.0]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing = [0.7 * 512 / size, 0.7 * 512 / size]
    ds.SliceThickness = 5.0
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = size
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "HU"
    ds.WindowCenter, ds.WindowWidth = DEMO_WINDOW
    ds.BurnedInAnnotation = "NO"
    ds.PixelData = np.clip(np.rint(hu), -1024, 3071).astype("<i2").tobytes()
    return ds


def lesion_slices(
    patients: int,
    slices_per_patient: int,
    *,
    seed: int,
    size: int = 512,
    lesions: tuple[int, int] = (1, 3),
) -> list[LesionSlice]:
    """``patients`` × ``slices_per_patient`` CT files with ``lesions`` (1–3; ``(0, 0)``: clean
    slices) known lesions each; patients are told apart by ``seed``."""
    rng = np.random.default_rng(seed)
    radius = (7.0 * size / 512 + 2, 22.0 * size / 512 + 2)
    out = []
    for patient in range(patients):
        for index in range(slices_per_patient):
            synth = random_lesion_slice(rng, size=size, count=lesions, radius=radius)
            buffer = BytesIO()
            _dataset(synth.hu, patient=patient, index=index, seed=seed).save_as(
                buffer, enforce_file_format=True
            )
            out.append(
                LesionSlice(
                    buffer.getvalue(), f"DEMO-{seed}-{patient:03d}", synth.masks, synth.labels
                )
            )
    return out
