"""The compatibility test: pynetdicom's public surface, one name per test case, found in dicomnet.

Everything is read from the *installed* pynetdicom, so a new pynetdicom release that adds a name
shows up here as a failing case. dicomnet modules are imported inside the tests (``_ours``), so a
module that does not exist yet fails only its own cases, with a message saying so, never the
collection of this file.

Scope so far: the top level, ``sop_class``, ``status``, ``evt``/``events``, the context lists,
``_config``, ``dimse_primitives``, the signatures of ``AE`` and of ``Association`` for what exists
(``LATER_ISSUES`` lists the rest; the DIMSE-N ``send_n_*`` exactly as pynetdicom's), and the server
returned by ``start_server(block=False)``.
"""

from __future__ import annotations

import importlib
import inspect
import re
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from io import BytesIO
from types import ModuleType
from typing import Any

import pynetdicom
import pynetdicom._config
import pynetdicom.dimse_primitives
import pynetdicom.events
import pynetdicom.presentation
import pynetdicom.sop_class
import pynetdicom.status
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.uid import UID
from pynetdicom.ae import ApplicationEntity as TheirAE
from pynetdicom.association import Association as TheirAssociation

VERIFICATION = "1.2.840.10008.1.1"

# pynetdicom's own identity is not mirrored: dicomnet is a different implementation and must not
# announce pynetdicom's Implementation Class UID. The equivalents live in dicomnet.uids:
OWN_IDENTITY = {
    "PYNETDICOM_UID_PREFIX": "DICOMNET_UID_ROOT",
    "PYNETDICOM_IMPLEMENTATION_UID": "IMPLEMENTATION_CLASS_UID",
    "PYNETDICOM_IMPLEMENTATION_VERSION": "IMPLEMENTATION_VERSION_NAME",
}
TOP_LEVEL = sorted(
    (
        set(pynetdicom.__all__)
        | {"AE", "Association", "evt", "build_context", "build_role", "register_uid"}
        | {"debug_logger", "__version__"}
    )
    - set(OWN_IDENTITY)
)

AE_CHECKED = [
    "__init__", "acse_timeout", "dimse_timeout", "network_timeout", "connection_timeout",
    "maximum_associations", "maximum_pdu_size", "require_called_aet", "require_calling_aet",
    "implementation_class_uid", "implementation_version_name", "ae_title", "requested_contexts",
    "supported_contexts", "add_requested_context", "remove_requested_context",
    "add_supported_context", "remove_supported_context", "active_associations", "associate",
    "start_server", "make_server", "shutdown",
]  # fmt: skip
N_SERVICES = [
    "send_n_action", "send_n_create", "send_n_delete", "send_n_event_report", "send_n_get",
    "send_n_set",
]  # fmt: skip
ASSOCIATION_CHECKED = [
    "is_established", "is_rejected", "is_aborted", "is_released", "is_requestor", "is_acceptor",
    "mode", "requestor", "acceptor", "local", "remote", "accepted_contexts", "rejected_contexts",
    "acse", "acse_timeout", "dimse_timeout", "network_timeout", "connection_timeout",
    "network_timeout_response", "release", "abort", "bind", "unbind", "get_events",
    "get_handlers", "send_c_echo", "send_c_find", "send_c_get", "send_c_move", "send_c_cancel",
    "lock", *N_SERVICES,
]  # fmt: skip
# pynetdicom Association/AE names deliberately not checked yet. Later issues move each of them
# into AE_CHECKED/ASSOCIATION_CHECKED when dicomnet implements it (or, for pynetdicom internals,
# decide with a comment that it is not mirrored).
LATER_ISSUES = [
    # the DIMSE-C services beyond C-ECHO
    "send_c_store",
    # pynetdicom's providers and thread plumbing on the Association
    "ae", "dimse", "dul", "kill", "request", "run_reactor", "set_socket",
    # pynetdicom's Association is a threading.Thread; whether dicomnet's is comes with the driver
    "daemon", "getName", "ident", "isDaemon", "is_alive", "join", "name", "native_id", "run",
    "setDaemon", "setName", "start",
]  # fmt: skip
SERVER_ATTRIBUTES = [
    "bind", "unbind", "get_events", "get_handlers", "shutdown", "active_associations", "ssl_context",
]  # fmt: skip
# Defaults dicomnet may choose differently (any value of the same kind passes).
OWN_DEFAULTS = {("__init__", "ae_title")}


def _ours(module: str) -> ModuleType:
    """A dicomnet module, or a test failure saying it does not exist yet."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pytest.fail(f"{module} cannot be imported (not written yet?): {exc}")


def _attr(module: str, name: str) -> Any:
    """``module.name``, or a test failure naming what is missing."""
    found = _ours(module)
    if not hasattr(found, name):
        pytest.fail(f"{module}.{name} is missing (pynetdicom has it)")
    return getattr(found, name)


# -- top level -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_top_level_name(name: str) -> None:
    ours = _attr("dicomnet", name)
    theirs = getattr(pynetdicom, name)
    assert callable(ours) == callable(theirs), f"dicomnet.{name} callable? {callable(ours)}"
    if name in pynetdicom.__all__:
        assert name in _ours("dicomnet").__all__, f"{name} missing from dicomnet.__all__"


@pytest.mark.parametrize(("theirs", "ours"), sorted(OWN_IDENTITY.items()))
def test_own_identity_replaces_pynetdicoms(theirs: str, ours: str) -> None:
    value = _attr("dicomnet.uids", ours)
    assert isinstance(value, str)
    assert value
    assert value != getattr(pynetdicom, theirs), f"dicomnet.uids.{ours} is pynetdicom's value"


def test_evt_is_the_events_module() -> None:
    assert _attr("dicomnet", "evt") is _ours("dicomnet.events")


def test_ae_is_the_application_entity() -> None:
    assert _attr("dicomnet", "AE") is _attr("dicomnet.ae", "ApplicationEntity")


def test_association_is_the_association_class() -> None:
    assert _attr("dicomnet", "Association") is _attr("dicomnet.association", "Association")


# -- sop_class, status ---------------------------------------------------------------------------

SOP_CLASSES = sorted(
    n for n, v in vars(pynetdicom.sop_class).items() if isinstance(v, pynetdicom.sop_class.SOPClass)
)
STATUS_TABLES = sorted(
    n for n in dir(pynetdicom.status) if n.isupper() and n.endswith("_STATUS")
)  # fmt: skip
STATUS_CONSTANTS = sorted(n for n in dir(pynetdicom.status) if n.startswith("STATUS_"))
STATUS_MEMBERS = sorted(pynetdicom.status.Status.__members__)


def test_pynetdicom_has_the_counts_we_pin() -> None:
    assert len(SOP_CLASSES) == 252
    assert len(EVENTS) == 32
    assert len(CONTEXT_LISTS) == 24
    assert len(CONFIG_SWITCHES) == 12
    assert len(PRIMITIVES) == 12


@pytest.mark.parametrize("name", SOP_CLASSES)
def test_sop_class(name: str) -> None:
    ours = _attr("dicomnet.sop_class", name)
    theirs = getattr(pynetdicom.sop_class, name)
    assert ours == theirs
    assert ours.service_class.__name__ == theirs.service_class.__name__


@pytest.mark.parametrize("name", STATUS_TABLES)
def test_status_table(name: str) -> None:
    ours = _attr("dicomnet.status", name)
    theirs = getattr(pynetdicom.status, name)
    wrong = [f"0x{c:04X}" for c, (cat, _) in theirs.items() if c not in ours or ours[c][0] != cat]
    assert not wrong, f"{name}: codes missing or in another category: {wrong[:10]}"


@pytest.mark.parametrize("name", STATUS_CONSTANTS)
def test_status_constant(name: str) -> None:
    assert _attr("dicomnet.status", name) == getattr(pynetdicom.status, name)


@pytest.mark.parametrize("name", STATUS_MEMBERS)
def test_status_member(name: str) -> None:
    status = _attr("dicomnet.status", "Status")
    assert getattr(status, name) == pynetdicom.status.Status[name]


@pytest.mark.parametrize("name", ["code_to_category", "code_to_status"])
def test_status_function(name: str) -> None:
    assert callable(_attr("dicomnet.status", name))


# -- events --------------------------------------------------------------------------------------

EVENTS = sorted(n for n in dir(pynetdicom.events) if n.startswith("EVT_"))


@pytest.mark.parametrize("module", ["dicomnet.evt", "dicomnet.events"])
@pytest.mark.parametrize("name", EVENTS)
def test_event(module: str, name: str) -> None:
    source = _attr("dicomnet", "evt") if module == "dicomnet.evt" else _ours(module)
    if not hasattr(source, name):
        pytest.fail(f"{module}.{name} is missing (pynetdicom has it)")
    ours, theirs = getattr(source, name), getattr(pynetdicom.events, name)
    for field in ("name", "is_intervention", "is_notification"):
        assert getattr(ours, field, None) == getattr(theirs, field), f"{name}.{field} differs"


# -- presentation context lists ------------------------------------------------------------------

CONTEXT_LISTS = sorted(
    n for n in dir(pynetdicom.presentation) if n.endswith("PresentationContexts")
)
# dicomnet's list holds every storage SOP class of its catalogue: pynetdicom's and more.
GROWN_LISTS = {"AllStoragePresentationContexts"}


@pytest.mark.parametrize("name", CONTEXT_LISTS)
def test_context_list(name: str) -> None:
    ours = [str(cx.abstract_syntax) for cx in _attr("dicomnet", name)]
    theirs = [str(cx.abstract_syntax) for cx in getattr(pynetdicom.presentation, name)]
    if name in GROWN_LISTS:
        assert set(theirs) <= set(ours), f"{name} lacks {sorted(set(theirs) - set(ours))}"
    else:
        assert ours == theirs


# -- _config -------------------------------------------------------------------------------------

CONFIG_SWITCHES = sorted(n for n in dir(pynetdicom._config) if n.isupper())


@pytest.mark.parametrize("name", CONFIG_SWITCHES)
def test_config_switch_and_default(name: str) -> None:
    ours, theirs = _attr("dicomnet._config", name), getattr(pynetdicom._config, name)
    if name == "VALIDATORS":
        assert sorted(ours) == sorted(theirs)
        assert all(callable(check) for check in ours.values())
    else:
        assert ours == theirs, f"_config.{name} defaults to {ours!r}, pynetdicom to {theirs!r}"


# -- dimse_primitives ----------------------------------------------------------------------------

PRIMITIVES = sorted(
    n
    for n, v in vars(pynetdicom.dimse_primitives).items()
    if isinstance(v, type) and re.fullmatch(r"[CN]_[A-Z_]+", n)
)
PRIMITIVE_KEYWORDS = sorted(
    (name, keyword)
    for name in PRIMITIVES
    for keyword, value in vars(getattr(pynetdicom.dimse_primitives, name)).items()
    if isinstance(value, property) and keyword[0].isupper()
)


@pytest.mark.parametrize("name", PRIMITIVES)
def test_dimse_primitive_class(name: str) -> None:
    assert isinstance(_attr("dicomnet.dimse_primitives", name), type)


@pytest.mark.parametrize(("name", "keyword"), PRIMITIVE_KEYWORDS)
def test_dimse_primitive_keyword(name: str, keyword: str) -> None:
    """``event.request.MessageID``, ``.DataSet``...: the keyword attributes users read."""
    cls = _attr("dicomnet.dimse_primitives", name)
    fields = getattr(cls, "__dataclass_fields__", {})
    assert hasattr(cls, keyword) or keyword in fields, f"{name}.{keyword} is missing"


# -- signatures ----------------------------------------------------------------------------------


def _same_default(ours: object, theirs: object) -> bool:
    empty = inspect.Parameter.empty
    if ours is empty or theirs is empty:
        return ours is theirs
    return type(ours) is type(theirs) and ours == theirs


def _parameter_problems(
    ours: inspect.Parameter, theirs: inspect.Parameter, own_default: bool
) -> list[str]:
    problems = []
    if ours.name != theirs.name:
        problems.append(f"{ours.name!r} where pynetdicom has {theirs.name!r}")
    if ours.kind != theirs.kind:
        problems.append(
            f"{theirs.name!r} is {ours.kind.description}, not {theirs.kind.description}"
        )
    if own_default:
        if (ours.default is inspect.Parameter.empty) != (theirs.default is inspect.Parameter.empty):
            problems.append(f"{theirs.name!r} must keep a default")
    elif not _same_default(ours.default, theirs.default):
        problems.append(f"{theirs.name!r} defaults to {ours.default!r}, not {theirs.default!r}")
    return problems


def signature_problems(
    ours: Callable[..., Any], theirs: Callable[..., Any], method: str = ""
) -> list[str]:
    """How ``ours`` differs from ``theirs``: same parameters (names, kinds, defaults) in order;
    ours may add keyword-only parameters with defaults at the end (before ``**kwargs``)."""
    mine = list(inspect.signature(ours).parameters.values())
    their = list(inspect.signature(theirs).parameters.values())
    var_keyword = bool(their) and their[-1].kind is inspect.Parameter.VAR_KEYWORD
    problems: list[str] = []
    for index, parameter in enumerate(their[:-1] if var_keyword else their):
        if index >= len(mine):
            problems.append(f"missing {parameter.name!r}")
            continue
        own = (method, parameter.name) in OWN_DEFAULTS
        problems += _parameter_problems(mine[index], parameter, own)
    extra = mine[len(their) - var_keyword :]
    if var_keyword:
        if not extra or extra[-1].kind is not inspect.Parameter.VAR_KEYWORD:
            problems.append("**kwargs missing")
        extra = extra[:-1]
    problems += [
        f"added parameter {p.name!r} must be keyword-only with a default"
        for p in extra
        if p.kind is not inspect.Parameter.KEYWORD_ONLY or p.default is inspect.Parameter.empty
    ]
    return problems


def test_signature_problems_finds_each_kind_of_difference() -> None:
    def theirs(self: object, a: int, b: int = 1, **kwargs: Any) -> None: ...
    def same(self: object, a: int, b: int = 1, *, extra: int = 0, **kwargs: Any) -> None: ...
    def renamed(self: object, x: int, b: int = 1, **kwargs: Any) -> None: ...
    def other_default(self: object, a: int, b: int = 2, **kwargs: Any) -> None: ...
    def positional_extra(self: object, a: int, b: int = 1, c: int = 0, **kw: Any) -> None: ...
    def no_kwargs(self: object, a: int, b: int = 1) -> None: ...

    assert signature_problems(same, theirs) == []
    assert signature_problems(renamed, theirs) == ["'x' where pynetdicom has 'a'"]
    assert signature_problems(other_default, theirs) == ["'b' defaults to 2, not 1"]
    assert signature_problems(positional_extra, theirs) == [
        "added parameter 'c' must be keyword-only with a default"
    ]
    assert signature_problems(no_kwargs, theirs) == ["**kwargs missing"]


def _check_member(
    owner: str, ours_cls: type, theirs_cls: type, name: str, instance: object
) -> None:
    """A method must have a compatible signature; any other member must exist on ``instance``
    and, when pynetdicom's property has a setter, accept its own value back."""
    theirs = inspect.getattr_static(theirs_cls, name, None)
    if inspect.isfunction(theirs):
        ours = getattr(ours_cls, name, None)
        assert callable(ours), f"{owner}.{name}() is missing"
        problems = signature_problems(ours, theirs, name)
        assert not problems, (
            f"{owner}.{name}{inspect.signature(ours)} is not compatible with pynetdicom's "
            f"{inspect.signature(theirs)}: {'; '.join(problems)}"
        )
        return
    assert hasattr(instance, name), f"{owner}.{name} is missing"
    if isinstance(theirs, property) and theirs.fset is not None:
        setattr(instance, name, getattr(instance, name))  # settable, as in pynetdicom


@pytest.mark.parametrize("name", AE_CHECKED)
def test_ae_member(name: str) -> None:
    ours = _attr("dicomnet.ae", "ApplicationEntity")
    _check_member("AE", ours, TheirAE, name, ours())


@dataclass
class Live:
    """A dicomnet association to a dicomnet server, or why there is none."""

    association: Any = None
    error: str = ""


def _connect(stack: ExitStack) -> Any:
    ae_class = _attr("dicomnet", "AE")
    scp = ae_class()
    scp.add_supported_context(VERIFICATION)
    server = scp.start_server(("127.0.0.1", 0), block=False)
    stack.callback(server.shutdown)
    scu = ae_class()
    scu.add_requested_context(VERIFICATION)
    association = scu.associate("127.0.0.1", server.server_address[1])
    stack.callback(lambda: association.release() if association.is_established else None)
    return association


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    with ExitStack() as stack:
        try:
            association = _connect(stack)
        except (Exception, pytest.fail.Exception) as exc:  # reported by each test that needs it
            yield Live(error=f"{type(exc).__name__}: {exc}")
            return
        yield Live(association, "" if association.is_established else "not established")


@pytest.mark.parametrize("name", ASSOCIATION_CHECKED)
def test_association_member(name: str, live: Live) -> None:
    ours = _attr("dicomnet.association", "Association")
    if not live.error:
        _check_member("Association", ours, TheirAssociation, name, live.association)
        return
    theirs = inspect.getattr_static(TheirAssociation, name, None)
    if inspect.isfunction(theirs):  # signatures need no live association
        _check_member("Association", ours, TheirAssociation, name, None)
        return
    pytest.fail(f"no live dicomnet association to check Association.{name}: {live.error}")


def test_every_public_association_and_ae_name_is_accounted_for() -> None:
    """A name pynetdicom adds must be checked here or listed in LATER_ISSUES."""
    association = TheirAssociation(TheirAE(), "requestor")
    names = {n for n in dir(association) if not n.startswith("_")}
    assert names - set(ASSOCIATION_CHECKED) - set(LATER_ISSUES) == set()
    ae_names = {n for n in dir(TheirAE()) if not n.startswith("_")}
    assert ae_names - set(AE_CHECKED) - set(LATER_ISSUES) == set()


# -- the server ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SERVER_ATTRIBUTES)
def test_server_attribute(name: str) -> None:
    ae = _attr("dicomnet", "AE")()
    ae.add_supported_context(VERIFICATION)
    server = ae.start_server(("127.0.0.1", 0), block=False)
    try:
        assert hasattr(server, name), f"the server of start_server(block=False) lacks {name}"
    finally:
        server.shutdown()


# -- C-STORE: send_c_store and the Event a handler gets --------------------------------------------

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
THEIR_EVENT: Any = pynetdicom.events.Event
EVENT_MEMBERS = sorted(n for n in vars(THEIR_EVENT) if not n.startswith("_"))
#: Event properties that belong to requests other than C-STORE.
NOT_C_STORE = [
    "identifier", "action_type", "event_type", "move_destination", "attribute_list",
    "modification_list", "action_information", "event_information", "attribute_identifiers",
]  # fmt: skip


def _parameters(function: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


def test_send_c_store_signature_is_pynetdicoms() -> None:
    ours = _attr("dicomnet.association", "Association")
    assert callable(getattr(ours, "send_c_store", None)), "Association.send_c_store is missing"
    assert _parameters(ours.send_c_store) == _parameters(TheirAssociation.send_c_store)


@pytest.mark.parametrize("name", ["send_c_find", "send_c_get", "send_c_move", "send_c_cancel"])
def test_query_retrieve_signatures_are_pynetdicoms(name: str) -> None:
    """Exactly pynetdicom's parameters (names, order, kinds, defaults): these are called
    positionally, ``send_c_move(ds, "STORESCP", model, 7)`` as often as with keywords."""
    ours = getattr(_attr("dicomnet.association", "Association"), name, None)
    assert callable(ours), f"Association.{name} is missing"
    assert _parameters(ours) == _parameters(getattr(TheirAssociation, name))


@pytest.mark.parametrize("name", N_SERVICES)
def test_dimse_n_signatures_are_pynetdicoms(name: str) -> None:
    """Exactly pynetdicom's parameters (names, order, kinds, defaults): they are called
    positionally, ``send_n_action(ds, 1, class_uid, instance_uid)``, and ``msg_id`` and
    ``meta_uid`` by keyword or position."""
    ours = getattr(_attr("dicomnet.association", "Association"), name, None)
    assert callable(ours), f"Association.{name} is missing"
    assert _parameters(ours) == _parameters(getattr(TheirAssociation, name))


def test_pynetdicom_has_the_dimse_n_services_we_pin() -> None:
    names = {n for n in dir(TheirAssociation) if n.startswith("send_n_")}
    assert names == set(N_SERVICES)


def test_pynetdicom_event_has_the_members_we_pin() -> None:
    assert len(EVENT_MEMBERS) == 16


@pytest.mark.parametrize("name", EVENT_MEMBERS)
def test_event_member(name: str) -> None:
    ours_cls = _attr("dicomnet.events", "Event")
    theirs = inspect.getattr_static(THEIR_EVENT, name)
    ours = inspect.getattr_static(ours_cls, name, None)
    assert ours is not None, f"Event.{name} is missing (pynetdicom has it)"
    if isinstance(theirs, property):
        assert isinstance(ours, property), f"Event.{name} is not a property"
        return
    assert inspect.isfunction(theirs), f"pynetdicom's Event.{name} is of a kind not checked here"
    assert inspect.isfunction(ours), f"Event.{name} is not a method"
    problems = signature_problems(ours, theirs, name)
    assert not problems, f"Event.{name}: {'; '.join(problems)}"


def test_event_constructor_and_instance_attributes() -> None:
    ours_cls = _attr("dicomnet.events", "Event")
    assert signature_problems(ours_cls.__init__, THEIR_EVENT.__init__) == []
    theirs = THEIR_EVENT(None, pynetdicom.evt.EVT_C_ECHO, {})
    ours = ours_cls(None, _attr("dicomnet.events", "EVT_C_ECHO"), {})
    for name in ("assoc", "timestamp"):
        assert hasattr(theirs, name)
        assert hasattr(ours, name), f"Event().{name} is missing"
    assert type(ours.timestamp) is type(theirs.timestamp)


def _encoded(transfer_syntax: str) -> bytes:
    ds = Dataset()
    ds.SOPClassUID = CT_IMAGE
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.10.999.4.1"
    ds.PatientName = "Doe^John"
    ds.Rows = 256
    item = Dataset()
    item.CodeValue = "T-04000"
    ds.AnatomicRegionSequence = [item]
    uid = UID(transfer_syntax)
    out = DicomBytesIO()
    out.is_little_endian, out.is_implicit_VR = uid.is_little_endian, uid.is_implicit_VR
    write_dataset(out, ds)
    raw = bytes(out.getvalue())
    if uid.is_deflated:
        deflater = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        raw = deflater.compress(raw) + deflater.flush()
    return raw


def _hand_built(
    primitives: ModuleType, build_context: Any, event_cls: Any, event: Any, ts: str
) -> Any:
    request = primitives.C_STORE()
    request.MessageID = 7
    request.AffectedSOPClassUID = CT_IMAGE
    request.AffectedSOPInstanceUID = "1.2.826.0.1.3680043.10.999.4.1"
    request.Priority = 1
    request.DataSet = BytesIO(_encoded(ts))
    context = build_context(CT_IMAGE, ts)
    context.context_id = 1
    return event_cls(None, event, {"request": request, "context": context.as_tuple})


def _outcome(event: Any, name: str) -> str:
    try:
        getattr(event, name)
    except AttributeError:
        return "AttributeError"
    return "no error"


@pytest.mark.parametrize(
    "transfer_syntax",
    ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"],
)
def test_a_c_store_event_built_by_hand_answers_as_pynetdicoms(transfer_syntax: str) -> None:
    """``Event(None, evt.EVT_C_STORE, {"request": C_STORE(), "context": ...})`` as users build it
    in their unit tests: the same answers as pynetdicom's Event built the same way."""
    ours = _hand_built(
        _ours("dicomnet.dimse_primitives"),
        _attr("dicomnet", "build_context"),
        _attr("dicomnet.events", "Event"),
        _attr("dicomnet.events", "EVT_C_STORE"),
        transfer_syntax,
    )
    theirs = _hand_built(
        pynetdicom.dimse_primitives,
        pynetdicom.build_context,
        THEIR_EVENT,
        pynetdicom.evt.EVT_C_STORE,
        transfer_syntax,
    )
    assert ours.assoc is None
    assert ours.event.name == theirs.event.name == "EVT_C_STORE"
    assert tuple(ours.context) == tuple(theirs.context)
    assert ours.message_id == theirs.message_id == 7
    assert ours.request.Priority == theirs.request.Priority == 1
    assert ours.dataset == theirs.dataset
    assert ours.dataset is ours.dataset
    assert ours.encoded_dataset(include_meta=False) == theirs.encoded_dataset(include_meta=False)
    own_identity = {0x0002_0012, 0x0002_0013}
    ours_meta, their_meta = ours.file_meta, theirs.file_meta
    assert [e.tag for e in ours_meta] == [e.tag for e in their_meta]
    for elem in their_meta:
        if elem.tag not in own_identity:
            assert ours_meta[elem.tag].value == elem.value, f"file_meta {elem.keyword} differs"
    ours_file = dcmread(BytesIO(ours.encoded_dataset()))
    their_file = dcmread(BytesIO(theirs.encoded_dataset()))
    assert ours_file == their_file
    assert ours_file.file_meta.TransferSyntaxUID == their_file.file_meta.TransferSyntaxUID
    assert ours.is_cancelled is theirs.is_cancelled is False
    for name in NOT_C_STORE:
        assert _outcome(ours, name) == _outcome(theirs, name) == "AttributeError", name
