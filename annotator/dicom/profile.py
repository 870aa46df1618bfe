"""What de-identification keeps, as data: an allow-list, and PS3.15 Table E.1-1 on top of it.

``KEPT`` is the allow-list: the attributes RadLabel needs and knows to be safe (the
image pixel module and its LUTs, geometry, acquisition and modality parameters, the
instance UIDs it remaps, the profile's own markers, and the Type 2 patient and study
attributes that stay present and empty). Every other attribute, public or private,
at any nesting level, is removed, including sequences nobody listed here: an
attribute is kept because it is known to be needed and harmless, never because it
is not known to be dangerous. Inside a kept sequence the same list applies to each
item.

``BASIC_PROFILE_TABLE`` is the "Basic Prof." column of Table E.1-1, one line per
attribute: ``GGGGEEEE ACTION``. It was transcribed from the machine-readable extract
of PS3.15 published by innolitics/dicom-standard
(``standard/confidentiality_profile_attributes.json``), which is generated from the
standard's DocBook source; ``PROFILE_EDITION`` names the edition it is pinned to (the
edition of the data dictionary pydicom 3.0 ships, which knows every tag of the table
and of ``KEPT``). The table only ever makes a kept attribute stricter: a kept
attribute it lists gets the table's action (its UIDs replaced, its value emptied or a
dummy), and one it removes is not kept. Regenerate, don't hand-edit, when moving to a
newer edition, and change ``PROFILE_EDITION`` with it.

Action codes (Table E.1-1a): D dummy value, Z zero length, X remove, K keep,
U replace UID; compound codes (X/Z, X/D, Z/D, X/Z/D, X/Z/U*) let the de-identifier
pick according to the IOD. Without per-IOD attribute types at hand we resolve them
conservatively but conformantly (``resolve_action``): any choice containing D keeps
the attribute with a dummy (Type 1 safe), X/Z and Z/D become Z (Type 2 safe), and
X/Z/U* keeps the referencing sequence with every UID in it replaced. Z/D is D where
the IOD makes the attribute Type 1 (``type1_dummied``): a dummy of the right form
instead of an empty value that would make the file invalid.
"""

from __future__ import annotations

from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset

from annotator.dicom.reader import PIXEL_MODULE_US

PROFILE_NAME = "PS3.15 E.1 Basic Application Level Confidentiality Profile"
PROFILE_EDITION = "DICOM PS3.15 2024c"

#: The allow-list by module, as DICOM keywords.
# Type 2 attributes of the Patient and General Study modules: present in every stored file,
# empty unless the profile kept a value (PS3.15 lets a de-identifier send them zero length).
# Tools that build derived objects from our files (highdicom's SEG) copy them and need them.
TYPE2_PATIENT_STUDY = (
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
)

KEPT_BY_MODULE: dict[str, tuple[str, ...]] = {
    "SOP common and the profile's markers": (
        "SpecificCharacterSet",
        "SOPClassUID",
        "SOPInstanceUID",
        "InstanceNumber",
        "PatientIdentityRemoved",
        "DeidentificationMethod",
        "DeidentificationMethodCodeSequence",
        "LongitudinalTemporalInformationModified",
    ),
    # Type 2: present in the stored file, emptied by the table (dates, names, ids).
    "patient and study, present and empty": (
        "PatientName",
        "PatientID",
        *TYPE2_PATIENT_STUDY,
        "ContentDate",
        "ContentTime",
        "AcquisitionDate",
        "AcquisitionTime",
        "AcquisitionDateTime",
        "SeriesDate",
        "SeriesTime",
        "AcquisitionContextSequence",
        "PositionReferenceIndicator",
    ),
    "study, series and frame of reference": (
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "FrameOfReferenceUID",
        "SynchronizationFrameOfReferenceUID",
        "Modality",
        "SeriesNumber",
        "AcquisitionNumber",
        "Laterality",
        "ImageLaterality",
        "BodyPartExamined",
        "PatientPosition",
        "ViewPosition",
        "Manufacturer",
        "ManufacturerModelName",
        "SoftwareVersions",
        "DeviceSerialNumber",
        "ConversionType",
    ),
    "references to other instances (UIDs remapped)": (
        "SourceImageSequence",
        "ReferencedImageSequence",
        "ReferencedSOPClassUID",
        "ReferencedSOPInstanceUID",
        "ReferencedFrameNumber",
    ),
    "image pixel": (
        *PIXEL_MODULE_US,
        "PhotometricInterpretation",
        "PlanarConfiguration",
        "PixelAspectRatio",
        "SmallestImagePixelValue",
        "LargestImagePixelValue",
        "PixelPaddingValue",
        "PixelPaddingRangeLimit",
        "RedPaletteColorLookupTableDescriptor",
        "GreenPaletteColorLookupTableDescriptor",
        "BluePaletteColorLookupTableDescriptor",
        "RedPaletteColorLookupTableData",
        "GreenPaletteColorLookupTableData",
        "BluePaletteColorLookupTableData",
        "SegmentedRedPaletteColorLookupTableData",
        "SegmentedGreenPaletteColorLookupTableData",
        "SegmentedBluePaletteColorLookupTableData",
        "ICCProfile",
        "ColorSpace",
        "PixelData",
        "FloatPixelData",
        "DoubleFloatPixelData",
        "ExtendedOffsetTable",
        "ExtendedOffsetTableLengths",
        "NumberOfFrames",
        "FrameIncrementPointer",
        "LossyImageCompression",
        "LossyImageCompressionRatio",
        "LossyImageCompressionMethod",
        "BurnedInAnnotation",
        "RecognizableVisualFeatures",
    ),
    "modality and VOI LUTs, presentation": (
        "ImageType",
        "RescaleIntercept",
        "RescaleSlope",
        "RescaleType",
        "ModalityLUTSequence",
        "ModalityLUTType",
        "LUTDescriptor",
        "LUTData",
        "WindowCenter",
        "WindowWidth",
        "VOILUTFunction",
        "VOILUTSequence",
        "PresentationLUTShape",
        "PixelIntensityRelationship",
        "PixelIntensityRelationshipSign",
        "PresentationIntentType",
    ),
    "geometry": (
        "PixelSpacing",
        "ImagerPixelSpacing",
        "NominalScannedPixelSpacing",
        "PixelSpacingCalibrationType",
        "ImageOrientationPatient",
        "ImagePositionPatient",
        "PatientOrientation",
        "SliceThickness",
        "SpacingBetweenSlices",
        "SliceLocation",
        "EstimatedRadiographicMagnificationFactor",
        "DistanceSourceToDetector",
        "DistanceSourceToPatient",
        "SequenceOfUltrasoundRegions",
        "RegionSpatialFormat",
        "RegionDataType",
        "RegionFlags",
        "RegionLocationMinX0",
        "RegionLocationMinY0",
        "RegionLocationMaxX1",
        "RegionLocationMaxY1",
        "ReferencePixelX0",
        "ReferencePixelY0",
        "PhysicalUnitsXDirection",
        "PhysicalUnitsYDirection",
        "ReferencePixelPhysicalValueX",
        "ReferencePixelPhysicalValueY",
        "PhysicalDeltaX",
        "PhysicalDeltaY",
    ),
    "acquisition": (
        "KVP",
        "XRayTubeCurrent",
        "ExposureTime",
        "Exposure",
        "ExposureInuAs",
        "ConvolutionKernel",
        "DataCollectionDiameter",
        "ReconstructionDiameter",
        "GantryDetectorTilt",
        "TableHeight",
        "RotationDirection",
        "FilterType",
        "FocalSpots",
        "ScanOptions",
        "ScanningSequence",
        "SequenceVariant",
        "MRAcquisitionType",
        "RepetitionTime",
        "EchoTime",
        "InversionTime",
        "EchoTrainLength",
        "EchoNumbers",
        "NumberOfAverages",
        "ImagingFrequency",
        "ImagedNucleus",
        "MagneticFieldStrength",
        "FlipAngle",
        "PixelBandwidth",
        "AcquisitionMatrix",
        "InPlanePhaseEncodingDirection",
        "FrameTime",
        "FrameTimeVector",
        "CineRate",
        "RecommendedDisplayFrameRate",
        "UltrasoundColorDataPresent",
        "IrradiationEventIdentificationSequence",
        "IrradiationEventUID",
        "AcquisitionDuration",
        "ResonantNucleus",
        "KSpaceFiltering",
        "MultipleSpinEcho",
        "PhaseContrast",
        "TimeOfFlightContrast",
        "SteadyStatePulseSequence",
        "EchoPulseSequence",
        "SaturationRecovery",
        "SpectrallySelectedSuppression",
        "OversamplingPhase",
        "GeometryOfKSpaceTraversal",
        "SegmentedKSpaceTraversal",
        "CoverageOfKSpace",
        "NumberOfKSpaceTrajectories",
        "EchoPlanarPulseSequence",
        "MultiPlanarExcitation",
        "RectilinearPhaseEncodeReordering",
    ),
    "nuclear medicine frame vectors": (
        "EnergyWindowVector",
        "NumberOfEnergyWindows",
        "DetectorVector",
        "NumberOfDetectors",
        "PhaseVector",
        "NumberOfPhases",
        "RotationVector",
        "NumberOfRotations",
        "RRIntervalVector",
        "NumberOfRRIntervals",
        "TimeSlotVector",
        "NumberOfTimeSlots",
        "SliceVector",
        "NumberOfSlices",
        "AngularViewVector",
        "TimeSliceVector",
    ),
    "enhanced multi-frame functional groups and dimensions": (
        "SharedFunctionalGroupsSequence",
        "PerFrameFunctionalGroupsSequence",
        "PixelMeasuresSequence",
        "PlanePositionSequence",
        "PlaneOrientationSequence",
        "FrameContentSequence",
        "FrameAcquisitionNumber",
        "StackID",
        "InStackPositionNumber",
        "TemporalPositionIndex",
        "DimensionIndexValues",
        "PixelValueTransformationSequence",
        "FrameVOILUTSequence",
        "CTImageFrameTypeSequence",
        "MRImageFrameTypeSequence",
        "FrameType",
        "PixelPresentation",
        "VolumetricProperties",
        "VolumeBasedCalculationTechnique",
        "ComplexImageComponent",
        "AcquisitionContrast",
        "ContentQualification",
        "DimensionOrganizationType",
        "DimensionOrganizationSequence",
        "DimensionOrganizationUID",
        "DimensionIndexSequence",
        "DimensionIndexPointer",
        "FunctionalGroupPointer",
        "ConcatenationUID",
    ),
    # Anatomic region codes are kept only as codes of the standard's dictionary, with the
    # dictionary's meaning (``STANDARD_CODED``): a source's code meaning is free text.
    "frame anatomy": (
        "FrameAnatomySequence",
        "FrameLaterality",
        "AnatomicRegionSequence",
    ),
    "MR pulse sequence": ("PulseSequenceName",),
}


def _tags(keywords: tuple[str, ...]) -> frozenset[int]:
    tags = set()
    for keyword in keywords:
        tag = tag_for_keyword(keyword)
        if tag is None:
            raise ValueError(f"{keyword} is not a DICOM keyword")
        tags.add(tag)
    return frozenset(tags)


#: The allow-list as tags.
KEPT: frozenset[int] = _tags(tuple(k for group in KEPT_BY_MODULE.values() for k in group))

#: Kept attributes the table does not list whose values are free text: present and empty.
EMPTIED: frozenset[int] = _tags(("PositionReferenceIndicator",))

#: Kept code sequences whose items are rewritten from the standard's code dictionary
#: (SNOMED CT, SNOMED RT mapped to SNOMED CT, DCM): value, scheme and the dictionary's
#: meaning; an item whose code the dictionary does not know is dropped.
STANDARD_CODED: frozenset[int] = _tags(("AnatomicRegionSequence",))

#: Kept attributes whose Table E.1-1 action is Z/D ("Z unless D is required to maintain
#: IOD conformance"), where PS3.3 makes them Type 1: in the Multi-frame Functional Groups
#: module and in some image modules. ``TYPE1_CONTENT_DATE_TIME_SOP_CLASSES`` are the image
#: SOP classes whose IOD has such a module as mandatory (transcribed from the same extract
#: of the standard as highdicom bundles it); the multi-frame secondary captures, whose
#: Multi-frame Functional Groups module is optional, have it when they carry its Type 1
#: SharedFunctionalGroupsSequence.
TYPE1_CONTENT_DATE_TIME: frozenset[int] = _tags(("ContentDate", "ContentTime"))
TYPE1_CONTENT_DATE_TIME_SOP_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.2.1",  # Enhanced CT
        "1.2.840.10008.5.1.4.1.1.2.2",  # Legacy Converted Enhanced CT
        "1.2.840.10008.5.1.4.1.1.4.1",  # Enhanced MR
        "1.2.840.10008.5.1.4.1.1.4.3",  # Enhanced MR Color
        "1.2.840.10008.5.1.4.1.1.4.4",  # Legacy Converted Enhanced MR
        "1.2.840.10008.5.1.4.1.1.6.3",  # Photoacoustic
        "1.2.840.10008.5.1.4.1.1.12.1.1",  # Enhanced XA
        "1.2.840.10008.5.1.4.1.1.12.2.1",  # Enhanced XRF
        "1.2.840.10008.5.1.4.1.1.13.1.1",  # X-Ray 3D Angiographic
        "1.2.840.10008.5.1.4.1.1.13.1.2",  # X-Ray 3D Craniofacial
        "1.2.840.10008.5.1.4.1.1.13.1.3",  # Breast Tomosynthesis
        "1.2.840.10008.5.1.4.1.1.13.1.4",  # Breast Projection X-Ray - For Presentation
        "1.2.840.10008.5.1.4.1.1.13.1.5",  # Breast Projection X-Ray - For Processing
        "1.2.840.10008.5.1.4.1.1.14.1",  # Intravascular OCT - For Presentation
        "1.2.840.10008.5.1.4.1.1.14.2",  # Intravascular OCT - For Processing
        "1.2.840.10008.5.1.4.1.1.77.1.5.1",  # Ophthalmic Photography 8 Bit
        "1.2.840.10008.5.1.4.1.1.77.1.5.2",  # Ophthalmic Photography 16 Bit
        "1.2.840.10008.5.1.4.1.1.77.1.5.4",  # Ophthalmic Tomography
        "1.2.840.10008.5.1.4.1.1.77.1.5.5",  # Wide Field Ophthalmic Photography Stereographic
        "1.2.840.10008.5.1.4.1.1.77.1.5.6",  # Wide Field Ophthalmic Photography 3D Coordinates
        "1.2.840.10008.5.1.4.1.1.77.1.5.7",  # Ophthalmic Optical Coherence Tomography En Face
        "1.2.840.10008.5.1.4.1.1.77.1.6",  # VL Whole Slide Microscopy
        "1.2.840.10008.5.1.4.1.1.77.1.8",  # Confocal Microscopy
        "1.2.840.10008.5.1.4.1.1.77.1.9",  # Confocal Microscopy Tiled Pyramidal
        "1.2.840.10008.5.1.4.1.1.128.1",  # Legacy Converted Enhanced PET
        "1.2.840.10008.5.1.4.1.1.130",  # Enhanced PET
        "1.2.840.10008.5.1.4.1.1.481.23",  # Enhanced RT
        "1.2.840.10008.5.1.4.1.1.481.24",  # Enhanced Continuous RT
    }
)

BASIC_PROFILE_TABLE = """
00001000 X
00001001 U
00020003 U
00041511 U
00080014 U
00080015 X
00080018 U
00080020 Z
00080021 X/D
00080022 X/Z
00080023 Z/D
00080024 X
00080025 X
0008002A X/Z/D
00080030 Z
00080031 X/D
00080032 X/Z
00080033 Z/D
00080034 X
00080035 X
00080050 Z
00080058 U
00080080 X/Z/D
00080081 X
00080082 X/Z/D
00080090 Z
00080092 X
00080094 X
00080096 X
0008009C Z
0008009D X
00080201 X
00081010 X/Z/D
00081030 X
0008103E X
00081040 X
00081041 X
00081048 X
00081049 X
00081050 X
00081052 X
00081060 X
00081062 X
00081070 X/Z/D
00081072 X/D
00081080 X
00081084 X
00081110 X/Z
00081111 X/Z/D
00081120 X
00081140 X/Z/U*
00081155 U
00081195 U
00082111 X
00082112 X/Z/U*
00083010 U
00084000 X
00100010 Z
00100020 Z
00100021 X
00100030 Z
00100032 X
00100040 Z
00100050 X
00100101 X
00100102 X
00101000 X
00101001 X
00101002 X
00101005 X
00101010 X
00101020 X
00101030 X
00101040 X
00101050 X
00101060 X
00101080 X
00101081 X
00101090 X
00101100 X
00102000 X
00102110 X
00102150 X
00102152 X
00102154 X
00102155 X
00102160 X
00102180 X
001021A0 X
001021B0 X
001021C0 X
001021D0 X
001021F0 X
00102203 X/Z
00102297 X
00102299 X
00104000 X
00120010 D
00120020 D
00120021 Z
00120030 Z
00120031 Z
00120040 D
00120042 D
00120050 Z
00120051 X
00120060 Z
00120071 X
00120072 X
00120081 D
00120082 X
0016002B X
0016004B X
0016004D X
0016004E X
0016004F X
00160050 X
00160051 X
00160070 X
00160071 X
00160072 X
00160073 X
00160074 X
00160075 X
00160076 X
00160077 X
00160078 X
00160079 X
0016007A X
0016007B X
0016007C X
0016007D X
0016007E X
0016007F X
00160080 X
00160081 X
00160082 X
00160083 X
00160084 X
00160085 X
00160086 X
00160087 X
00160088 X
00160089 X
0016008A X
0016008B X
0016008C X
0016008D X
0016008E X
00180010 Z/D
00181000 X/Z/D
00181002 U
00181004 X
00181005 X
00181007 X
00181008 X
00181009 X
0018100A X
0018100B U
00181030 X/D
001811BB D
00181400 X/D
00182042 U
00184000 X
00185011 X
0018700A X/D
00189185 X
00189367 D
00189369 D
0018936A D
00189371 D
00189373 X
0018937B X
0018937F X
00189424 X
00189516 X/D
00189517 X/D
00189937 X
0018A003 X
00200010 Z
0020000D U
0020000E U
00200052 U
00200200 U
00203401 X
00203406 X
00204000 X
00209158 X
00209161 U
00209164 U
00281199 U
00281214 U
00284000 X
00320012 X
00321020 X
00321021 X
00321030 X
00321032 X
00321033 X
00321060 X/Z
00321066 X
00321067 X
00321070 X
00324000 X
00340001 D
00340002 D
00340005 D
00340007 D
00380004 X
00380010 X
00380011 X
00380014 X
0038001E X
00380020 X
00380021 X
00380040 X
00380050 X
00380060 X
00380061 X
00380062 X
00380064 X
00380300 X
00380400 X
00380500 X
00384000 X
003A0310 U
003A0314 D
00400001 X
00400002 X
00400003 X
00400004 X
00400005 X
00400006 X
00400007 X
00400009 X
0040000B X
00400010 X
00400011 X
00400012 X
00400241 X
00400242 X
00400243 X
00400244 X
00400245 X
00400250 X
00400251 X
00400253 X
00400254 X
00400275 X
00400280 X
00400310 X
00400512 D
00400513 Z
0040050A X
0040051A X
00400551 D
00400554 U
00400555 X/Z
00400562 Z
00400600 X
00400602 X
00400610 Z
004006FA X
00401001 X
00401002 X
00401004 X
00401005 X
0040100A X
00401010 X
00401011 X
00401101 D
00401102 X
00401103 X
00401104 X
00401400 X
00402001 X
00402008 X
00402009 X
00402010 X
00402011 X
00402016 Z
00402017 Z
00402400 X
00403001 X
00404005 X
00404008 X
00404010 X
00404011 X
00404023 U
00404025 X
00404027 X
00404028 X
00404030 X
00404034 X
00404035 X
00404036 X
00404037 X
00404050 X
00404051 X
00404052 X
0040A027 D
0040A073 D
0040A075 D
0040A078 X
0040A07A X
0040A07C X
0040A088 Z
0040A123 D
0040A124 U
0040A171 U
0040A172 U
0040A192 X
0040A193 X
0040A307 X
0040A352 X
0040A353 X
0040A354 X
0040A358 X
0040A402 U
0040A730 D
0040DB0C U
0040DB0D U
0050001B X
00500020 X
00500021 X
00620021 U
00700001 D
00700084 Z/D
00700086 X
0070031A U
00701101 U
00701102 U
00880140 U
00880200 X
00880904 X
00880906 X
00880910 X
00880912 X
04000100 U
04000402 X
04000403 X
04000404 X
04000550 X
04000551 X
04000552 X
04000561 X
04000600 X
20300020 X
22000002 X/Z
22000005 X/Z
30060002 D
30060004 X
30060006 X
30060008 Z
30060009 X/D
30060024 U
30060026 Z
30060028 X
30060038 X
30060085 X
30060088 X
300600A6 Z
300600C2 U
30080054 X/D
30080056 X/D
30080105 X/Z
30080250 X/D
30080251 X/D
300A0002 D
300A0003 X
300A0004 X
300A0006 X/D
300A0007 X/D
300A000E X
300A0013 U
300A0016 X
300A0072 X
300A0083 U
300A00B2 X
300A00C3 X
300A00DD X
300A0196 X
300A01A6 X
300A01B2 X
300A0216 X
300A02EB X
300A0608 D
300A0609 U
300A0611 Z
300A0615 Z
300A0619 D
300A0623 D
300A062A D
300A0650 U
300A067C D
300A067D Z
300A0676 X
300A0700 U
300A0734 D
300A0736 D
300A073A D
300A0741 D
300A0742 D
300A0760 D
300A0783 D
300C0113 X
300E0008 X/Z
30100006 U
3010000B U
3010000F Z
30100013 U
30100015 U
30100017 Z
3010001B Z
3010002D D
30100031 U
30100033 D
30100034 D
30100035 D
30100036 X
30100037 X
30100038 D
3010003B U
30100043 Z
3010004C X/D
3010004D X/D
30100054 D
30100056 X/D
3010005A Z
3010005C Z
30100061 X
3010006E U
3010006F U
30100077 D
3010007A Z
3010007B Z
3010007F Z
30100081 Z
40000010 X
40004000 X
40080042 X
40080102 X
4008010A X
4008010B X
4008010C X
40080111 X
40080114 X
40080115 X
40080118 X
40080119 X
4008011A X
40080202 X
40080300 X
40084000 X
FFFAFFFA X
FFFCFFFC X
"""


def _parse(table: str) -> dict[int, str]:
    actions: dict[int, str] = {}
    for line in table.split():
        if len(line) == 8:
            tag = int(line, 16)
            if tag in actions:
                raise ValueError(f"duplicate tag {line} in the profile table")
            actions[tag] = ""
            last = tag
        else:
            actions[last] = line
    return actions


#: Table E.1-1 as transcribed: tag -> action code exactly as the standard writes it.
TABLE_E1_1: dict[int, str] = _parse(BASIC_PROFILE_TABLE)

_RESOLVED = {"X/Z": "Z", "Z/D": "Z", "X/D": "D", "X/Z/D": "D", "X/Z/U*": "U"}


def resolve_action(code: str) -> str:
    """Collapse a compound Table E.1-1 action to the single action we execute."""
    return _RESOLVED.get(code, code)


#: tag -> single action (D, Z, X or U) that ``deidentify`` executes on a kept attribute.
ACTIONS: dict[int, str] = {tag: resolve_action(code) for tag, code in TABLE_E1_1.items()}

#: tag -> action for every attribute ``deidentify`` keeps: the table's where it lists the
#: attribute, Z for ``EMPTIED``, K otherwise. A tag absent from this map is removed.
KEPT_ACTIONS: dict[int, str] = {
    tag: ACTIONS.get(tag, "Z" if tag in EMPTIED else "K") for tag in KEPT if ACTIONS.get(tag) != "X"
}


def type1_dummied(ds: Dataset) -> frozenset[int]:
    """The top-level tags of ``ds`` that get a dummy (D) where their Z/D would empty them."""
    if "SharedFunctionalGroupsSequence" in ds or (
        str(ds.get("SOPClassUID") or "") in TYPE1_CONTENT_DATE_TIME_SOP_CLASSES
    ):
        return TYPE1_CONTENT_DATE_TIME
    return frozenset()
