"""``AE.store_check_sop_uids``: a data set whose SOP UIDs are not its command's is refused before
the handler runs (0xA900; none at all: 0xC000), in memory and in chunked mode."""

from __future__ import annotations

from typing import Any

import pytest
from pydicom.dataset import Dataset

from dicomnet.dimse.messages import CStoreRQ, CStoreRSP
from tests.services.store_support import CT, EXPLICIT, Stations, ct_dataset, encode

INSTANCE = "1.2.826.0.1.3680043.10.999.7.1"


def _send(stations: Stations, dataset: Dataset, *, command_instance: str, **scp: Any) -> Any:
    seen: list[str] = []

    def handler(event: Any) -> int:
        seen.append(event.request.AffectedSOPInstanceUID)
        return 0x0000

    station = stations.scp(handler, ((CT, [EXPLICIT]),), **scp)
    assoc = stations.scu(station, ((CT, [EXPLICIT]),))
    (context,) = assoc.accepted_contexts
    assert context.context_id is not None
    request = CStoreRQ(
        message_id=3, affected_sop_class_uid=CT, affected_sop_instance_uid=command_instance
    )
    response = assoc.send_request(context.context_id, request, encode(dataset, EXPLICIT))
    assert isinstance(response, CStoreRSP)
    assert assoc.send_c_store(ct_dataset(INSTANCE)).Status == 0x0000  # still usable
    assoc.release()
    files = [] if station.directory is None else list(station.directory.iterdir())
    return response, seen, files


@pytest.mark.parametrize("chunked", [None, "ae"])
@pytest.mark.parametrize(
    ("dataset", "command_instance", "status"),
    [
        (ct_dataset(INSTANCE), INSTANCE, 0x0000),
        (ct_dataset(INSTANCE), "1.2.3.4", 0xA900),
        (ct_dataset(INSTANCE, SOPClassUID="1.2.840.10008.5.1.4.1.1.4"), INSTANCE, 0xA900),
        (ct_dataset(INSTANCE, SOPInstanceUID=None), INSTANCE, 0xC000),
    ],
)
def test_the_data_sets_uids_must_be_the_commands(
    stations: Stations, chunked: str | None, dataset: Dataset, command_instance: str, status: int
) -> None:
    if "SOPInstanceUID" in dataset and dataset.SOPInstanceUID is None:
        del dataset.SOPInstanceUID
    response, seen, files = _send(
        stations,
        dataset,
        command_instance=command_instance,
        chunked=chunked,
        store_check_sop_uids=True,
    )
    assert response.status == status
    if status:
        assert response.error_comment
        assert seen == [INSTANCE]  # only the good store that followed reached the handler
    else:
        assert seen == [INSTANCE, INSTANCE]
    assert files == []  # no file left behind either way


def test_without_the_check_the_handler_judges(stations: Stations) -> None:
    response, seen, _ = _send(stations, ct_dataset(INSTANCE), command_instance="1.2.3.4")
    assert response.status == 0x0000
    assert seen == ["1.2.3.4", INSTANCE]


def test_uids_beyond_the_kept_start_are_not_refused(stations: Stations) -> None:
    """Chunked mode keeps the data set's first 8 KiB: UIDs after a longer element before them
    cannot be seen there, and the data set goes to the handler rather than being refused."""
    dataset = ct_dataset(INSTANCE)
    dataset.SpecificCharacterSet = "ISO_IR 100"
    dataset.add_new(0x00070010, "LO", "dicomnet test")  # a private block sorted before them
    dataset.add_new(0x00071000, "OB", b"\x00" * 20000)
    response, seen, _ = _send(
        stations, dataset, command_instance="1.2.3.4", chunked="ae", store_check_sop_uids=True
    )
    assert response.status == 0x0000
    assert seen == ["1.2.3.4", INSTANCE]


def test_a_chunked_data_set_over_its_cap_is_refused(stations: Stations) -> None:
    """``AE.maximum_chunked_dataset_size``: past it the rest is skipped, 0xA700, no file left,
    and the association goes on."""
    big = ct_dataset("1.2.826.0.1.3680043.10.999.7.2")
    big.add_new(0x00091010, "OB", b"\x00" * 40000)
    response, seen, files = _send(
        stations,
        big,
        command_instance="1.2.826.0.1.3680043.10.999.7.2",
        chunked="ae",
        maximum_chunked_dataset_size=20000,
    )
    assert response.status == 0xA700
    assert "limit" in response.error_comment
    assert seen == [INSTANCE]  # only the small store that followed
    assert files == []
