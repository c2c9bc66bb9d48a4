"""Presentation contexts as pynetdicom users know them: ``PresentationContext``, ``build_context``,
the transfer syntax lists and the 24 ready-made context lists.

``PresentationContext`` is the mutable, user-facing description of a context (what an AE requests
or supports, and after negotiation what was agreed); the protocol core works with its own frozen
items and converts at the facade.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any, Final, NamedTuple

from pydicom import config
from pydicom._uid_dict import UID_dictionary
from pydicom.uid import UID

from dicomnet import sop_class as _sop
from dicomnet import uids
from dicomnet.service_class import StorageServiceClass

__all__ = [
    "ALL_TRANSFER_SYNTAXES",
    "DEFAULT_TRANSFER_SYNTAXES",
    "AllStoragePresentationContexts",
    "ApplicationEventLoggingPresentationContexts",
    "BasicWorklistManagementPresentationContexts",
    "ColorPalettePresentationContexts",
    "DefinedProcedureProtocolPresentationContexts",
    "DisplaySystemPresentationContexts",
    "HangingProtocolPresentationContexts",
    "ImplantTemplatePresentationContexts",
    "InstanceAvailabilityPresentationContexts",
    "MediaCreationManagementPresentationContexts",
    "MediaStoragePresentationContexts",
    "ModalityPerformedPresentationContexts",
    "NonPatientObjectPresentationContexts",
    "PresentationContext",
    "PresentationContextTuple",
    "PrintManagementPresentationContexts",
    "ProcedureStepPresentationContexts",
    "ProtocolApprovalPresentationContexts",
    "QueryRetrievePresentationContexts",
    "RTMachineVerificationPresentationContexts",
    "RelevantPatientInformationPresentationContexts",
    "StorageCommitmentPresentationContexts",
    "StoragePresentationContexts",
    "SubstanceAdministrationPresentationContexts",
    "UnifiedProcedurePresentationContexts",
    "VerificationPresentationContexts",
    "build_context",
]

LOGGER = logging.getLogger(__name__)

#: The transfer syntaxes proposed by default: the uncompressed ones.
DEFAULT_TRANSFER_SYNTAXES: Final[list[str]] = [
    uids.IMPLICIT_VR_LITTLE_ENDIAN,
    uids.EXPLICIT_VR_LITTLE_ENDIAN,
    "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
    uids.EXPLICIT_VR_BIG_ENDIAN,
]
#: Not for the network: MIME and XML encodings (PS3.18, PS3.19).
_NOT_NETWORK: Final = {"1.2.840.10008.1.2.6.1", "1.2.840.10008.1.2.6.2"}


def _numeric(uid: str) -> tuple[int, ...]:
    return tuple(int(part) for part in uid.split("."))


#: PS3.6 transfer syntaxes newer than pydicom 3.0's dictionary (JPEG XL; Deflated Image Frame
#: Compression).
_NEWER_THAN_PYDICOM: Final = {
    "1.2.840.10008.1.2.4.110",
    "1.2.840.10008.1.2.4.111",
    "1.2.840.10008.1.2.4.112",
    "1.2.840.10008.1.2.8.1",
}

#: Every current (not retired) network transfer syntax, the defaults first, then in UID order.
ALL_TRANSFER_SYNTAXES: Final[list[str]] = DEFAULT_TRANSFER_SYNTAXES + sorted(
    {
        uid
        for uid, entry in UID_dictionary.items()
        if entry[1] == "Transfer Syntax" and entry[3] != "Retired"
    }.union(_NEWER_THAN_PYDICOM).difference(_NOT_NETWORK, DEFAULT_TRANSFER_SYNTAXES),
    key=_numeric,
)

_RESULTS: Final = {
    None: "Pending",
    0: "Accepted",
    1: "User Rejected",
    2: "Provider Rejected",
    3: "Abstract Syntax Not Supported",
    4: "Transfer Syntax(es) Not Supported",
}


class PresentationContextTuple(NamedTuple):
    """An agreed context in short: its ID, abstract syntax and the one transfer syntax."""

    context_id: int | None
    abstract_syntax: UID | None
    transfer_syntax: UID | None


def _as_uid(value: Any, what: str) -> UID:
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    if not isinstance(value, str):
        raise TypeError(f"'{what}' must be str, bytes or UID, not '{type(value).__name__}'")
    # pydicom would warn (warnings.warn) for every odd UID a peer sends: we log once, our way
    uid = UID(value.strip(" \x00"), validation_mode=config.IGNORE)
    if not uid.is_valid:
        LOGGER.warning("'%s' is not a valid UID: %r", what, str(uid))
    return uid


def _as_role(value: Any, what: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"'{what}' must be a bool or None")
    return value


class PresentationContext:
    """A presentation context: an abstract syntax, its transfer syntaxes and, once negotiated,
    the result and the roles agreed."""

    def __init__(self) -> None:
        """An empty context; set its fields, or use ``build_context``."""
        self._context_id: int | None = None
        self._abstract_syntax: UID | None = None
        self._transfer_syntax: list[UID] = []
        self._scu_role: bool | None = None
        self._scp_role: bool | None = None
        #: The result of negotiation (0 accepted, 1 to 4 rejected), None until negotiated.
        self.result: int | None = None
        self._as_scu: bool | None = None
        self._as_scp: bool | None = None

    @property
    def context_id(self) -> int | None:
        """The presentation context ID: an odd number from 1 to 255, or None."""
        return self._context_id

    @context_id.setter
    def context_id(self, value: int | None) -> None:
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 255
        ):
            raise ValueError("'context_id' must be an odd integer between 1 and 255, inclusive")
        if value is not None and value % 2 == 0:
            raise ValueError("'context_id' must be an odd integer between 1 and 255, inclusive")
        self._context_id = value

    @property
    def abstract_syntax(self) -> UID | None:
        """The abstract syntax (a SOP Class UID)."""
        return self._abstract_syntax

    @abstract_syntax.setter
    def abstract_syntax(self, value: str | bytes | UID) -> None:
        self._abstract_syntax = _as_uid(value, "abstract_syntax")

    @property
    def transfer_syntax(self) -> list[UID]:
        """The transfer syntaxes, in order of preference."""
        return self._transfer_syntax

    @transfer_syntax.setter
    def transfer_syntax(self, value: Iterable[str | bytes | UID]) -> None:
        self._transfer_syntax = []
        for syntax in value:
            self.add_transfer_syntax(syntax)

    def add_transfer_syntax(self, syntax: str | bytes | UID | None) -> None:
        """Append a transfer syntax unless it is already there (None is ignored)."""
        if syntax is None:
            return
        uid = _as_uid(syntax, "transfer_syntax")
        if uid not in self._transfer_syntax:
            self._transfer_syntax.append(uid)

    @property
    def scu_role(self) -> bool | None:
        """The SCU role to propose (requestor) or to allow (acceptor); None: no role selection."""
        return self._scu_role

    @scu_role.setter
    def scu_role(self, value: bool | None) -> None:
        self._scu_role = _as_role(value, "scu_role")

    @property
    def scp_role(self) -> bool | None:
        """The SCP role to propose (requestor) or to allow (acceptor); None: no role selection."""
        return self._scp_role

    @scp_role.setter
    def scp_role(self, value: bool | None) -> None:
        self._scp_role = _as_role(value, "scp_role")

    @property
    def as_scu(self) -> bool | None:
        """Whether we may act as SCU on this context, once negotiated."""
        return self._as_scu

    @property
    def as_scp(self) -> bool | None:
        """Whether we may act as SCP on this context, once negotiated."""
        return self._as_scp

    @property
    def status(self) -> str:
        """The result in words: Pending, Accepted, User Rejected, ..."""
        return _RESULTS.get(self.result, "Unknown")

    @property
    def as_tuple(self) -> PresentationContextTuple:
        """(context ID, abstract syntax, first transfer syntax)."""
        first = self._transfer_syntax[0] if self._transfer_syntax else None
        return PresentationContextTuple(self._context_id, self._abstract_syntax, first)

    def __eq__(self, other: object) -> bool:
        """Contexts are equal when all their fields are."""
        if not isinstance(other, PresentationContext):
            return NotImplemented
        return vars(self) == vars(other)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        """The abstract syntax's name."""
        return _name(self._abstract_syntax)

    def __str__(self) -> str:
        """Context ID, abstract syntax, transfer syntaxes and result, one per line."""
        lines = [] if self._context_id is None else [f"ID: {self._context_id}"]
        lines.append(f"Abstract Syntax: {_name(self._abstract_syntax)}")
        lines.append("Transfer Syntax(es):")
        lines.extend(f"    ={_name(ts)}" for ts in self._transfer_syntax)
        if self.result is not None:
            lines.append(f"Result: {self.status}")
        return "\n".join(lines)


def _name(uid: UID | None) -> str:
    return "None" if uid is None else uid.name


def build_context(
    abstract_syntax: str | bytes | UID,
    transfer_syntax: str | bytes | UID | Sequence[str | bytes | UID] | None = None,
) -> PresentationContext:
    """A context for ``abstract_syntax`` with ``transfer_syntax`` (one or a list; by default
    ``DEFAULT_TRANSFER_SYNTAXES``)."""
    if transfer_syntax is None:
        transfer_syntax = DEFAULT_TRANSFER_SYNTAXES
    elif isinstance(transfer_syntax, str | bytes):
        transfer_syntax = [transfer_syntax]
    context = PresentationContext()
    context.abstract_syntax = abstract_syntax
    context.transfer_syntax = transfer_syntax
    return context


def _contexts(*keywords: str) -> list[PresentationContext]:
    return [build_context(getattr(_sop, keyword)) for keyword in keywords]


def _find_move_get(*prefixes: str) -> list[PresentationContext]:
    return _contexts(*(f"{p}{kind}" for p in prefixes for kind in ("Find", "Move", "Get")))


#: The 120 storage SOP classes DCMTK's storescu and storescp use by default, in their order
#: (fits the 128-context limit of one A-ASSOCIATE-RQ).
StoragePresentationContexts: Final = _contexts(
    "StoredPrintStorage", "HardcopyGrayscaleImageStorage", "HardcopyColorImageStorage",
    "ComputedRadiographyImageStorage", "DigitalXRayImageStorageForPresentation",
    "DigitalXRayImageStorageForProcessing", "DigitalMammographyXRayImageStorageForPresentation",
    "DigitalMammographyXRayImageStorageForProcessing",
    "DigitalIntraOralXRayImageStorageForPresentation",
    "DigitalIntraOralXRayImageStorageForProcessing", "StandaloneModalityLUTStorage",
    "EncapsulatedPDFStorage", "EncapsulatedCDAStorage", "StandaloneVOILUTStorage",
    "GrayscaleSoftcopyPresentationStateStorage", "ColorSoftcopyPresentationStateStorage",
    "PseudoColorSoftcopyPresentationStateStorage", "BlendingSoftcopyPresentationStateStorage",
    "XAXRFGrayscaleSoftcopyPresentationStateStorage", "XRayAngiographicImageStorage",
    "EnhancedXAImageStorage", "XRayRadiofluoroscopicImageStorage", "EnhancedXRFImageStorage",
    "XRayAngiographicBiPlaneImageStorage", "PositronEmissionTomographyImageStorage",
    "LegacyConvertedEnhancedPETImageStorage", "StandalonePETCurveStorage",
    "XRay3DAngiographicImageStorage", "XRay3DCraniofacialImageStorage",
    "BreastTomosynthesisImageStorage", "EnhancedPETImageStorage", "BasicStructuredDisplayStorage",
    "IntravascularOpticalCoherenceTomographyImageStorageForPresentation",
    "IntravascularOpticalCoherenceTomographyImageStorageForProcessing", "CTImageStorage",
    "EnhancedCTImageStorage", "LegacyConvertedEnhancedCTImageStorage",
    "NuclearMedicineImageStorage", "UltrasoundMultiFrameImageStorageRetired",
    "UltrasoundMultiFrameImageStorage", "MRImageStorage", "EnhancedMRImageStorage",
    "MRSpectroscopyStorage", "EnhancedMRColorImageStorage", "LegacyConvertedEnhancedMRImageStorage",
    "RTImageStorage", "RTDoseStorage", "RTStructureSetStorage", "RTBeamsTreatmentRecordStorage",
    "RTPlanStorage", "RTBrachyTreatmentRecordStorage", "RTTreatmentSummaryRecordStorage",
    "RTIonPlanStorage", "RTIonBeamsTreatmentRecordStorage", "NuclearMedicineImageStorageRetired",
    "UltrasoundImageStorageRetired", "UltrasoundImageStorage", "EnhancedUSVolumeStorage",
    "RawDataStorage", "SpatialRegistrationStorage", "SpatialFiducialsStorage",
    "DeformableSpatialRegistrationStorage", "SegmentationStorage", "SurfaceSegmentationStorage",
    "RealWorldValueMappingStorage", "SurfaceScanMeshStorage", "SurfaceScanPointCloudStorage",
    "SecondaryCaptureImageStorage", "MultiFrameSingleBitSecondaryCaptureImageStorage",
    "MultiFrameGrayscaleByteSecondaryCaptureImageStorage",
    "MultiFrameGrayscaleWordSecondaryCaptureImageStorage",
    "MultiFrameTrueColorSecondaryCaptureImageStorage", "VLImageStorageTrial",
    "VLEndoscopicImageStorage", "VideoEndoscopicImageStorage", "VLMicroscopicImageStorage",
    "VideoMicroscopicImageStorage", "VLSlideCoordinatesMicroscopicImageStorage",
    "VLPhotographicImageStorage", "VideoPhotographicImageStorage",
    "OphthalmicPhotography8BitImageStorage", "OphthalmicPhotography16BitImageStorage",
    "StereometricRelationshipStorage", "OphthalmicTomographyImageStorage",
    "VLWholeSlideMicroscopyImageStorage", "VLMultiFrameImageStorageTrial",
    "LensometryMeasurementsStorage", "AutorefractionMeasurementsStorage",
    "KeratometryMeasurementsStorage", "SubjectiveRefractionMeasurementsStorage",
    "VisualAcuityMeasurementsStorage", "SpectaclePrescriptionReportStorage",
    "OphthalmicAxialMeasurementsStorage", "IntraocularLensCalculationsStorage",
    "MacularGridThicknessAndVolumeReportStorage", "StandaloneOverlayStorage",
    "OphthalmicVisualFieldStaticPerimetryMeasurementsStorage", "OphthalmicThicknessMapStorage",
    "BasicTextSRStorage", "EnhancedSRStorage", "ComprehensiveSRStorage", "Comprehensive3DSRStorage",
    "ProcedureLogStorage", "MammographyCADSRStorage", "KeyObjectSelectionDocumentStorage",
    "ChestCADSRStorage", "XRayRadiationDoseSRStorage", "ColonCADSRStorage",
    "ImplantationPlanSRStorage", "StandaloneCurveStorage", "TwelveLeadECGWaveformStorage",
    "GeneralECGWaveformStorage", "AmbulatoryECGWaveformStorage", "HemodynamicWaveformStorage",
    "CardiacElectrophysiologyWaveformStorage", "BasicVoiceAudioWaveformStorage",
    "GeneralAudioWaveformStorage", "ArterialPulseWaveformStorage", "RespiratoryWaveformStorage",
    "RTBeamsDeliveryInstructionStorage",
)  # fmt: skip


#: Every storage SOP class in the catalogue (more than one association's 128 contexts: for an
#: acceptor), in UID order.
AllStoragePresentationContexts: Final = [
    build_context(uid)
    for uid in sorted(
        {
            str(value)
            for value in vars(_sop).values()
            if isinstance(value, _sop.SOPClass) and value.service_class is StorageServiceClass
        },
        key=_numeric,
    )
]

VerificationPresentationContexts: Final = _contexts("Verification")
QueryRetrievePresentationContexts: Final = (
    _contexts("RepositoryQuery")
    + _find_move_get(
        "PatientRootQueryRetrieveInformationModel",
        "StudyRootQueryRetrieveInformationModel",
        "PatientStudyOnlyQueryRetrieveInformationModel",
    )
    + _contexts(
        "CompositeInstanceRootRetrieveMove",
        "CompositeInstanceRootRetrieveGet",
        "CompositeInstanceRetrieveWithoutBulkDataGet",
    )
)
BasicWorklistManagementPresentationContexts: Final = _contexts(
    "ModalityWorklistInformationModelFind"
)
RelevantPatientInformationPresentationContexts: Final = _contexts(
    "GeneralRelevantPatientInformationQuery",
    "BreastImagingRelevantPatientInformationQuery",
    "CardiacRelevantPatientInformationQuery",
)
SubstanceAdministrationPresentationContexts: Final = _contexts(
    "ProductCharacteristicsQuery", "SubstanceApprovalQuery"
)
HangingProtocolPresentationContexts: Final = _find_move_get("HangingProtocolInformationModel")
ColorPalettePresentationContexts: Final = _find_move_get(
    "ColorPaletteQueryRetrieveInformationModel"
)
DefinedProcedureProtocolPresentationContexts: Final = _find_move_get(
    "DefinedProcedureProtocolInformationModel"
)
ProtocolApprovalPresentationContexts: Final = _find_move_get("ProtocolApprovalInformationModel")
ImplantTemplatePresentationContexts: Final = _find_move_get(
    "GenericImplantTemplateInformationModel",
    "ImplantAssemblyTemplateInformationModel",
    "ImplantTemplateGroupInformationModel",
)
NonPatientObjectPresentationContexts: Final = _contexts(
    "CTDefinedProcedureProtocolStorage", "ProtocolApprovalStorage",
    "XADefinedProcedureProtocolStorage", "InventoryStorage", "HangingProtocolStorage",
    "ColorPaletteStorage", "GenericImplantTemplateStorage", "ImplantAssemblyTemplateStorage",
    "ImplantTemplateGroupStorage",
)  # fmt: skip
ProcedureStepPresentationContexts: Final = _contexts(
    "ModalityPerformedProcedureStep",
    "ModalityPerformedProcedureStepRetrieve",
    "ModalityPerformedProcedureStepNotification",
)
ModalityPerformedPresentationContexts: Final = _contexts(
    "ModalityPerformedProcedureStep",
    "ModalityPerformedProcedureStepRetrieve",
    "ModalityPerformedProcedureStepNotification",
)
UnifiedProcedurePresentationContexts: Final = _contexts(
    "UnifiedProcedureStepPush", "UnifiedProcedureStepWatch", "UnifiedProcedureStepPull",
    "UnifiedProcedureStepEvent", "UnifiedProcedureStepQuery",
)  # fmt: skip
PrintManagementPresentationContexts: Final = _contexts(
    "BasicFilmSession", "PrintJob", "BasicAnnotationBox", "Printer",
    "PrinterConfigurationRetrieval", "BasicColorPrintManagementMeta", "BasicFilmBox",
    "PresentationLUT", "BasicGrayscaleImageBox", "BasicColorImageBox",
    "BasicGrayscalePrintManagementMeta",
)  # fmt: skip
StorageCommitmentPresentationContexts: Final = _contexts("StorageCommitmentPushModel")
ApplicationEventLoggingPresentationContexts: Final = _contexts(
    "ProceduralEventLogging", "SubstanceAdministrationLogging"
)
InstanceAvailabilityPresentationContexts: Final = _contexts("InstanceAvailabilityNotification")
MediaCreationManagementPresentationContexts: Final = _contexts("MediaCreationManagement")
MediaStoragePresentationContexts: Final = _contexts("MediaStorageDirectoryStorage")
RTMachineVerificationPresentationContexts: Final = _contexts(
    "RTConventionalMachineVerification", "RTIonMachineVerification"
)
DisplaySystemPresentationContexts: Final = _contexts("DisplaySystem")
