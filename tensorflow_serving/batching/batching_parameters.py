"""Reads upstream's BatchingParameters text format (--batching_parameters_file).

pip's tensorflow-serving-api ships no session_bundle_config_pb2, so the small
protobuf text format of BatchingParameters is parsed here by hand. It accepts
what protobuf's text parser accepts for this message (wrapper fields as
`max_batch_size { value: 128 }` or with `<...>`, an optional `:` before a
message, repeated scalars one per line or as `[8, 16]`, `,`/`;` separators,
`#` comments) and rejects the rest with a ValueError naming the line and the
field, so a typo fails at startup instead of silently using a default.
"""

import codecs
import re

from tensorflow_serving.batching import batching_session
from tensorflow_serving.util import status

# Field name -> kind. Wrapper kinds are google.protobuf.*Value messages.
_INT64_WRAPPER = "google.protobuf.Int64Value"
_STRING_WRAPPER = "google.protobuf.StringValue"
_BOOL_WRAPPER = "google.protobuf.BoolValue"
_REPEATED_INT64 = "repeated int64"
_BOOL = "bool"

_FIELDS = {
    "max_batch_size": _INT64_WRAPPER,
    "batch_timeout_micros": _INT64_WRAPPER,
    "max_enqueued_batches": _INT64_WRAPPER,
    "num_batch_threads": _INT64_WRAPPER,
    "thread_pool_name": _STRING_WRAPPER,
    "allowed_batch_sizes": _REPEATED_INT64,
    "pad_variable_length_inputs": _BOOL,
    "enable_large_batch_splitting": _BOOL_WRAPPER,
    "max_execution_batch_size": _INT64_WRAPPER,
}

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1

_TOKEN_RE = re.compile(r"""
    (?P<space>[ \t\r\f\v]+)
  | (?P<newline>\n)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>-?(?:0[xX][0-9a-fA-F]+|[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?)[fFuUlL]*)
  | (?P<ident>-?[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<punct>[{}<>\[\]:,;])
""", re.VERBOSE)


class _Token:
    __slots__ = ("kind", "text", "line")

    def __init__(self, kind, text, line):
        self.kind = kind
        self.text = text
        self.line = line


def _tokenize(text, source):
    tokens = []
    line = 1
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            raise ValueError(f"{source}:{line}: unexpected character {text[pos]!r}")
        kind = match.lastgroup
        if kind == "newline":
            line += 1
        elif kind not in ("space", "comment"):
            tokens.append(_Token(kind, match.group(), line))
        pos = match.end()
    tokens.append(_Token("eof", "", line))
    return tokens


class _Parser:
    def __init__(self, text, source):
        self._source = source
        self._tokens = _tokenize(text, source)
        self._pos = 0

    def _peek(self):
        return self._tokens[self._pos]

    def _next(self):
        token = self._tokens[self._pos]
        self._pos += 1
        return token

    def error(self, token, message):
        return ValueError(f"{self._source}:{token.line}: {message}")

    def _describe(self, token):
        return "end of input" if token.kind == "eof" else repr(token.text)

    def _accept(self, text):
        if self._peek().kind == "punct" and self._peek().text == text:
            return self._next()
        return None

    def _skip_separator(self):
        if not self._accept(","):
            self._accept(";")

    def parse(self):
        """Returns {field: (value, line)} for the top-level BatchingParameters."""
        fields = {}
        while self._peek().kind != "eof":
            name_token = self._next()
            if name_token.kind != "ident":
                raise self.error(name_token,
                                 f"expected a field name, got {self._describe(name_token)}")
            name = name_token.text
            kind = _FIELDS.get(name)
            if kind is None:
                raise self.error(
                    name_token,
                    f"unknown field '{name}' in BatchingParameters; known fields: "
                    + ", ".join(sorted(_FIELDS)))
            if kind == _REPEATED_INT64:
                values = self._repeated_int64(name)
                previous = fields.get(name)
                if previous is None:
                    fields[name] = (values, name_token.line)
                else:
                    fields[name] = (previous[0] + values, previous[1])
            else:
                if name in fields:
                    raise self.error(
                        name_token,
                        f"field '{name}' is specified more than once (first on line "
                        f"{fields[name][1]}); it is not a repeated field")
                if kind == _BOOL:
                    self._expect_colon(name, name_token)
                    value = self._bool(name)
                else:
                    value = self._wrapper(name, kind, name_token)
                fields[name] = (value, name_token.line)
            self._skip_separator()
        return fields

    def _expect_colon(self, name, name_token):
        token = self._peek()
        if token.kind == "punct" and token.text in ("{", "<"):
            raise self.error(token, f"field '{name}' is a plain scalar: write `{name}: ...`")
        if not self._accept(":"):
            raise self.error(token,
                             f"expected ':' after field '{name}', got {self._describe(token)}")

    def _wrapper(self, name, kind, name_token):
        self._accept(":")
        open_token = self._next()
        if open_token.kind != "punct" or open_token.text not in ("{", "<"):
            example = {_INT64_WRAPPER: "128", _STRING_WRAPPER: '"name"',
                       _BOOL_WRAPPER: "true"}[kind]
            raise self.error(
                open_token,
                f"field '{name}' is a {kind} message: write `{name} {{ value: {example} }}`, "
                f"got {self._describe(open_token)}")
        close = "}" if open_token.text == "{" else ">"
        value = {_INT64_WRAPPER: 0, _STRING_WRAPPER: "", _BOOL_WRAPPER: False}[kind]
        seen_value = False
        while True:
            token = self._next()
            if token.kind == "punct" and token.text == close:
                return value
            if token.kind == "eof":
                raise self.error(token, f"missing '{close}' closing field '{name}' "
                                 f"(opened on line {open_token.line})")
            if token.kind != "ident" or token.text != "value":
                raise self.error(
                    token, f"unknown field {self._describe(token)} in '{name}' ({kind} has only "
                    "'value')")
            if seen_value:
                raise self.error(token, f"'value' is specified more than once in '{name}'")
            seen_value = True
            self._expect_colon(f"{name}.value", token)
            if kind == _INT64_WRAPPER:
                value = self._int64(f"{name}.value")
            elif kind == _BOOL_WRAPPER:
                value = self._bool(f"{name}.value")
            else:
                value = self._string(f"{name}.value")
            self._skip_separator()

    def _repeated_int64(self, name):
        token = self._peek()
        if not self._accept(":"):
            raise self.error(token,
                             f"expected ':' after field '{name}', got {self._describe(token)}")
        if not self._accept("["):
            return [self._int64(name)]
        values = []
        if self._accept("]"):
            return values
        while True:
            values.append(self._int64(name))
            if self._accept("]"):
                return values
            token = self._next()
            if token.kind != "punct" or token.text != ",":
                raise self.error(token, f"expected ',' or ']' in the list of '{name}', got "
                                 f"{self._describe(token)}")

    def _int64(self, name):
        token = self._next()
        text = token.text
        if token.kind != "number":
            raise self.error(token, f"field '{name}' expects an integer, got "
                             f"{self._describe(token)}")
        negative = text.startswith("-")
        digits = text[1:] if negative else text
        try:
            if digits[:2] in ("0x", "0X"):
                value = int(digits, 16)
            elif len(digits) > 1 and digits[0] == "0":
                value = int(digits, 8)
            else:
                value = int(digits, 10)
        except ValueError:
            raise self.error(token, f"field '{name}' expects an integer, got {text!r}") from None
        value = -value if negative else value
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise self.error(token, f"field '{name}': {text} is out of range for int64")
        return value

    def _bool(self, name):
        token = self._next()
        if token.text in ("true", "True", "t", "1"):
            return True
        if token.text in ("false", "False", "f", "0"):
            return False
        raise self.error(token, f"field '{name}' expects true or false, got "
                         f"{self._describe(token)}")

    def _string(self, name):
        token = self._next()
        if token.kind != "string":
            raise self.error(token, f"field '{name}' expects a quoted string, got "
                             f"{self._describe(token)}")
        parts = [token]
        while self._peek().kind == "string":  # adjacent literals concatenate
            parts.append(self._next())
        try:
            return "".join(
                codecs.decode(p.text[1:-1].encode("latin-1", "backslashreplace"),
                              "unicode_escape")
                for p in parts)
        except (UnicodeError, ValueError) as e:
            raise self.error(token, f"field '{name}': bad string literal ({e})") from None


def parse_batching_parameters(
        text: str, source: str = "<batching parameters>") -> batching_session.BatchingOptions:
    """Parses BatchingParameters text into BatchingOptions (unset fields: upstream defaults).

    Raises ValueError naming the line and field on malformed or unknown input,
    and on values BatchingSession would refuse (e.g. allowed_batch_sizes whose
    last entry is not max_batch_size), which upstream reports at model load.
    """
    fields = _Parser(text, source).parse()
    options = batching_session.BatchingOptions()
    for name, (value, _) in fields.items():
        if name == "allowed_batch_sizes":
            value = tuple(value)
        setattr(options, name, value)
    try:
        options.validate()
    except status.ServingError as e:
        # Point at the first set field the complaint is about.
        mentioned = [(e.message.find(n), line, n) for n, (_, line) in fields.items()
                     if n in e.message]
        if mentioned:
            _, line, name = min(mentioned)
            raise ValueError(f"{source}:{line}: invalid '{name}': {e.message}") from None
        raise ValueError(f"{source}: invalid BatchingParameters: {e.message}") from None
    return options


def parse_batching_parameters_file(path: str) -> batching_session.BatchingOptions:
    """Reads --batching_parameters_file; ValueError (with the path) if unreadable or bad."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ValueError(f"Cannot read batching parameters file {path}: {e}") from None
    return parse_batching_parameters(text, source=path)
