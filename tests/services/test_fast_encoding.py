"""fast_encoding writes the bytes pydicom's write_dataset writes, or leaves the data set to it."""

from __future__ import annotations

import copy
import datetime
import warnings
import zlib
from collections.abc import Callable
from io import BytesIO
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom import config
from pydicom._dicom_dict import DicomDictionary
from pydicom.datadict import dictionary_is_retired, dictionary_VR, keyword_dict
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset
from pydicom.filewriter import write_dataset
from pydicom.tag import _LUT_DESCRIPTOR_TAGS
from pydicom.uid import UID
from pydicom.valuerep import DA

from dicomnet import decoding
from dicomnet.decoding import decode_dataset
from dicomnet.dicomfile import DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN
from dicomnet.services.encoding import encode_dataset
from dicomnet.services.fast_encoding import _AMBIGUOUS_TAGS, fast_encode_dataset
from dicomnet.uids import (
    EXPLICIT_VR_BIG_ENDIAN,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
)

#: (implicit VR, little endian) -> transfer syntax
SYNTAXES = {
    (True, True): IMPLICIT_VR_LITTLE_ENDIAN,
    (False, True): EXPLICIT_VR_LITTLE_ENDIAN,
    (False, False): EXPLICIT_VR_BIG_ENDIAN,
}
ENCODINGS = list(SYNTAXES)
EXPLICIT = EXPLICIT_VR_LITTLE_ENDIAN
CHARSETS = [None, "", "ISO_IR 6", "ISO_IR 100", "ISO_IR 192"]
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def pydicom_bytes(dataset: Dataset, implicit: bool, little: bool) -> bytes:
    """What pydicom writes (on a copy: writing converts and remembers)."""
    stream = DicomBytesIO()
    stream.is_implicit_VR, stream.is_little_endian = implicit, little
    write_dataset(stream, copy.deepcopy(dataset))
    return bytes(stream.getvalue())


def _keywords(vr: str) -> list[str]:
    """Real attributes of ``vr`` (current, outside the command and File Meta groups)."""
    return sorted(
        keyword
        for keyword, tag in keyword_dict.items()
        if keyword
        and dictionary_VR(tag) == vr
        and not dictionary_is_retired(tag)
        and tag >> 16 not in (0x0000, 0x0002)
        and tag & 0xFFFF != 0
        and tag != 0x00080005
    )


# ---- values ------------------------------------------------------------------------------------

_ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="\\")
_LATIN1 = st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\\\x7f")
_UNICODE = st.characters(
    codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp"), exclude_characters="\\"
)
#: Text a character set encodes (pydicom's default is Latin-1 too).
_ALPHABETS = {None: _LATIN1, "": _LATIN1, "ISO_IR 6": _LATIN1, "ISO_IR 100": _LATIN1}
_ALPHABETS["ISO_IR 192"] = _UNICODE


def _ascii(alphabet: str, max_size: int) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(alphabet), max_size=max_size)


_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
_SINGLE_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "AE": _ascii(_UPPER, 16),
    "AS": st.from_regex(r"\A[0-9]{3}[DWMY]\Z"),
    "CS": _ascii(_UPPER + "_", 16),
    "DA": st.from_regex(r"\A[0-9]{8}(-[0-9]{8})?\Z"),
    "DT": st.from_regex(r"\A[0-9]{4,14}(\.[0-9]{1,6})?\Z"),
    "TM": st.from_regex(r"\A[0-9]{2,6}(\.[0-9]{1,6})?(-[0-9]{6})?\Z"),
    "UR": _ascii("abcdefghijklmnopqrstuvwxyz0123456789:/.?=&", 40),
    "UI": st.from_regex(r"\A[1-9][0-9]{0,5}(\.(0|[1-9][0-9]{0,5})){0,8}\Z"),
    "DS": st.one_of(
        st.from_regex(r"\A-?[0-9]{1,6}(\.[0-9]{1,4})?\Z"),
        st.integers(-99999, 99999),
        st.sampled_from([0.5, -1.25, 100.0, 3.0]),
    ),
    "IS": st.one_of(st.integers(-(2**31), 2**31 - 1), st.from_regex(r"\A-?[0-9]{1,9}\Z")),
    "US": st.integers(0, 0xFFFF),
    "SS": st.integers(-0x8000, 0x7FFF),
    "UL": st.integers(0, 0xFFFFFFFF),
    "SL": st.integers(-(2**31), 2**31 - 1),
    "FL": st.floats(width=32),
    "FD": st.floats(),
    "AT": st.integers(0, 0xFFFFFFFF),
}
_TEXT_LIMITS = {"LO": 64, "SH": 16, "LT": 200, "ST": 200, "UC": 100, "UT": 300}
_NUMBERS = {"US", "SS", "UL", "SL", "FL", "FD"}
SUPPORTED_VRS = sorted([*_SINGLE_VALUES, *_TEXT_LIMITS, "PN"])
KEYWORDS = {vr: _keywords(vr) for vr in [*SUPPORTED_VRS, "SQ"]}


def _single(vr: str, charset: str | None) -> st.SearchStrategy[Any]:
    alphabet = _ALPHABETS[charset]
    if vr in _TEXT_LIMITS:
        return st.text(alphabet, max_size=_TEXT_LIMITS[vr])
    if vr == "PN":
        part = st.text(alphabet.filter(lambda c: c not in "^="), max_size=8)
        group = st.lists(part, min_size=1, max_size=5).map("^".join)
        return st.lists(group, min_size=1, max_size=3).map("=".join)
    return _SINGLE_VALUES[vr]


def values(vr: str, charset: str | None) -> st.SearchStrategy[Any]:
    """One value, several, or an empty one."""
    single = _single(vr, charset)
    empty: list[Any] = [None, []] if vr in _NUMBERS else [None, "", []]
    multiple = st.lists(single, min_size=2, max_size=4)
    if vr in ("LT", "ST", "UT"):  # text VRs of VM 1: a list is still joined with backslashes
        multiple = st.lists(single, min_size=2, max_size=3)
    return st.one_of(single, multiple, st.sampled_from(empty))


# ---- data sets ---------------------------------------------------------------------------------


@st.composite
def datasets(draw: st.DrawFn, charset: str | None = None, depth: int = 2) -> Dataset:
    """An identifier of the supported VRs: real attributes, private ones, nested sequences."""
    dataset = Dataset()
    own = draw(st.sampled_from(CHARSETS))  # None: none of its own (an item inherits its parent's)
    if own is not None:
        charset = own
        dataset.SpecificCharacterSet = own
    for _ in range(draw(st.integers(0, 8))):
        vr = draw(st.sampled_from(SUPPORTED_VRS))
        tag = keyword_dict[draw(st.sampled_from(KEYWORDS[vr]))]
        dataset.add_new(tag, vr, draw(values(vr, charset)))
    if draw(st.booleans()):
        block = dataset.private_block(
            draw(st.sampled_from([0x0009, 0x0029])), "DICOMNET", create=True
        )
        for _ in range(draw(st.integers(1, 3))):
            vr = draw(st.sampled_from(SUPPORTED_VRS))
            block.add_new(draw(st.integers(0x10, 0xFF)), vr, draw(values(vr, charset)))
    if depth > 0:
        for _ in range(draw(st.integers(0, 2))):
            items = draw(st.lists(datasets(charset, depth - 1), max_size=2))
            for item in items:
                item.is_undefined_length_sequence_item = draw(st.booleans())
            tag = keyword_dict[draw(st.sampled_from(KEYWORDS["SQ"]))]
            dataset.add_new(tag, "SQ", items)
            dataset[tag].is_undefined_length = draw(st.booleans())
    return dataset


def _quiet(build: Callable[[], Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom's value validation (a UI of 65 characters ...)
        return build()


@FAST
@given(st.data(), st.sampled_from(ENCODINGS))
def test_fast_encoding_is_pydicoms(data: st.DataObject, encoding: tuple[bool, bool]) -> None:
    dataset = _quiet(lambda: data.draw(datasets()))
    expected = pydicom_bytes(dataset, *encoding)
    assert fast_encode_dataset(dataset, implicit=encoding[0], little=encoding[1]) == expected
    assert encode_dataset(dataset, SYNTAXES[encoding], source_little=encoding[1]) == expected


def _decoded(data: bytes, encoding: tuple[bool, bool], *, converted: bool) -> Dataset:
    dataset = read_dataset(BytesIO(data), *encoding)
    if converted:
        dataset.walk(lambda _dataset, _element: None)  # every element converted from raw
    return dataset


@FAST
@given(
    st.data(),
    st.sampled_from(ENCODINGS),
    st.sampled_from(ENCODINGS),
    st.booleans(),
)
def test_decoded_data_sets_are_encoded_as_pydicom_does(
    data: st.DataObject, read_as: tuple[bool, bool], write_as: tuple[bool, bool], converted: bool
) -> None:
    """A peer's data set, raw (copied when the encoding is the one it was read in, else left
    to pydicom) or converted (pydicom's values keep the strings they were read from)."""
    encoded = pydicom_bytes(_quiet(lambda: data.draw(datasets())), *read_as)
    expected = _quiet(
        lambda: pydicom_bytes(_decoded(encoded, read_as, converted=converted), *write_as)
    )
    fast = _quiet(
        lambda: fast_encode_dataset(
            _decoded(encoded, read_as, converted=converted),
            implicit=write_as[0],
            little=write_as[1],
        )
    )
    if read_as == write_as and not converted:
        assert fast == expected == encoded
    else:
        assert fast in (None, expected)
    syntax = SYNTAXES[write_as]
    decoded = _decoded(encoded, read_as, converted=converted)
    assert _quiet(lambda: encode_dataset(decoded, syntax, source_little=read_as[1])) == expected


def _identifier() -> Dataset:
    dataset = Dataset()
    dataset.SpecificCharacterSet = "ISO_IR 192"
    dataset.QueryRetrieveLevel = "STUDY"
    dataset.PatientName = "Müller^Jörg=山田^太郎"
    dataset.PatientID = "PID-1"
    dataset.ModalitiesInStudy = ["CT", "MR"]
    dataset.NumberOfStudyRelatedInstances = 12
    item = Dataset()
    item.ReferencedSOPInstanceUID = "1.2.3"
    dataset.ReferencedStudySequence = [item]
    return dataset


def test_deflated_inflates_to_explicit_little_endian() -> None:
    dataset = _identifier()
    deflated = encode_dataset(dataset, DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN)
    assert len(deflated) % 2 == 0
    inflated = zlib.decompressobj(-zlib.MAX_WBITS).decompress(deflated)
    assert inflated == pydicom_bytes(dataset, False, True)
    assert decode_dataset(deflated, DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN).PatientID == "PID-1"


def test_a_typical_identifier_is_encoded_here() -> None:
    dataset = _identifier()
    for implicit, little in ENCODINGS:
        encoded = fast_encode_dataset(dataset, implicit=implicit, little=little)
        assert encoded == pydicom_bytes(dataset, implicit, little)


@pytest.mark.parametrize("top", [None, "", "ISO_IR 100", "ISO_IR 192"])
@pytest.mark.parametrize("inner", ["absent", None, "ISO_IR 100", "ISO_IR 192"])
def test_character_sets_of_items(top: str | None, inner: str | None) -> None:
    """An item without a Specific Character Set has its parent's; one with an empty one (or
    None) has the default (Latin-1, as pydicom encodes it)."""
    dataset = Dataset()
    dataset.SpecificCharacterSet = top
    dataset.PatientName = "Mü^Jö"
    item = Dataset()
    if inner != "absent":
        item.SpecificCharacterSet = inner
    item.PatientName = "Ño^Él"
    item.CodeMeaning = "Ménière"
    dataset.ReferencedPatientSequence = [item]
    for implicit, little in ENCODINGS:
        encoded = fast_encode_dataset(dataset, implicit=implicit, little=little)
        assert encoded is not None
        assert encoded == pydicom_bytes(dataset, implicit, little)


def test_group_lengths_as_pydicom_writes_them() -> None:
    dataset = _identifier()
    dataset.add_new(0x00080000, "UL", 10)  # left out, as retired group lengths are
    dataset.add_new(0x00090000, "UL", 10)
    dataset.add_new(0x00040000, "UL", 10)  # groups up to 0006: written
    for implicit, little in ENCODINGS:
        encoded = fast_encode_dataset(dataset, implicit=implicit, little=little)
        assert encoded is not None
        assert encoded == pydicom_bytes(dataset, implicit, little)


def test_ambiguous_tags_cover_the_dictionary_and_lut_descriptors() -> None:
    assert {tag for tag, entry in DicomDictionary.items() if " or " in entry[0]} == _AMBIGUOUS_TAGS
    assert set(_LUT_DESCRIPTOR_TAGS) <= _AMBIGUOUS_TAGS


# ---- what is left to pydicom -------------------------------------------------------------------


def _with(build: Callable[[Dataset], object]) -> Callable[[], Dataset]:
    def make() -> Dataset:
        dataset = _identifier()
        dataset.SpecificCharacterSet = "ISO_IR 100"
        dataset.PatientName = "Müller^Jörg"
        build(dataset)
        return dataset

    return make


def _undefined_length_text(dataset: Dataset) -> None:
    dataset.StudyDescription = "ODD"
    dataset["StudyDescription"].is_undefined_length = True


def _nested(build: Callable[[Dataset], object]) -> Callable[[Dataset], None]:
    def nest(dataset: Dataset) -> None:
        build(dataset.ReferencedStudySequence[0])

    return nest


def _lonely_name(dataset: Dataset) -> None:
    dataset.PatientName = ["A^B", "C^D"]
    dataset.PatientName.pop()


FALLBACKS: dict[str, Callable[[], Dataset]] = {
    "OB": _with(lambda ds: ds.add_new(0x00091010, "OB", b"\x01\x02\x03")),
    "OW": _with(lambda ds: ds.add_new(0x00091010, "OW", b"\x01\x02\x03\x04")),
    "UN": _with(lambda ds: ds.add_new(0x00091010, "UN", b"\x01\x02")),
    "SV": _with(lambda ds: ds.add_new(0x00091010, "SV", 5)),
    "US or SS": _with(lambda ds: setattr(ds, "SmallestImagePixelValue", 3)),
    "LUT Descriptor as SS": _with(lambda ds: ds.add_new(0x00283002, "SS", [-1, 0, 16])),
    "ambiguous in an item": _with(_nested(lambda ds: setattr(ds, "SmallestImagePixelValue", 3))),
    "ISO 2022 character sets": _with(
        lambda ds: setattr(ds, "SpecificCharacterSet", ["", "ISO 2022 IR 100"])
    ),
    "GB18030": _with(lambda ds: setattr(ds, "SpecificCharacterSet", "GB18030")),
    "item character set": _with(
        _nested(lambda ds: setattr(ds, "SpecificCharacterSet", "ISO_IR 144"))
    ),
    "misspelt character set": _with(lambda ds: setattr(ds, "SpecificCharacterSet", "ISO-IR 100")),
    "DA object": _with(lambda ds: setattr(ds, "StudyDate", DA("20240102"))),
    "date": _with(lambda ds: setattr(ds, "StudyDate", datetime.date(2024, 1, 2))),
    "undefined length text": _with(_undefined_length_text),
    "tuple of numbers": _with(lambda ds: ds.add_new(0x00091010, "US", (1, 2))),
    "bytes text": _with(lambda ds: ds.add_new(0x00081030, "LO", b"RAW")),
    "lone name in a list": _with(_lonely_name),
    "text past Latin-1": _with(lambda ds: setattr(ds, "StudyDescription", "山田")),
    "long text in explicit VR": _with(lambda ds: setattr(ds, "StudyDescription", "x" * 70001)),
}
#: Encoded here in implicit VR (its 4-byte lengths hold them).
IMPLICIT_ONLY = {"long text in explicit VR"}


def _outcome(
    make: Callable[[], Dataset], encode: Callable[[Dataset], bytes]
) -> tuple[object, list[str]]:
    """The bytes, or the type of the exception, with the warnings issued."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = make()
        caught.clear()
        try:
            result: object = encode(dataset)
        except Exception as exc:
            result = type(exc)
    return result, sorted({str(warning.category) for warning in caught})


@pytest.mark.parametrize("name", sorted(FALLBACKS))
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_unsupported_falls_back_to_pydicom(name: str, encoding: tuple[bool, bool]) -> None:
    make = FALLBACKS[name]
    implicit, little = encoding
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = fast_encode_dataset(make(), implicit=implicit, little=little)
        if implicit and name in IMPLICIT_ONLY:
            assert fast == pydicom_bytes(make(), implicit, little)
        else:
            assert fast is None
    syntax = SYNTAXES[encoding]
    expected = _outcome(make, lambda ds: pydicom_bytes(ds, implicit, little))
    assert _outcome(make, lambda ds: encode_dataset(ds, syntax, source_little=little)) == expected


@pytest.mark.parametrize(
    ("vr", "value"),
    [("FL", 1e300), ("US", -1), ("SS", 1 << 20), ("US", 1.5), ("CS", "ÄÖ\u0100")],
)
def test_values_pydicom_refuses_are_refused_by_it(vr: str, value: object) -> None:
    dataset = _identifier()
    dataset[0x00091010] = DataElement(0x00091010, vr, value, validation_mode=config.IGNORE)
    assert fast_encode_dataset(dataset, implicit=False, little=True) is None
    expected = _outcome(lambda: dataset, lambda ds: pydicom_bytes(ds, False, True))
    assert isinstance(expected[0], type)
    assert issubclass(expected[0], Exception)
    assert _outcome(lambda: dataset, lambda ds: encode_dataset(ds, EXPLICIT)) == expected


def test_raw_elements_read_in_another_encoding_are_left_to_pydicom() -> None:
    encoded = pydicom_bytes(_identifier(), True, True)
    assert (
        fast_encode_dataset(
            decode_dataset(encoded, IMPLICIT_VR_LITTLE_ENDIAN), implicit=False, little=True
        )
        is None
    )
    same = fast_encode_dataset(
        decode_dataset(encoded, IMPLICIT_VR_LITTLE_ENDIAN), implicit=True, little=True
    )
    assert same == encoded
    explicit = encode_dataset(
        decode_dataset(encoded, IMPLICIT_VR_LITTLE_ENDIAN), EXPLICIT_VR_LITTLE_ENDIAN
    )
    assert explicit == pydicom_bytes(
        decode_dataset(encoded, IMPLICIT_VR_LITTLE_ENDIAN), False, True
    )


def test_byte_swapping_stays_with_pydicom() -> None:
    dataset = _identifier()
    dataset.add_new(0x00091010, "OW", b"\x01\x02\x03\x04")
    big = encode_dataset(dataset, EXPLICIT_VR_BIG_ENDIAN)
    assert b"\x00\x09\x10\x10OW\x00\x00\x00\x00\x00\x04\x02\x01\x04\x03" in big
    assert encode_dataset(_identifier(), EXPLICIT_VR_BIG_ENDIAN) == pydicom_bytes(
        _identifier(), False, False
    )


@pytest.mark.parametrize(
    "syntax",
    [
        *SYNTAXES.values(),
        DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
        None,
        "",
        "1.2.840.10008.1.2.4.50",
        "1.2.3",
    ],
)
def test_decoding_knows_the_usual_syntaxes_as_pydicom_does(syntax: str | None) -> None:
    uid = UID(syntax or IMPLICIT_VR_LITTLE_ENDIAN, validation_mode=config.IGNORE)
    try:
        expected = (uid.is_implicit_VR, uid.is_little_endian, uid.is_deflated)
    except ValueError:
        expected = (False, True, False)
    assert decoding.encoding(syntax) == expected
