"""The demo's data: synthetic lesions with exactly known masks on real CT slices (``lesions``)
and CT studies of them as DICOM files (``dicom``). NumPy and pydicom only, so the web side seeds
the demo without torch; the ML code turns them into training samples in ``worker.ml.synthetic``.
"""
