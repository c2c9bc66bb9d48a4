"""``dicomnet.sop_class`` and ``dicomnet.service_class``, pinned against pynetdicom and pydicom."""

from __future__ import annotations

import pynetdicom.service_class
import pynetdicom.service_class_n
import pynetdicom.sop_class as theirs
import pytest
from pydicom._uid_dict import UID_dictionary
from pydicom.uid import UID

from dicomnet import service_class as sc
from dicomnet import sop_class

THEIR_NAMES = sorted(n for n in dir(theirs) if isinstance(getattr(theirs, n), theirs.SOPClass))
THEIR_INSTANCES = sorted(
    n
    for n in dir(theirs)
    if n.endswith("Instance") and isinstance(getattr(theirs, n), UID)
    and not isinstance(getattr(theirs, n), theirs.SOPClass)
)  # fmt: skip


def test_pynetdicom_has_the_names_we_pin() -> None:
    assert len(THEIR_NAMES) == 252
    assert len(THEIR_INSTANCES) == 9


@pytest.mark.parametrize("name", THEIR_NAMES)
def test_every_pynetdicom_sop_class(name: str) -> None:
    ours = getattr(sop_class, name)
    assert isinstance(ours, sop_class.SOPClass)
    assert isinstance(ours, UID)
    assert ours == getattr(theirs, name)
    assert ours.service_class.__name__ == getattr(theirs, name).service_class.__name__
    assert name in sop_class.__all__


@pytest.mark.parametrize("name", THEIR_INSTANCES)
def test_every_pynetdicom_well_known_instance(name: str) -> None:
    assert getattr(sop_class, name) == getattr(theirs, name)
    assert name in sop_class.__all__


def test_every_sop_class_of_pydicoms_dictionary() -> None:
    for uid, entry in UID_dictionary.items():
        if entry[1] in {"SOP Class", "Meta SOP Class"} and entry[4]:
            ours = getattr(sop_class, entry[4])
            assert ours == uid
            assert sop_class.uid_to_sop_class(uid) is ours


def test_the_catalogue_is_more_than_pynetdicoms() -> None:
    ours = {str(v) for v in vars(sop_class).values() if isinstance(v, sop_class.SOPClass)}
    assert {str(getattr(theirs, n)) for n in THEIR_NAMES} < ours


@pytest.mark.parametrize(
    ("name", "service"),
    [
        ("CTImageStorage", sc.StorageServiceClass),
        ("DICOSCTImageStorage", sc.StorageServiceClass),
        ("TextSRStorageTrial", sc.StorageServiceClass),
        ("UltrasoundImageStorageRetired", sc.StorageServiceClass),
        ("StorageCommitmentPullModel", sc.StorageCommitmentServiceClass),
        ("UnifiedProcedureStepPushTrial", sc.UnifiedProcedureStepServiceClass),
        ("RTIonMachineVerificationTrial", sc.RTMachineVerificationServiceClass),
        ("VOILUTBox", sc.PrintManagementServiceClass),
        ("PullStoredPrintManagementMeta", sc.PrintManagementServiceClass),
        ("DetachedPatientManagement", sc.ServiceClass),
        ("VideoEndoscopicImageRealTimeCommunication", sc.ServiceClass),
        ("MediaStorageDirectoryStorage", sc.ServiceClass),
    ],
)
def test_sop_classes_pynetdicom_lacks_are_classified(name: str, service: type) -> None:
    assert getattr(sop_class, name).service_class is service


def test_lookups() -> None:
    assert sop_class.uid_to_sop_class("1.2.840.10008.5.1.4.1.1.2") is sop_class.CTImageStorage
    assert sop_class.uid_to_service_class("1.2.840.10008.1.1") is sc.VerificationServiceClass
    unknown = sop_class.uid_to_sop_class("1.2.3.4")
    assert unknown == "1.2.3.4"
    assert unknown.service_class is sc.ServiceClass
    assert sop_class.uid_to_service_class(UID("1.2.3.4")) is sc.ServiceClass
    assert sop_class.CTImageStorage.name == "CT Image Storage"  # still a pydicom UID


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no SOP class 'CTImageStorge'"):
        _ = sop_class.CTImageStorge


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("PatientRootQueryRetrieveInformationModelFind", "C-FIND"),
        ("StudyRootQueryRetrieveInformationModelGet", "C-GET"),
        ("StudyRootQueryRetrieveInformationModelMove", "C-MOVE"),
        ("CompositeInstanceRetrieveWithoutBulkDataGet", "C-GET"),
        ("RepositoryQuery", "C-FIND"),
        ("ModalityWorklistInformationModelFind", "C-FIND"),
        ("GeneralRelevantPatientInformationQuery", "C-FIND"),
        ("HangingProtocolInformationModelMove", "C-MOVE"),
        ("InventoryGet", "C-GET"),
        ("UnifiedProcedureStepQuery", "C-FIND"),
    ],
)
def test_query_retrieve_message_types(name: str, message: str) -> None:
    assert sop_class.QR_MESSAGE_TYPES[getattr(sop_class, name)] == message


def test_no_message_type_for_other_classes() -> None:
    assert sop_class.CTImageStorage not in sop_class.QR_MESSAGE_TYPES
    assert sop_class.UnifiedProcedureStepPush not in sop_class.QR_MESSAGE_TYPES


def test_register_uid() -> None:
    sop_class.register_uid("1.2.246.352.70.1.70", "VarianRTPlanStorage", sc.StorageServiceClass)
    registered = sop_class.VarianRTPlanStorage
    assert registered == "1.2.246.352.70.1.70"
    assert sop_class.uid_to_service_class("1.2.246.352.70.1.70") is sc.StorageServiceClass
    assert "VarianRTPlanStorage" in sop_class.__all__
    sop_class.register_uid(
        "1.2.3.999.1", "PrivateFind", sc.QueryRetrieveServiceClass, dimse_msg_type="C-MOVE"
    )
    assert sop_class.QR_MESSAGE_TYPES["1.2.3.999.1"] == "C-MOVE"
    sop_class.register_uid("1.2.3.999.2", "PrivateWorklist", sc.BasicWorklistManagementServiceClass)
    assert sop_class.QR_MESSAGE_TYPES["1.2.3.999.2"] == "C-FIND"


@pytest.mark.parametrize("keyword", ["1Bad", "has space", "class", ""])
def test_register_uid_refuses_bad_keywords(keyword: str) -> None:
    with pytest.raises(ValueError, match="not a valid Python identifier"):
        sop_class.register_uid("1.2.3.4.5", keyword, sc.StorageServiceClass)


def test_register_uid_refuses_bad_service_classes() -> None:
    with pytest.raises(TypeError, match="class object"):
        sop_class.register_uid("1.2.3.4.5", "Foo", sc.StorageServiceClass())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ServiceClass subclass"):
        sop_class.register_uid("1.2.3.4.5", "Foo", int)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dimse_msg_type"):
        sop_class.register_uid("1.2.3.4.5", "Foo", sc.QueryRetrieveServiceClass)
    assert not hasattr(sop_class, "Foo")


THEIR_SERVICE_CLASSES = sorted({getattr(theirs, n).service_class.__name__ for n in THEIR_NAMES})


@pytest.mark.parametrize("name", THEIR_SERVICE_CLASSES)
def test_every_pynetdicom_service_class_name(name: str) -> None:
    ours = getattr(sc, name)
    assert issubclass(ours, sc.ServiceClass)
    assert ours in sc.SERVICE_CLASSES
    assert name in sc.__all__
    assert hasattr(pynetdicom.service_class, name) or hasattr(pynetdicom.service_class_n, name)


def test_service_class_facts() -> None:
    service_uids = {v[4]: k for k, v in UID_dictionary.items() if v[1] == "Service Class"}
    assert sc.StorageServiceClass.uid == service_uids["Storage"]
    assert (
        sc.UnifiedProcedureStepServiceClass.uid == service_uids["UnifiedWorklistAndProcedureStep"]
    )
    for cls in sc.SERVICE_CLASSES:
        assert cls.name
        assert cls.statuses[0x0000][0] == "Success"
        assert (cls is sc.ServiceClass) == (not cls.dimse)
    assert sc.StorageServiceClass.statuses[0xA700][0] == "Failure"
    assert sc.QueryRetrieveServiceClass.statuses[0xA801][0] == "Failure"
    assert sc.QueryRetrieveServiceClass.dimse == {"C-FIND", "C-GET", "C-MOVE", "C-CANCEL"}


def test_registering_again_replaces_and_lists_the_name_once() -> None:
    sop_class.register_uid("1.2.3.999.3", "PrivateTwice", sc.StorageServiceClass)
    sop_class.register_uid("1.2.3.999.4", "PrivateTwice", sc.StorageServiceClass)
    assert sop_class.PrivateTwice == "1.2.3.999.4"
    assert sop_class.__all__.count("PrivateTwice") == 1
