"""json_text: RapidJSON's parse results and errors, its writer's layout."""

import math

import grpc
from absl.testing import absltest
from absl.testing import parameterized

from tensorflow_serving.util import json_text
from tensorflow_serving.util.status import ServingError


class ParseTest(parameterized.TestCase):

    @parameterized.named_parameters(
        ("whitespace_only", b"   ", "The document is empty. at offset: 3"),
        ("closing_bracket", b"]", "The document is empty. at offset: 0"),
        ("nul", b"\x00{}", "The document is empty. at offset: 0"),
        ("invalid_value", b"instances = [1]", "Invalid value. at offset: 0"),
        ("after_comma", b"[1,", "Invalid value. at offset: 3"),
        ("trailing_comma", b"[1,]", "Invalid value. at offset: 3"),
        ("array_separator", b"[1 2]", "Missing a comma or ']' after an array element. at offset: 3"),
        ("leading_zero", b"[01]", "Missing a comma or ']' after an array element. at offset: 2"),
        ("object_name", b"{,}", "Missing a name for object member. at offset: 1"),
        ("object_trailing_comma", b'{"a":1,}', "Missing a name for object member. at offset: 7"),
        ("colon", b'{"a" 1}', "Missing a colon after a name of object member. at offset: 5"),
        ("object_separator", b'{"a":1 "b":2}',
         "Missing a comma or '}' after an object member. at offset: 7"),
        ("unterminated_string", b'"abc', "Missing a closing quotation mark in string. at offset: 4"),
        ("bad_escape", b'["a\\x"]', "Invalid escape character in string. at offset: 3"),
        ("bad_hex", b'["\\u12G4"]', "Incorrect hex digit after \\u escape in string. at offset: 2"),
        ("lone_surrogate", b'["\\ud800"]', "The surrogate pair in string is invalid. at offset: 2"),
        ("control_char", b'["a\x01"]', "Invalid encoding in string. at offset: 3"),
        ("too_big", b"[1e400]", "Number too big to be stored in double. at offset: 1"),
        ("huge_integer", b"[" + b"9" * 400 + b"]",
         "Number too big to be stored in double. at offset: 1"),
        ("no_fraction", b"[1.]", "Miss fraction part in number. at offset: 3"),
        ("no_exponent", b"[1e]", "Miss exponent in number. at offset: 3"),
        ("root_number_no_fraction", b"1.", "Miss fraction part in number. at offset: 2"),
        ("bad_literal", b"[tru]", "Invalid value. at offset: 4"),
        ("minus_alone", b"[-]", "Invalid value. at offset: 2"),
    )
    def test_errors_are_rapidjsons(self, body, expected):
        with self.assertRaises(ServingError) as cm:
            json_text.parse(body)
        self.assertEqual(grpc.StatusCode.INVALID_ARGUMENT, cm.exception.code)
        self.assertEqual("JSON Parse error: " + expected, cm.exception.message)

    def test_empty_body_has_upstreams_own_text(self):
        with self.assertRaises(ServingError) as cm:
            json_text.parse(b"")
        self.assertEqual("JSON Parse error: The document is empty", cm.exception.message)

    def test_values(self):
        doc = json_text.parse(b' {"a": [1, -2, 2.5, "s", true, false, null], "b": {}} tail')
        self.assertEqual({"a": [1, -2, 2.5, "s", True, False, None], "b": {}}, doc)
        self.assertIs(int, type(doc["a"][0]))
        self.assertIs(float, type(doc["a"][2]))

    def test_repeated_names_keep_the_first_as_rapidjson_finds_it(self):
        self.assertEqual({"a": 1}, json_text.parse(b'{"a": 1, "a": 2}'))
        self.assertEqual({"a": 1, "b": -math.inf},
                         json_text.parse(b'{"a": 1, "a": 2, "b": -Inf}'))

    def test_nan_and_inf(self):
        doc = json_text.parse(b"[NaN, -NaN, Inf, -Inf, Infinity, -Infinity]")
        self.assertTrue(math.isnan(doc[0]) and math.isnan(doc[1]))
        self.assertEqual([math.inf, -math.inf, math.inf, -math.inf], doc[2:])

    def test_integer_kinds(self):
        doc = json_text.parse(b"[18446744073709551615, 18446744073709551616, "
                              b"-9223372036854775808, -9223372036854775809]")
        self.assertEqual([int, float, int, float], [type(v) for v in doc])
        self.assertTrue(json_text.is_int(doc[0]))
        self.assertFalse(json_text.is_int(True))

    def test_bytes_that_are_not_utf8_survive(self):
        doc = json_text.parse(b'{"k": "\xff\xfe"}')
        self.assertEqual(b"\xff\xfe", json_text.to_bytes(doc["k"]))

    def test_surrogate_pairs(self):
        self.assertEqual(["\U0001F600"], json_text.parse(b'["\\ud83d\\ude00"]'))

    def test_any_depth(self):
        depth = 300000
        doc = json_text.parse(b"[" * depth + b"]" * depth)
        for _ in range(depth - 1):
            doc = doc[0]
        self.assertEqual([], doc)


class WriterTest(absltest.TestCase):

    def test_debug_string(self):
        self.assertEqual('{\n    "a": [1, 2.5, 1e-7, 1e21, "x\\n\\u0001"],\n    "o": {}\n}',
                         json_text.debug_string(
                             {"a": [1, 2.5, 1e-7, 1e21, "x\n\x01"], "o": {}}))
        self.assertEqual("[1.0, 0.000001, 123456789012.0", json_text.debug_string(
            [1.0, 1e-6, 123456789012.0, math.nan, 2]))
        long = json_text.debug_string(list(range(1000)))
        self.assertGreaterEqual(len(long), 256)
        self.assertLess(len(long), 262)

    def test_shortest_double(self):
        for value, text in [(0.1, "0.1"), (3.0, "3.0"), (1e21, "1e21"), (1e22, "1e22"),
                            (1.5e-7, "1.5e-7"), (1e-6, "0.000001"), (-0.0, "-0.0"),
                            (1.7976931348623157e308, "1.7976931348623157e308")]:
            self.assertEqual(text, json_text.shortest_double(value))
        self.assertIsNone(json_text.shortest_double(math.inf))

    def test_decimal(self):
        self.assertEqual("0.1", json_text.decimal(float.fromhex("0x1.99999ap-4"), False))
        self.assertEqual("123456792.0", json_text.decimal(123456792.0, False))
        self.assertEqual("9e+06", json_text.decimal(9e6, False))
        self.assertEqual("0.33333333333333331", json_text.decimal(1 / 3, True))
        self.assertEqual("-Infinity", json_text.decimal(-math.inf, True))

    def test_pretty_writer_switching_array_layout(self):
        writer = json_text.PrettyWriter()
        writer.start_object()
        writer.key("predictions")
        writer.start_array()
        for value in ("1", "2"):
            writer.single_line_arrays = True
            writer.raw(value)
            writer.single_line_arrays = False
        writer.end_array()
        writer.end_object()
        self.assertEqual('{\n    "predictions": [1, 2\n    ]\n}', writer.text())

    def test_quote(self):
        self.assertEqual('"a\\"b\\\\c\\u001F\\t/é"', json_text.quote('a"b\\c\x1f\t/é'))


if __name__ == "__main__":
    absltest.main()
