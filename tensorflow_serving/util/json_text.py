"""JSON text in and out as RapidJSON does it in upstream's REST API.

Upstream's json_tensor.cc parses request bodies with RapidJSON (iterative
parser, NaN/Inf allowed, stop when the root value is done) and writes answers
with RapidJSON's PrettyWriter. Clients see both: the parse error texts
("JSON Parse error: Invalid value. at offset: 0"), the JSON values quoted in
error messages, and the layout of every response body. This module gives the
same results:

* parse(): Python's C JSON decoder does the work when the body is plain JSON
  it reads exactly as RapidJSON would; anything else (Inf, -NaN, invalid
  UTF-8, huge numbers, lone surrogates, any syntax error) goes through a small
  iterative parser that mirrors RapidJSON's reader, its values and its error
  codes and offsets, at any nesting depth.
* Numbers keep RapidJSON's kinds: Python ints for integers within
  [-2**63, 2**64 - 1], floats for everything else.
* Strings are str; bytes that are not UTF-8 survive as surrogate escapes
  (to_bytes() gives them back), as RapidJSON does not validate encodings.
* PrettyWriter and debug_string() write what RapidJSON's PrettyWriter writes.
"""

import json
import math
import re

from tensorflow_serving.util import status

INT64_MIN = -(2**63)
UINT64_MAX = 2**64 - 1

# RapidJSON's GetParseError_En texts.
_DOCUMENT_EMPTY = "The document is empty."
_ROOT_NOT_SINGULAR = "The document root must not be followed by other values."
_VALUE_INVALID = "Invalid value."
_OBJECT_MISS_NAME = "Missing a name for object member."
_OBJECT_MISS_COLON = "Missing a colon after a name of object member."
_OBJECT_MISS_COMMA = "Missing a comma or '}' after an object member."
_ARRAY_MISS_COMMA = "Missing a comma or ']' after an array element."
_BAD_HEX = "Incorrect hex digit after \\u escape in string."
_BAD_SURROGATE = "The surrogate pair in string is invalid."
_BAD_ESCAPE = "Invalid escape character in string."
_MISS_QUOTE = "Missing a closing quotation mark in string."
_BAD_ENCODING = "Invalid encoding in string."
_NUMBER_TOO_BIG = "Number too big to be stored in double."
_MISS_FRACTION = "Miss fraction part in number."
_MISS_EXPONENT = "Miss exponent in number."

_LEADING_WHITESPACE = re.compile(rb"[ \t\n\r]*")


def _first_wins(pairs) -> dict:
    # RapidJSON's FindMember returns the first of repeated names.
    obj = {}
    for key, value in pairs:
        obj.setdefault(key, value)
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_first_wins)
# Bodies Python's decoder would read differently from RapidJSON: integers
# that may not fit 64 bits, exponents that may overflow, escaped surrogates.
# (Translating digits and finding runs is many times faster than a regex.)
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789E", b"000000000e")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _needs_careful_reader(body: bytes) -> bool:
    if b"\\u" in body and _SURROGATE_ESCAPE.search(body):
        return True
    digits = body.translate(_DIGITS_TO_ZERO)
    return (b"0" * 20 in digits or b"e000" in digits or b"e+000" in digits
            or b"e-000" in digits)


class _ParseError(Exception):

    def __init__(self, text: str, offset: int):
        super().__init__(text)
        self.text = text
        self.offset = offset


def parse(body: bytes):
    """The body's root JSON value.

    Raises:
      ServingError: INVALID_ARGUMENT with RapidJSON's message and offset.
    """
    if not body:
        raise status.invalid_argument("JSON Parse error: The document is empty")
    # The C decoder takes containers only: after a number at the root it
    # would stop where RapidJSON reports an error ("1." or "1e").
    start = _LEADING_WHITESPACE.match(body).end()
    if body[start:start + 1] in (b"{", b"[") and not _needs_careful_reader(body):
        try:
            # Whitespace is ASCII: its byte count is its character count.
            return _DECODER.raw_decode(body.decode("utf-8"), start)[0]
        except (ValueError, RecursionError):
            pass
    try:
        return _Reader(body).parse()
    except _ParseError as e:
        raise status.invalid_argument(
            f"JSON Parse error: {e.text} at offset: {e.offset}") from None


def to_bytes(text: str) -> bytes:
    """A parsed JSON string as the bytes the request carried."""
    return text.encode("utf-8", "surrogateescape")


def is_int(value) -> bool:
    """Whether RapidJSON holds `value` as an integer (not a double)."""
    return type(value) is int and INT64_MIN <= value <= UINT64_MAX


def type_string(value) -> str:
    """RapidJSON's type of a value, as upstream's JsonTypeString names it."""
    if value is None:
        return "Null"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, str):
        return "String"
    return "Number"


# ----------------------------------------------------------------- reading

_ESCAPES = {ord('"'): '"', ord("\\"): "\\", ord("/"): "/", ord("b"): "\b",
            ord("f"): "\f", ord("n"): "\n", ord("r"): "\r", ord("t"): "\t"}
_HEX = b"0123456789abcdefABCDEF"
_DIGITS = b"0123456789"
_VALUE_START = frozenset(b'"tfn[{')


class _Reader:
    """RapidJSON's iterative reader, its states, values and error offsets."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def _peek(self) -> int:
        # RapidJSON sees a NUL at the end of the input (and stops at a NUL).
        return self.data[self.pos] if self.pos < len(self.data) else 0

    def _skip_ws(self) -> None:
        data, pos, n = self.data, self.pos, len(self.data)
        while pos < n and data[pos] in b" \t\n\r":
            pos += 1
        self.pos = pos

    def parse(self):
        self._skip_ws()
        if self._peek() == 0:
            raise _ParseError(_DOCUMENT_EMPTY, self.pos)
        c = self._peek()
        if c in b"]},:":
            raise _ParseError(_DOCUMENT_EMPTY, self.pos)
        # Open containers: [container, key of the member being read].
        stack = []
        value, container = self._value_or_open()
        while True:
            if container is not None:
                stack.append([container, None])
                if self._open_next(stack):
                    value, container = self._value_or_open()
                    continue
                value = stack.pop()[0]  # closed right away: [] or {}
            # `value` is complete: attach it, closing parents as they end.
            while True:
                if not stack:
                    return value
                parent, key = stack[-1]
                if isinstance(parent, list):
                    parent.append(value)
                else:
                    parent.setdefault(key, value)  # as _first_wins
                if self._close_or_next(stack):
                    break
                value = stack.pop()[0]
            value, container = self._value_or_open()

    def _value_or_open(self):
        """A scalar value (value, None) or a new container (None, container)."""
        c = self._peek()
        if c == ord("["):
            self.pos += 1
            self._skip_ws()
            return None, []
        if c == ord("{"):
            self.pos += 1
            self._skip_ws()
            return None, {}
        value = self._scalar(c)
        self._skip_ws()
        return value, None

    def _open_next(self, stack) -> bool:
        """After '[' or '{': False if it closes at once, else ready for an item."""
        container = stack[-1][0]
        c = self._peek()
        if isinstance(container, list):
            if c == ord("]"):
                self.pos += 1
                self._skip_ws()
                return False
            if c == 0 or c in b"},:":
                raise _ParseError(_VALUE_INVALID, self.pos)
            return True
        if c == ord("}"):
            self.pos += 1
            self._skip_ws()
            return False
        if c != ord('"'):
            raise _ParseError(_OBJECT_MISS_NAME, self.pos)
        self._member_key(stack)
        return True

    def _member_key(self, stack) -> None:
        stack[-1][1] = self._string()
        self._skip_ws()
        if self._peek() != ord(":"):
            raise _ParseError(_OBJECT_MISS_COLON, self.pos)
        self.pos += 1
        self._skip_ws()
        c = self._peek()
        if c == 0 or c in b"]},:":
            raise _ParseError(_VALUE_INVALID, self.pos)

    def _close_or_next(self, stack) -> bool:
        """After an item: True if another item follows, False if the container closed."""
        container = stack[-1][0]
        c = self._peek()
        if isinstance(container, list):
            if c == ord(","):
                self.pos += 1
                self._skip_ws()
                c = self._peek()
                if c == 0 or c in b"]},:":
                    raise _ParseError(_VALUE_INVALID, self.pos)
                return True
            if c == ord("]"):
                self.pos += 1
                self._skip_ws()
                return False
            raise _ParseError(_ARRAY_MISS_COMMA, self.pos)
        if c == ord(","):
            self.pos += 1
            self._skip_ws()
            if self._peek() != ord('"'):
                raise _ParseError(_OBJECT_MISS_NAME, self.pos)
            self._member_key(stack)
            return True
        if c == ord("}"):
            self.pos += 1
            self._skip_ws()
            return False
        raise _ParseError(_OBJECT_MISS_COMMA, self.pos)

    def _scalar(self, c: int):
        if c == ord('"'):
            return self._string()
        if c == ord("t"):
            return self._literal(b"true", True)
        if c == ord("f"):
            return self._literal(b"false", False)
        if c == ord("n"):
            return self._literal(b"null", None)
        return self._number()

    def _literal(self, word: bytes, value):
        self.pos += 1
        for expected in word[1:]:
            if self._peek() != expected:
                raise _ParseError(_VALUE_INVALID, self.pos)
            self.pos += 1
        return value

    def _string(self) -> str:
        data = self.data
        self.pos += 1  # the opening quote
        out = bytearray()
        while True:
            c = self._peek()
            if c == ord("\\"):
                escape_offset = self.pos
                self.pos += 1
                e = self._peek()
                if e in _ESCAPES:
                    self.pos += 1
                    out += _ESCAPES[e].encode()
                elif e == ord("u"):
                    self.pos += 1
                    code = self._hex4(escape_offset)
                    if 0xD800 <= code <= 0xDFFF:
                        if code > 0xDBFF:
                            raise _ParseError(_BAD_SURROGATE, escape_offset)
                        if self._peek() != ord("\\"):
                            raise _ParseError(_BAD_SURROGATE, escape_offset)
                        self.pos += 1
                        if self._peek() != ord("u"):
                            raise _ParseError(_BAD_SURROGATE, escape_offset)
                        self.pos += 1
                        low = self._hex4(escape_offset)
                        if not 0xDC00 <= low <= 0xDFFF:
                            raise _ParseError(_BAD_SURROGATE, escape_offset)
                        code = ((code - 0xD800) << 10 | (low - 0xDC00)) + 0x10000
                    out += chr(code).encode("utf-8", "surrogatepass")
                else:
                    raise _ParseError(_BAD_ESCAPE, escape_offset)
            elif c == ord('"'):
                self.pos += 1
                return out.decode("utf-8", "surrogateescape")
            elif c < 0x20:
                if c == 0:
                    raise _ParseError(_MISS_QUOTE, self.pos)
                raise _ParseError(_BAD_ENCODING, self.pos)
            else:
                # Copy the run of plain bytes at once.
                end = self.pos + 1
                n = len(data)
                while end < n and data[end] >= 0x20 and data[end] not in b'"\\':
                    end += 1
                out += data[self.pos:end]
                self.pos = end

    def _hex4(self, escape_offset: int) -> int:
        code = 0
        for _ in range(4):
            c = self._peek()
            if c == 0 or c not in _HEX:
                raise _ParseError(_BAD_HEX, escape_offset)
            code = code * 16 + int(chr(c), 16)
            self.pos += 1
        return code

    def _number(self):
        start = self.pos
        minus = self._peek() == ord("-")
        if minus:
            self.pos += 1
        c = self._peek()
        if c in b"NI" and c != 0:
            return self._nan_or_inf(minus)
        if c == 0 or c not in _DIGITS:
            raise _ParseError(_VALUE_INVALID, self.pos)
        int_start = self.pos
        if c == ord("0"):
            self.pos += 1
        else:
            self._digits()
        int_text = self.data[int_start:self.pos]
        is_double = False
        frac_text = b""
        if self._peek() == ord("."):
            self.pos += 1
            c = self._peek()
            if c == 0 or c not in _DIGITS:
                raise _ParseError(_MISS_FRACTION, self.pos)
            frac_start = self.pos
            self._digits()
            frac_text = self.data[frac_start:self.pos]
            is_double = True
        exp = 0
        if self._peek() in b"eE" and self._peek() != 0:
            self.pos += 1
            is_double = True
            exp_minus = False
            if self._peek() == ord("+"):
                self.pos += 1
            elif self._peek() == ord("-"):
                self.pos += 1
                exp_minus = True
            c = self._peek()
            if c == 0 or c not in _DIGITS:
                raise _ParseError(_MISS_EXPONENT, self.pos)
            exp_start = self.pos
            self._digits()
            exp_digits = self.data[exp_start:self.pos].lstrip(b"0") or b"0"
            # Past nine digits the number is zero or too big either way.
            exp = int(exp_digits) if len(exp_digits) <= 9 else 10**9
            if exp_minus:
                exp = -exp
            # RapidJSON refuses a positive exponent beyond 308 (less the
            # fraction's digits) before it computes anything.
            elif exp > 308 + len(frac_text):
                raise _ParseError(_NUMBER_TOO_BIG, start)
        if not is_double and len(int_text) <= 20:
            value = int(int_text)
            if minus:
                value = -value
            if INT64_MIN <= value <= UINT64_MAX:
                return value
        text = (b"-" if minus else b"") + int_text
        if frac_text:
            text += b"." + frac_text
        text += b"e%d" % exp
        value = float(text)
        if math.isinf(value):
            raise _ParseError(_NUMBER_TOO_BIG, start)
        return value

    def _digits(self) -> None:
        data, pos, n = self.data, self.pos, len(self.data)
        while pos < n and data[pos] in _DIGITS:
            pos += 1
        self.pos = pos

    def _nan_or_inf(self, minus: bool) -> float:
        if self._peek() == ord("N"):
            self.pos += 1
            for expected in b"aN":
                if self._peek() != expected:
                    raise _ParseError(_VALUE_INVALID, self.pos)
                self.pos += 1
            return math.nan
        self.pos += 1  # 'I'
        for expected in b"nf":
            if self._peek() != expected:
                raise _ParseError(_VALUE_INVALID, self.pos)
            self.pos += 1
        if self._peek() == ord("i"):
            for expected in b"inity":
                if self._peek() != expected:
                    raise _ParseError(_VALUE_INVALID, self.pos)
                self.pos += 1
        return -math.inf if minus else math.inf


# ----------------------------------------------------------------- writing

_HEX_UPPER = "0123456789ABCDEF"
_STRING_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t",
                   "\n": "\\n", "\f": "\\f", "\r": "\\r"}
for _c in range(0x20):
    _STRING_ESCAPES.setdefault(
        chr(_c), "\\u00" + _HEX_UPPER[_c >> 4] + _HEX_UPPER[_c & 0xF])
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\]')


def quote(text: str) -> str:
    """A JSON string literal as RapidJSON's Writer escapes it."""
    return '"' + _NEEDS_ESCAPE.sub(lambda m: _STRING_ESCAPES[m.group()], text) + '"'


class _Full(Exception):
    """The debug writer's byte limit was reached."""


class PrettyWriter:
    """RapidJSON's PrettyWriter (4-space indent), with kFormatSingleLineArray.

    `single_line_arrays` may be switched while writing, as upstream does;
    `limit` stops writing once the output has that many characters, as
    upstream's JsonWriterWithLimit.
    """

    def __init__(self, single_line_arrays: bool = False, limit: int | None = None):
        self.single_line_arrays = single_line_arrays
        self._limit = limit
        self._out = []
        self._size = 0
        self._levels = []  # [in_array, value_count]

    def text(self) -> str:
        return "".join(self._out)

    def _put(self, text: str) -> None:
        self._out.append(text)
        self._size += len(text)

    def _check(self) -> None:
        if self._limit is not None and self._size >= self._limit:
            raise _Full()

    def _prefix(self) -> None:
        if not self._levels:
            return
        level = self._levels[-1]
        if level[0]:
            if level[1]:
                self._put(", " if self.single_line_arrays else ",")
            if not self.single_line_arrays:
                self._put("\n" + "    " * len(self._levels))
        else:
            if level[1]:
                self._put(",\n" if level[1] % 2 == 0 else ": ")
            else:
                self._put("\n")
            if level[1] % 2 == 0:
                self._put("    " * len(self._levels))
        level[1] += 1

    def raw(self, text: str) -> None:
        """Any scalar already in JSON form (number, true, null, a quoted string)."""
        self._check()
        self._prefix()
        self._put(text)

    def string(self, text: str) -> None:
        self.raw(quote(text))

    key = string

    def start_object(self) -> None:
        self._check()
        self._prefix()
        self._put("{")
        self._levels.append([False, 0])

    def end_object(self) -> None:
        self._check()
        count = self._levels.pop()[1]
        if count:
            self._put("\n" + "    " * len(self._levels))
        self._put("}")

    def start_array(self) -> None:
        self._check()
        self._prefix()
        self._put("[")
        self._levels.append([True, 0])

    def end_array(self) -> None:
        self._check()
        count = self._levels.pop()[1]
        if count and not self.single_line_arrays:
            self._put("\n" + "    " * len(self._levels))
        self._put("]")


def _write_value(writer: PrettyWriter, value) -> None:
    """A parsed value through RapidJSON's Value::Accept (NaN/Inf stop it)."""
    if isinstance(value, dict):
        writer.start_object()
        for k, v in value.items():
            writer.key(k)
            _write_value(writer, v)
        writer.end_object()
    elif isinstance(value, list):
        writer.start_array()
        for v in value:
            _write_value(writer, v)
        writer.end_array()
    elif isinstance(value, str):
        writer.string(value)
    elif value is None:
        writer.raw("null")
    elif value is True or value is False:
        writer.raw("true" if value else "false")
    elif is_int(value):
        writer.raw(str(value))
    else:
        text = shortest_double(float(value))
        if text is None:
            raise _Full()
        writer.raw(text)


_DEBUG_LIMIT = 256


def debug_string(value) -> str:
    """Upstream's JsonValueToDebugString: single-line arrays, cut after 256 bytes."""
    writer = PrettyWriter(single_line_arrays=True, limit=_DEBUG_LIMIT)
    try:
        _write_value(writer, value)
    except _Full:
        pass
    return writer.text()


def shortest_double(value: float) -> str | None:
    """RapidJSON's Writer::Double text (shortest digits, its own layout); None for NaN/Inf."""
    if math.isnan(value) or math.isinf(value):
        return None
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    k = (int(exponent) if exponent else 0) - len(fraction)
    stripped = digits.rstrip("0")
    k += len(digits) - len(stripped)
    digits = stripped
    length = len(digits)
    kk = length + k  # position of the decimal point
    if 0 <= k and kk <= 21:
        return sign + digits + "0" * k + ".0"
    if 0 < kk <= 21:
        return sign + digits[:kk] + "." + digits[kk:]
    if -6 < kk <= 0:
        return sign + "0." + "0" * -kk + digits
    if length == 1:
        return sign + digits + "e" + str(kk - 1)
    return sign + digits[0] + "." + digits[1:] + "e" + str(kk - 1)


def decimal(value: float, is_double: bool) -> str:
    """Upstream's WriteDecimal: six significant digits when they round-trip."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "-Infinity" if value < 0 else "Infinity"
    text = "%g" % value
    back = float(text)
    if not is_double:
        back = _to_float32(back)
    if back != value:
        text = ("%.17g" if is_double else "%.9g") % value
    if "." not in text and "e" not in text:
        text += ".0"
    return text


def _to_float32(value: float) -> float:
    import numpy as np  # pylint: disable=g-import-not-at-top
    return float(np.float32(value))
