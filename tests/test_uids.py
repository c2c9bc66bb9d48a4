"""dicomnet's implementation identity is derived as the README says and is valid on the wire."""

from __future__ import annotations

import uuid

from dicomnet import uids
from dicomnet._bytes import encode_uid


def test_uid_root_is_derived_from_uuid5() -> None:
    expected = uuid.uuid5(uuid.NAMESPACE_DNS, "dicomnet.implementation").int
    assert uids.DICOMNET_UID_ROOT == f"2.25.{expected}"
    assert uids.IMPLEMENTATION_CLASS_UID.startswith(uids.DICOMNET_UID_ROOT + ".")


def test_identity_fits_the_wire() -> None:
    assert encode_uid(uids.IMPLEMENTATION_CLASS_UID) == uids.IMPLEMENTATION_CLASS_UID.encode()
    assert 1 <= len(uids.IMPLEMENTATION_VERSION_NAME) <= 16
    for name in dir(uids):
        value = getattr(uids, name)
        if name.isupper() and name != "IMPLEMENTATION_VERSION_NAME":
            encode_uid(value)
