"""UIDs and builders shared by the negotiation tests."""

from __future__ import annotations

from dicomnet.pdu import PresentationContextRQ

VERIFICATION = "1.2.840.10008.1.1"
CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
IMPLICIT = "1.2.840.10008.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
BIG_ENDIAN = "1.2.840.10008.1.2.2"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"


def pc(context_id: int, abstract_syntax: str, *transfer_syntaxes: str) -> PresentationContextRQ:
    """A proposed presentation context."""
    return PresentationContextRQ(
        context_id=context_id,
        abstract_syntax=abstract_syntax,
        transfer_syntaxes=transfer_syntaxes,
    )
