"""SOP Class UIDs by name, each knowing its service class (pynetdicom's ``sop_class``).

Every SOP Class and Meta SOP Class of pydicom's UID dictionary is here under its pydicom keyword,
plus the few PS3.6 classes newer than that dictionary, plus the names pynetdicom uses where they
differ from pydicom's keywords (so code written for pynetdicom keeps working), plus the well-known
SOP instances. ``register_uid`` adds private SOP classes at run time.
"""

from __future__ import annotations

import keyword as _keyword
import re
from typing import Final, cast

from pydicom._uid_dict import UID_dictionary
from pydicom.uid import UID

from dicomnet import service_class as sc

__all__: list[str] = [  # the catalogue's names are added once it is built
    "QR_MESSAGE_TYPES",
    "SOPClass",
    "register_uid",
    "uid_to_service_class",
    "uid_to_sop_class",
]


class SOPClass(UID):
    """A SOP Class UID (a pydicom ``UID``) that knows its service class."""

    _service_class: type[sc.ServiceClass]

    def __new__(cls, val: str, service_class: type[sc.ServiceClass] = sc.ServiceClass) -> SOPClass:
        """A SOP class ``val`` belonging to ``service_class``."""
        obj = cast(SOPClass, super().__new__(cls, val))
        obj._service_class = service_class
        return obj

    @property
    def service_class(self) -> type[sc.ServiceClass]:
        """The service class this SOP class belongs to."""
        return self._service_class


#: PS3.6 Table A-1 SOP classes newer than pydicom's dictionary: UID -> keyword.
_NEWER_THAN_PYDICOM: Final = {
    "1.2.840.10008.5.1.4.1.1.9.100.1": "WaveformPresentationStateStorage",
    "1.2.840.10008.5.1.4.1.1.9.100.2": "WaveformAcquisitionPresentationStateStorage",
    "1.2.840.10008.5.1.4.1.1.66.7": "LabelMapSegmentationStorage",
    "1.2.840.10008.5.1.4.1.1.66.8": "HeightMapSegmentationStorage",
}

#: Names pynetdicom uses where pydicom's keyword differs: pynetdicom name -> pydicom keyword.
_PYNETDICOM_NAMES: Final = {
    "ColorPaletteInformationModelFind": "ColorPaletteQueryRetrieveInformationModelFind",
    "ColorPaletteInformationModelGet": "ColorPaletteQueryRetrieveInformationModelGet",
    "ColorPaletteInformationModelMove": "ColorPaletteQueryRetrieveInformationModelMove",
    "ModalityWorklistInformationFind": "ModalityWorklistInformationModelFind",
    "OphthlamicOpticalCoherenceTomographyBscanVolumeAnalysisStorage": (
        "OphthalmicOpticalCoherenceTomographyBscanVolumeAnalysisStorage"
    ),
    "PseudoColorSoftcopyPresentationStageStorage": "PseudoColorSoftcopyPresentationStateStorage",
    "RTBrachyApplicationSetupDeliveryInstructionsStorage": (
        "RTBrachyApplicationSetupDeliveryInstructionStorage"
    ),
    "RoboticArmRadiationRecordStorage": "RoboticRadiationRecordStorage",
    "VariableModalityLUTSoftcopyPresentationStageStorage": (
        "VariableModalityLUTSoftcopyPresentationStateStorage"
    ),
}

# The service class of every SOP class that is not storage, by keyword (PS3.4's annexes).
_BY_SERVICE: Final[dict[type[sc.ServiceClass], tuple[str, ...]]] = {
    sc.VerificationServiceClass: ("Verification",),
    sc.QueryRetrieveServiceClass: (
        *(
            f"{root}QueryRetrieveInformationModel{kind}"
            for root in ("PatientRoot", "StudyRoot", "PatientStudyOnly")
            for kind in ("Find", "Get", "Move")
        ),
        "CompositeInstanceRootRetrieveGet",
        "CompositeInstanceRootRetrieveMove",
        "CompositeInstanceRetrieveWithoutBulkDataGet",
        "RepositoryQuery",
    ),
    sc.BasicWorklistManagementServiceClass: ("ModalityWorklistInformationModelFind",),
    sc.RelevantPatientInformationQueryServiceClass: (
        "GeneralRelevantPatientInformationQuery",
        "BreastImagingRelevantPatientInformationQuery",
        "CardiacRelevantPatientInformationQuery",
    ),
    sc.SubstanceAdministrationQueryServiceClass: (
        "ProductCharacteristicsQuery",
        "SubstanceApprovalQuery",
    ),
    sc.HangingProtocolQueryRetrieveServiceClass: tuple(
        f"HangingProtocolInformationModel{k}" for k in ("Find", "Get", "Move")
    ),
    sc.ColorPaletteQueryRetrieveServiceClass: tuple(
        f"ColorPaletteQueryRetrieveInformationModel{k}" for k in ("Find", "Get", "Move")
    ),
    sc.ImplantTemplateQueryRetrieveServiceClass: tuple(
        f"{kind}InformationModel{k}"
        for kind in ("GenericImplantTemplate", "ImplantAssemblyTemplate", "ImplantTemplateGroup")
        for k in ("Find", "Get", "Move")
    ),
    sc.DefinedProcedureProtocolQueryRetrieveServiceClass: tuple(
        f"DefinedProcedureProtocolInformationModel{k}" for k in ("Find", "Get", "Move")
    ),
    sc.ProtocolApprovalQueryRetrieveServiceClass: tuple(
        f"ProtocolApprovalInformationModel{k}" for k in ("Find", "Get", "Move")
    ),
    sc.InventoryQueryRetrieveServiceClass: ("InventoryFind", "InventoryGet", "InventoryMove"),
    sc.NonPatientObjectStorageServiceClass: (
        "HangingProtocolStorage",
        "ColorPaletteStorage",
        "GenericImplantTemplateStorage",
        "ImplantAssemblyTemplateStorage",
        "ImplantTemplateGroupStorage",
        "CTDefinedProcedureProtocolStorage",
        "XADefinedProcedureProtocolStorage",
        "ProtocolApprovalStorage",
        "InventoryStorage",
    ),
    sc.ProcedureStepServiceClass: (
        "ModalityPerformedProcedureStep",
        "ModalityPerformedProcedureStepRetrieve",
        "ModalityPerformedProcedureStepNotification",
    ),
    sc.UnifiedProcedureStepServiceClass: tuple(
        f"UnifiedProcedureStep{k}{trial}"
        for k in ("Push", "Watch", "Pull", "Event", "Query")
        for trial in ("", "Trial")
        if not (k == "Query" and trial)
    ),
    sc.PrintManagementServiceClass: (
        "BasicFilmSession",
        "BasicFilmBox",
        "BasicGrayscaleImageBox",
        "BasicColorImageBox",
        "BasicGrayscalePrintManagementMeta",
        "BasicColorPrintManagementMeta",
        "PrintJob",
        "BasicAnnotationBox",
        "Printer",
        "PrinterConfigurationRetrieval",
        "PresentationLUT",
        "VOILUTBox",
        "ReferencedImageBox",
        "ReferencedGrayscalePrintManagementMeta",
        "ReferencedColorPrintManagementMeta",
        "ImageOverlayBox",
        "BasicPrintImageOverlayBox",
        "PrintQueueManagement",
        "PullPrintRequest",
        "PullStoredPrintManagementMeta",
    ),
    sc.StorageCommitmentServiceClass: ("StorageCommitmentPushModel", "StorageCommitmentPullModel"),
    sc.ApplicationEventLoggingServiceClass: (
        "ProceduralEventLogging",
        "SubstanceAdministrationLogging",
    ),
    sc.InstanceAvailabilityNotificationServiceClass: ("InstanceAvailabilityNotification",),
    sc.MediaCreationManagementServiceClass: ("MediaCreationManagement",),
    sc.RTMachineVerificationServiceClass: (
        "RTConventionalMachineVerification",
        "RTIonMachineVerification",
        "RTConventionalMachineVerificationTrial",
        "RTIonMachineVerificationTrial",
    ),
    sc.DisplaySystemManagementServiceClass: ("DisplaySystem",),
    sc.StorageManagementServiceClass: ("InventoryCreation",),
    sc.ServiceClass: ("MediaStorageDirectoryStorage",),
}
_SERVICE_OF: Final = {kw: cls for cls, kws in _BY_SERVICE.items() for kw in kws}
_STORAGE: Final = re.compile(r"Storage(ForPresentation|ForProcessing|Trial|Retired)?$")
_QR_TYPES: Final = ("C-FIND", "C-GET", "C-MOVE")
_MESSAGE_SUFFIX: Final = re.compile(r"(Find|Get|Move|Query)$")

#: The DIMSE message of each query/retrieve-like SOP class: UID -> "C-FIND", "C-GET" or "C-MOVE".
QR_MESSAGE_TYPES: dict[str, str] = {}


def _classify(keyword: str) -> type[sc.ServiceClass]:
    """The service class of a standard SOP class, from its keyword."""
    if keyword in _SERVICE_OF:
        return _SERVICE_OF[keyword]
    return sc.StorageServiceClass if _STORAGE.search(keyword) else sc.ServiceClass


def _message_type(keyword: str) -> str | None:
    match = _MESSAGE_SUFFIX.search(keyword)
    if match is None:
        return None
    return {"Get": "C-GET", "Move": "C-MOVE"}.get(match.group(1), "C-FIND")


_BY_UID: dict[str, SOPClass] = {}
_BY_NAME: dict[str, UID] = {}


def _add(name: str, sop: SOPClass) -> None:
    _BY_UID.setdefault(str(sop), sop)
    _BY_NAME[name] = sop
    globals()[name] = sop


def _build() -> None:
    standard = {
        uid: entry[4]
        for uid, entry in UID_dictionary.items()
        if entry[1] in {"SOP Class", "Meta SOP Class"} and entry[4]
    }
    standard.update(_NEWER_THAN_PYDICOM)
    for uid, keyword in standard.items():
        service = _classify(keyword)
        _add(keyword, SOPClass(uid, service))
        message = _message_type(keyword) if sc.ServiceClass is not service else None
        if message is not None and "C-FIND" in service.dimse:
            QR_MESSAGE_TYPES[uid] = message
    for name, keyword in _PYNETDICOM_NAMES.items():
        _add(name, _BY_NAME[keyword])  # type: ignore[arg-type]
    for uid, entry in UID_dictionary.items():
        if entry[1] == "Well-known SOP Instance":
            _BY_NAME[entry[4]] = globals()[entry[4]] = UID(uid)


_build()
__all__.extend(sorted(_BY_NAME))


def uid_to_sop_class(uid: str) -> SOPClass:
    """The SOP class for ``uid``; an unknown UID belongs to the base ``ServiceClass``."""
    return _BY_UID.get(str(uid)) or SOPClass(uid)


def uid_to_service_class(uid: str) -> type[sc.ServiceClass]:
    """The service class of the SOP class ``uid`` (``ServiceClass`` when unknown)."""
    return uid_to_sop_class(uid).service_class


def register_uid(
    uid: str, keyword: str, service_class: type[sc.ServiceClass], dimse_msg_type: str = ""
) -> None:
    """Add a private (or not yet known) SOP class ``uid`` as ``keyword`` of ``service_class``.

    For the Query/Retrieve service class ``dimse_msg_type`` says which message the SOP class is
    used with (``"C-FIND"``, ``"C-GET"`` or ``"C-MOVE"``); other query classes use C-FIND.
    """
    if not keyword.isidentifier() or _keyword.iskeyword(keyword):
        raise ValueError(
            f"The keyword '{keyword}' is not a valid Python identifier or is a keyword"
        )
    if not isinstance(service_class, type):
        raise TypeError("'service_class' must be a class object not a class instance")
    if not issubclass(service_class, sc.ServiceClass):
        raise TypeError(
            "'service_class' must be a ServiceClass subclass such as StorageServiceClass"
        )
    if service_class is sc.QueryRetrieveServiceClass and dimse_msg_type not in _QR_TYPES:
        raise ValueError(
            "'dimse_msg_type' must be 'C-FIND', 'C-GET' or 'C-MOVE' when registering a UID "
            "with QueryRetrieveServiceClass"
        )
    sop = SOPClass(uid, service_class)
    _BY_UID[str(sop)] = sop
    _add(keyword, sop)
    if "C-FIND" in service_class.dimse:
        QR_MESSAGE_TYPES[str(sop)] = dimse_msg_type or "C-FIND"
    if keyword not in __all__:
        __all__.append(keyword)


def __getattr__(name: str) -> SOPClass:
    """The catalogue's names are module attributes; this only types them and reports typos."""
    raise AttributeError(f"module 'dicomnet.sop_class' has no SOP class {name!r}")
