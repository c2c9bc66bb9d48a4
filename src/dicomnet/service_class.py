"""The DICOM service classes of PS3.4 as a catalogue: what each one is called, its service class
UID where PS3.4 defines one, its status table and the DIMSE services it uses.

These classes carry facts, not behaviour: the SCU and SCP behaviour of each service lives in
``dicomnet.services`` and is looked up by these classes. ``sop_class.uid_to_service_class`` maps a
SOP Class UID to one of them, as pynetdicom's does to its service classes.
"""

from __future__ import annotations

from typing import ClassVar

from dicomnet import status as _status

__all__ = [
    "SERVICE_CLASSES",
    "ApplicationEventLoggingServiceClass",
    "BasicWorklistManagementServiceClass",
    "ColorPaletteQueryRetrieveServiceClass",
    "DefinedProcedureProtocolQueryRetrieveServiceClass",
    "DisplaySystemManagementServiceClass",
    "HangingProtocolQueryRetrieveServiceClass",
    "ImplantTemplateQueryRetrieveServiceClass",
    "InstanceAvailabilityNotificationServiceClass",
    "InventoryQueryRetrieveServiceClass",
    "MediaCreationManagementServiceClass",
    "NonPatientObjectStorageServiceClass",
    "PrintManagementServiceClass",
    "ProcedureStepServiceClass",
    "ProtocolApprovalQueryRetrieveServiceClass",
    "QueryRetrieveServiceClass",
    "RTMachineVerificationServiceClass",
    "RelevantPatientInformationQueryServiceClass",
    "ServiceClass",
    "StorageCommitmentServiceClass",
    "StorageManagementServiceClass",
    "StorageServiceClass",
    "SubstanceAdministrationQueryServiceClass",
    "UnifiedProcedureStepServiceClass",
    "VerificationServiceClass",
]

StatusTable = dict[int, tuple[str, str]]

_QR_STATUSES: StatusTable = {
    **_status.QR_FIND_SERVICE_CLASS_STATUS,
    **_status.QR_GET_SERVICE_CLASS_STATUS,
    **_status.QR_MOVE_SERVICE_CLASS_STATUS,
}
_QR = frozenset({"C-FIND", "C-GET", "C-MOVE", "C-CANCEL"})
_FIND = frozenset({"C-FIND", "C-CANCEL"})


class ServiceClass:
    """A service class of PS3.4. The base also stands for SOP classes with no DIMSE service class
    of their own (the Media Storage Directory, retired management classes, real-time video)."""

    #: The name PS3.4 gives the service class.
    name: ClassVar[str] = "Service Class"
    #: The Service Class UID, for the classes PS3.4 gives one (used in SOP Class Common Extended
    #: Negotiation).
    uid: ClassVar[str | None] = None
    #: Status codes the class may answer with: {code: (category, description)}.
    statuses: ClassVar[StatusTable] = _status.GENERAL_STATUS
    #: The DIMSE services its SOP classes use.
    dimse: ClassVar[frozenset[str]] = frozenset()


class VerificationServiceClass(ServiceClass):
    """PS3.4 Annex A."""

    name = "Verification Service Class"
    statuses = _status.VERIFICATION_SERVICE_CLASS_STATUS
    dimse = frozenset({"C-ECHO"})


class StorageServiceClass(ServiceClass):
    """PS3.4 Annex B."""

    name = "Storage Service Class"
    uid = "1.2.840.10008.4.2"
    statuses = _status.STORAGE_SERVICE_CLASS_STATUS
    dimse = frozenset({"C-STORE"})


class QueryRetrieveServiceClass(ServiceClass):
    """PS3.4 Annexes C, Y and Z (Query/Retrieve, Composite Instance Root and Without Bulk Data)."""

    name = "Query/Retrieve Service Class"
    statuses = _QR_STATUSES
    dimse = _QR


class ProcedureStepServiceClass(ServiceClass):
    """PS3.4 Annex F (Modality Performed Procedure Step and its notification and retrieve)."""

    name = "Procedure Step SOP Classes"
    statuses = _status.PROCEDURE_STEP_STATUS
    dimse = frozenset({"N-CREATE", "N-SET", "N-GET", "N-EVENT-REPORT"})


class PrintManagementServiceClass(ServiceClass):
    """PS3.4 Annex H."""

    name = "Print Management Service Class"
    statuses = _status.PRINT_JOB_MANAGEMENT_SERVICE_CLASS_STATUS
    dimse = frozenset({"N-CREATE", "N-SET", "N-GET", "N-ACTION", "N-DELETE", "N-EVENT-REPORT"})


class StorageCommitmentServiceClass(ServiceClass):
    """PS3.4 Annex J."""

    name = "Storage Commitment Service Class"
    statuses = _status.STORAGE_COMMITMENT_SERVICE_CLASS_STATUS
    dimse = frozenset({"N-ACTION", "N-EVENT-REPORT"})


class BasicWorklistManagementServiceClass(ServiceClass):
    """PS3.4 Annex K (Modality Worklist)."""

    name = "Basic Worklist Management Service Class"
    statuses = _status.MODALITY_WORKLIST_SERVICE_CLASS_STATUS
    dimse = _FIND


class ApplicationEventLoggingServiceClass(ServiceClass):
    """PS3.4 Annex P."""

    name = "Application Event Logging Service Class"
    statuses = _status.APPLICATION_EVENT_LOGGING_SERVICE_CLASS_STATUS
    dimse = frozenset({"N-ACTION"})


class RelevantPatientInformationQueryServiceClass(ServiceClass):
    """PS3.4 Annex Q."""

    name = "Relevant Patient Information Query Service Class"
    statuses = _status.RELEVANT_PATIENT_SERVICE_CLASS_STATUS
    dimse = _FIND


class InstanceAvailabilityNotificationServiceClass(ServiceClass):
    """PS3.4 Annex R."""

    name = "Instance Availability Notification Service Class"
    dimse = frozenset({"N-CREATE"})


class MediaCreationManagementServiceClass(ServiceClass):
    """PS3.4 Annex S."""

    name = "Media Creation Management Service Class"
    statuses = _status.MEDIA_CREATION_MANAGEMENT_SERVICE_CLASS_STATUS
    dimse = frozenset({"N-CREATE", "N-ACTION", "N-GET"})


class _NonPatientQueryRetrieve(ServiceClass):
    """What the query/retrieve classes for non-patient objects share."""

    statuses = _status.NON_PATIENT_SERVICE_CLASS_STATUS
    dimse = _QR


class HangingProtocolQueryRetrieveServiceClass(_NonPatientQueryRetrieve):
    """PS3.4 Annex U."""

    name = "Hanging Protocol Query/Retrieve Service Class"


class SubstanceAdministrationQueryServiceClass(ServiceClass):
    """PS3.4 Annex V."""

    name = "Substance Administration Query Service Class"
    statuses = _status.SUBSTANCE_ADMINISTRATION_SERVICE_CLASS_STATUS
    dimse = _FIND


class NonPatientObjectStorageServiceClass(ServiceClass):
    """PS3.4 Annex GG."""

    name = "Non-Patient Object Storage Service Class"
    statuses = _status.NON_PATIENT_SERVICE_CLASS_STATUS
    dimse = frozenset({"C-STORE"})


class ColorPaletteQueryRetrieveServiceClass(_NonPatientQueryRetrieve):
    """PS3.4 Annex X."""

    name = "Color Palette Query/Retrieve Service Class"


class ImplantTemplateQueryRetrieveServiceClass(_NonPatientQueryRetrieve):
    """PS3.4 Annex BB."""

    name = "Implant Template Query/Retrieve Service Class"


class UnifiedProcedureStepServiceClass(ServiceClass):
    """PS3.4 Annex CC."""

    name = "Unified Procedure Step Service Class"
    uid = "1.2.840.10008.5.1.4.34.6"
    statuses = _status.UNIFIED_PROCEDURE_STEP_SERVICE_CLASS_STATUS
    dimse = frozenset({"N-CREATE", "N-SET", "N-GET", "N-ACTION", "N-EVENT-REPORT", "C-FIND"})


class RTMachineVerificationServiceClass(ServiceClass):
    """PS3.4 Annex DD."""

    name = "RT Machine Verification Service Class"
    statuses = _status.RT_MACHINE_VERIFICATION_SERVICE_CLASS_STATUS
    dimse = frozenset({"N-CREATE", "N-SET", "N-GET", "N-ACTION", "N-DELETE", "N-EVENT-REPORT"})


class DisplaySystemManagementServiceClass(ServiceClass):
    """PS3.4 Annex EE."""

    name = "Display System Management Service Class"
    dimse = frozenset({"N-GET"})


class DefinedProcedureProtocolQueryRetrieveServiceClass(_NonPatientQueryRetrieve):
    """PS3.4 Annex HH."""

    name = "Defined Procedure Protocol Query/Retrieve Service Class"


class ProtocolApprovalQueryRetrieveServiceClass(_NonPatientQueryRetrieve):
    """PS3.4 Annex II."""

    name = "Protocol Approval Query/Retrieve Service Class"


class StorageManagementServiceClass(ServiceClass):
    """PS3.4 Annex KK (Inventory Creation)."""

    name = "Storage Management Service Class"
    statuses = _status.STORAGE_MANAGEMENT_SERVICE_CLASS_STATUS
    dimse = frozenset({"N-ACTION", "N-GET", "N-EVENT-REPORT"})


class InventoryQueryRetrieveServiceClass(_NonPatientQueryRetrieve):
    """PS3.4 Annex JJ."""

    name = "Inventory Query/Retrieve Service Class"


#: Every service class, the base included.
SERVICE_CLASSES: tuple[type[ServiceClass], ...] = (
    ServiceClass,
    VerificationServiceClass,
    StorageServiceClass,
    QueryRetrieveServiceClass,
    ProcedureStepServiceClass,
    PrintManagementServiceClass,
    StorageCommitmentServiceClass,
    BasicWorklistManagementServiceClass,
    ApplicationEventLoggingServiceClass,
    RelevantPatientInformationQueryServiceClass,
    InstanceAvailabilityNotificationServiceClass,
    MediaCreationManagementServiceClass,
    HangingProtocolQueryRetrieveServiceClass,
    SubstanceAdministrationQueryServiceClass,
    NonPatientObjectStorageServiceClass,
    ColorPaletteQueryRetrieveServiceClass,
    ImplantTemplateQueryRetrieveServiceClass,
    UnifiedProcedureStepServiceClass,
    RTMachineVerificationServiceClass,
    DisplaySystemManagementServiceClass,
    DefinedProcedureProtocolQueryRetrieveServiceClass,
    ProtocolApprovalQueryRetrieveServiceClass,
    StorageManagementServiceClass,
    InventoryQueryRetrieveServiceClass,
)
