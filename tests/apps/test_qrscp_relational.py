"""``dicomnet qrscp`` as a process: relational queries, combined date-time matching and relational
retrieval only when negotiated by SOP Class Extended Negotiation (dicomnet and pynetdicom SCUs),
and sequence keys answered as empty sequences."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pynetdicom
import pytest
from pydicom.dataset import Dataset
from pynetdicom.pdu_primitives import (
    SOPClassExtendedNegotiation as PynetdicomExtendedNegotiation,
)

from dicomnet import AE, build_role, evt
from dicomnet.pdu_primitives import SOPClassExtendedNegotiation
from tests.apps.qrscp_support import (
    ARCHIVE_AET,
    CT_SERIES,
    CT_STUDY,
    ct_study_extras,
    qrscp,
    remove_tree,
    store,
)
from tests.apps.test_echo_apps import HOST, Server
from tests.apps.test_store_interop import sample

pytestmark = pytest.mark.interop

STUDY_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
STUDY_GET = "1.2.840.10008.5.1.4.1.2.2.3"
PATIENT_FIND = "1.2.840.10008.5.1.4.1.2.1.1"
CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
CT_SOP = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"
PENDING = (0xFF00, 0xFF01)
IDENTIFIER_MISMATCH = 0xA900


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """CT_small's study (3 instances, modalities CT and OT) and MR_small's."""
    work = tmp_path_factory.mktemp("qrscp-relational")
    try:
        with qrscp(work, work / "archive") as server:
            store(server.port, sample("CT_small.dcm"), sample("MR_small.dcm"),
                  *ct_study_extras(work / "src"))  # fmt: skip
            yield server
    finally:
        remove_tree(work)


def identifier(level: str, **keys: object) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return ds


def extended(uid: str, info: bytes) -> SOPClassExtendedNegotiation:
    return SOPClassExtendedNegotiation(uid, info)


def dicomnet_find(
    port: int, query: Dataset, ext_neg: list[Any] | None = None, model: str = STUDY_FIND
) -> tuple[list[Dataset], int, dict[str, bytes]]:
    """(matches, final status, what the archive accepted) of one C-FIND by a dicomnet SCU."""
    ae = AE(ae_title="RELSCU")
    ae.add_requested_context(model)
    assoc = ae.associate(HOST, port, ae_title=ARCHIVE_AET, ext_neg=ext_neg)
    assert assoc.is_established
    try:
        accepted = dict(assoc.acceptor.sop_class_extended)
        found: list[Dataset] = []
        final = -1
        for status, match in assoc.send_c_find(query, model):
            if status.Status in PENDING:
                assert match is not None
                found.append(match)
            else:
                final = int(status.Status)
    finally:
        assoc.release()
    return found, final, accepted


def pynetdicom_find(
    port: int, query: Dataset, relational: bool
) -> tuple[list[Dataset], int, dict[str, bytes]]:
    ae = pynetdicom.AE(ae_title="PYRELSCU")
    ae.add_requested_context(STUDY_FIND)
    ext_neg: list[Any] = []
    if relational:
        item = PynetdicomExtendedNegotiation()
        item.sop_class_uid = STUDY_FIND
        item.service_class_application_information = b"\x01"
        ext_neg.append(item)
    assoc = ae.associate(HOST, port, ae_title=ARCHIVE_AET, ext_neg=ext_neg)
    assert assoc.is_established
    try:
        accepted = dict(assoc.acceptor.sop_class_extended)
        found: list[Dataset] = []
        final = -1
        for status, match in assoc.send_c_find(query, STUDY_FIND):
            if status.Status in PENDING:
                assert match is not None
                found.append(match)
            else:
                final = int(status.Status)
    finally:
        assoc.release()
    return found, final, {str(uid): info for uid, info in accepted.items()}


def series_by_modality() -> Dataset:
    """A SERIES query matching on a study key that is not its unique key: relational only."""
    return identifier("SERIES", StudyDate="20040119", Modality="CT", SeriesInstanceUID="")


# -- relational queries --------------------------------------------------------------------


def test_dicomnet_relational_query_needs_the_negotiation(archive: Server) -> None:
    found, final, accepted = dicomnet_find(archive.port, series_by_modality())
    assert (found, final, accepted) == ([], IDENTIFIER_MISMATCH, {})
    ext_neg = [extended(STUDY_FIND, b"\x01")]
    found, final, accepted = dicomnet_find(archive.port, series_by_modality(), ext_neg)
    assert final == 0x0000
    assert accepted == {STUDY_FIND: b"\x01"}
    assert [(ds.SeriesInstanceUID, ds.StudyDate) for ds in found] == [(CT_SERIES, "20040119")]


def test_negotiation_for_another_sop_class_does_not_count(archive: Server) -> None:
    ext_neg = [extended(PATIENT_FIND, b"\x01")]  # not the class the query uses
    found, final, _ = dicomnet_find(archive.port, series_by_modality(), ext_neg)
    assert (found, final) == ([], IDENTIFIER_MISMATCH)


def test_declined_relational_byte_stays_hierarchical(archive: Server) -> None:
    ext_neg = [extended(STUDY_FIND, b"\x00\x01")]
    found, final, accepted = dicomnet_find(archive.port, series_by_modality(), ext_neg)
    assert accepted == {STUDY_FIND: b"\x00\x01"}
    assert (found, final) == ([], IDENTIFIER_MISMATCH)


def test_hierarchical_query_still_answers_with_the_negotiation(archive: Server) -> None:
    query = identifier("SERIES", StudyInstanceUID=CT_STUDY, SeriesInstanceUID="", Modality="")
    for ext_neg in (None, [extended(STUDY_FIND, b"\x01\x01")]):
        found, final, _ = dicomnet_find(archive.port, query, ext_neg)
        assert final == 0x0000
        assert sorted(ds.Modality for ds in found) == ["CT", "OT"]


@pytest.mark.parametrize("relational", [False, True])
def test_pynetdicom_relational_query(archive: Server, relational: bool) -> None:
    found, final, accepted = pynetdicom_find(archive.port, series_by_modality(), relational)
    if relational:
        assert accepted == {STUDY_FIND: b"\x01"}
        assert final == 0x0000
        assert [ds.SeriesInstanceUID for ds in found] == [CT_SERIES]
    else:
        assert accepted == {}
        assert (found, final) == ([], IDENTIFIER_MISMATCH)


# -- combined date-time matching -----------------------------------------------------------


def test_combined_datetime_matching_when_negotiated(archive: Server) -> None:
    """CT_small's study was on 2004-01-19 at 07:27:30: inside 2004-01-18 08:00 onwards to the
    end of the 19th as one DateTime range, outside it as separate date and time ranges."""
    query = identifier(
        "STUDY", StudyDate="20040118-20040119", StudyTime="0800-", StudyInstanceUID=""
    )
    found, final, _ = dicomnet_find(archive.port, query)
    assert (found, final) == ([], 0x0000)
    ext_neg = [extended(STUDY_FIND, b"\x00\x01")]
    found, final, accepted = dicomnet_find(archive.port, query, ext_neg)
    assert accepted == {STUDY_FIND: b"\x00\x01"}
    assert final == 0x0000
    assert [ds.StudyInstanceUID for ds in found] == [CT_STUDY]


# -- relational retrieval ------------------------------------------------------------------


def dicomnet_get(port: int, query: Dataset, ext_neg: list[Any] | None) -> tuple[list[str], int]:
    """(SOP Instance UIDs received, final status) of a C-GET by a dicomnet SCU."""
    received: list[str] = []

    def on_store(event: Any) -> int:
        received.append(str(event.dataset.SOPInstanceUID))
        return 0x0000

    ae = AE(ae_title="RELGET")
    ae.add_requested_context(STUDY_GET)
    ae.add_requested_context(CT_STORAGE)
    assoc = ae.associate(
        HOST, port, ae_title=ARCHIVE_AET, ext_neg=[build_role(CT_STORAGE, scp_role=True),
        *(ext_neg or [])], evt_handlers=[(evt.EVT_C_STORE, on_store)],
    )  # fmt: skip
    assert assoc.is_established
    final = -1
    try:
        for status, _ in assoc.send_c_get(query, STUDY_GET):
            if status.Status not in PENDING:
                final = int(status.Status)
    finally:
        assoc.release()
    return received, final


def test_relational_retrieval_needs_the_negotiation(archive: Server) -> None:
    query = identifier("IMAGE", PatientID="1CT1", SOPInstanceUID=CT_SOP)  # not a unique key
    received, final = dicomnet_get(archive.port, query, None)
    assert received == []
    assert final == IDENTIFIER_MISMATCH
    received, final = dicomnet_get(archive.port, query, [extended(STUDY_GET, b"\x01")])
    assert (received, final) == ([CT_SOP], 0x0000)


# -- sequence keys -------------------------------------------------------------------------


def test_sequence_keys_come_back_empty(archive: Server) -> None:
    query = identifier("STUDY", StudyInstanceUID=CT_STUDY)
    query.ReferencedStudySequence = []
    item = Dataset()
    item.CodeValue = ""
    item.CodingSchemeDesignator = ""
    query.ProcedureCodeSequence = [item]
    found, final, _ = dicomnet_find(archive.port, query)
    assert final == 0x0000
    (match,) = found
    assert len(match.ReferencedStudySequence) == 0
    assert len(match.ProcedureCodeSequence) == 0


def test_sequence_key_with_two_items_is_refused(archive: Server) -> None:
    query = identifier("STUDY", StudyInstanceUID="")
    query.ProcedureCodeSequence = [Dataset(), Dataset()]
    found, final, _ = dicomnet_find(archive.port, query)
    assert (found, final) == ([], IDENTIFIER_MISMATCH)
