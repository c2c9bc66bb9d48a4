"""Pending Storage Commitment requests in the index (PS3.4 J), surviving a restart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dicomnet.archive.schema import Commitment, Instance
from dicomnet.services.commitment import CLASS_INSTANCE_CONFLICT, NO_SUCH_OBJECT_INSTANCE

__all__ = ["Outcome", "PendingCommitment", "add", "check", "finish", "pending"]


@dataclass(frozen=True)
class PendingCommitment:
    """A commitment whose N-EVENT-REPORT is still to be delivered."""

    transaction_uid: str
    requestor_ae_title: str
    references: list[tuple[str, str]]
    created_at: datetime


@dataclass(frozen=True)
class Outcome:
    """Committed references, and failed ones with their Failure Reason."""

    success: list[tuple[str, str]]
    failed: list[tuple[str, str, int]]


def add(
    session: Session, transaction_uid: str, requestor: str, references: list[tuple[str, str]]
) -> bool:
    """Insert a pending commitment; False if the Transaction UID is known."""
    if session.get(Commitment, transaction_uid) is not None:
        return False
    session.add(
        Commitment(
            transaction_uid=transaction_uid,
            requestor_ae_title=requestor,
            references=[list(pair) for pair in references],
            state="pending",
            created_at=datetime.now(UTC),
        )
    )
    return True


def pending(session: Session) -> list[PendingCommitment]:
    """Pending commitments, oldest first."""
    query = select(Commitment).where(Commitment.state == "pending").order_by(Commitment.created_at)
    return [
        PendingCommitment(
            row.transaction_uid,
            row.requestor_ae_title,
            [(str(pair[0]), str(pair[1])) for pair in row.references],
            row.created_at,
        )
        for row in session.scalars(query)
    ]


def check(session: Session, references: list[tuple[str, str]]) -> Outcome:
    """Compare the references with the durable index."""
    uids = [uid for _, uid in references]
    query = select(Instance.sop_instance_uid, Instance.sop_class_uid)
    rows = session.execute(query.where(Instance.sop_instance_uid.in_(uids)))
    known = {uid: sop_class for uid, sop_class in rows}
    success: list[tuple[str, str]] = []
    failed: list[tuple[str, str, int]] = []
    for sop_class, uid in references:
        if uid not in known:
            failed.append((sop_class, uid, NO_SUCH_OBJECT_INSTANCE))
        elif known[uid] != sop_class:
            failed.append((sop_class, uid, CLASS_INSTANCE_CONFLICT))
        else:
            success.append((sop_class, uid))
    return Outcome(success, failed)


def finish(session: Session, transaction_uid: str) -> None:
    """Mark a commitment done."""
    row = session.get(Commitment, transaction_uid)
    if row is not None:
        row.state = "done"
