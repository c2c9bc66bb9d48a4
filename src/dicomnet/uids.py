"""Well-known UIDs the protocol core needs, and dicomnet's own implementation identity."""

from __future__ import annotations

from typing import Final

__all__ = [
    "APPLICATION_CONTEXT_NAME",
    "DICOMNET_UID_ROOT",
    "EXPLICIT_VR_BIG_ENDIAN",
    "EXPLICIT_VR_LITTLE_ENDIAN",
    "IMPLEMENTATION_CLASS_UID",
    "IMPLEMENTATION_VERSION_NAME",
    "IMPLICIT_VR_LITTLE_ENDIAN",
    "VERIFICATION_SOP_CLASS",
]

#: The DICOM Application Context Name (PS3.7 Annex A.2.1).
APPLICATION_CONTEXT_NAME: Final = "1.2.840.10008.3.1.1.1"

#: dicomnet's UID root: ``2.25.`` followed by the integer value of
#: ``uuid.uuid5(uuid.NAMESPACE_DNS, "dicomnet.implementation")`` (PS3.5 B.2), so that no registered
#: organisational root is needed and the value can be re-derived by anyone.
DICOMNET_UID_ROOT: Final = "2.25.323882889438267103391118832784097193565"

#: Implementation Class UID sent in every A-ASSOCIATE-RQ/AC (PS3.7 D.3.3.2).
IMPLEMENTATION_CLASS_UID: Final = DICOMNET_UID_ROOT + ".1"

#: Implementation Version Name (at most 16 characters, PS3.7 D.3.3.2).
IMPLEMENTATION_VERSION_NAME: Final = "DICOMNET_010"

VERIFICATION_SOP_CLASS: Final = "1.2.840.10008.1.1"
IMPLICIT_VR_LITTLE_ENDIAN: Final = "1.2.840.10008.1.2"
EXPLICIT_VR_LITTLE_ENDIAN: Final = "1.2.840.10008.1.2.1"
EXPLICIT_VR_BIG_ENDIAN: Final = "1.2.840.10008.1.2.2"
