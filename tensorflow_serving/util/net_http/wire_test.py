from absl.testing import absltest
from absl.testing import parameterized

from tensorflow_serving.util.net_http import wire


def parse(raw: bytes):
    head, end = wire.parse_head(bytearray(raw), 0, 0)
    return head, end


class ParseHeadTest(parameterized.TestCase):

    def test_request_line_and_headers(self):
        raw = (b"POST /v1/models/m:predict?x=1 HTTP/1.1\r\nHost: h\r\n"
               b"Content-Type:  application/json \r\nContent-Length: 2\r\n\r\n{}")
        head, end = parse(raw)
        self.assertEqual(end, len(raw) - 2)
        self.assertEqual(head.method, "POST")
        self.assertEqual(head.uri_path, "/v1/models/m:predict?x=1")
        self.assertEqual(head.version, (1, 1))
        self.assertEqual(head.header("content-type"), "application/json")
        self.assertEqual(head.content_length, 2)
        self.assertTrue(head.keep_alive)
        self.assertFalse(head.chunked)

    def test_bare_line_feeds(self):
        head, end = parse(b"GET /a HTTP/1.1\nHost: h\n\nrest")
        self.assertEqual(head.uri_path, "/a")
        self.assertEqual(end, len(b"GET /a HTTP/1.1\nHost: h\n\n"))

    def test_incomplete_head_needs_more(self):
        buf = bytearray(b"GET /a HTTP/1.1\r\nHost: h\r\n")
        head, scan = wire.parse_head(buf, 0, 0)
        self.assertIsNone(head)
        buf += b"\r\n"
        head, end = wire.parse_head(buf, 0, scan)
        self.assertEqual(end, len(buf))

    def test_absolute_form_target(self):
        head, _ = parse(b"GET http://host:8501/v1/models/m?q HTTP/1.1\r\n\r\n")
        self.assertEqual(head.uri_path, "/v1/models/m?q")
        head, _ = parse(b"GET http://host HTTP/1.1\r\n\r\n")
        self.assertEqual(head.uri_path, "/")

    def test_folded_header_joins_previous(self):
        head, _ = parse(b"GET / HTTP/1.1\r\nX-A: one\r\n  two\r\n\r\n")
        self.assertEqual(head.header("X-A"), "one two")

    def test_keep_alive_rules(self):
        self.assertFalse(parse(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")[0]
                         .keep_alive)
        self.assertFalse(parse(b"GET / HTTP/1.0\r\n\r\n")[0].keep_alive)
        self.assertTrue(parse(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")[0]
                        .keep_alive)

    def test_identical_content_lengths_are_one(self):
        head, _ = parse(b"POST / HTTP/1.1\r\nContent-Length: 3\r\n"
                        b"Content-Length: 3, 3\r\n\r\n")
        self.assertEqual(head.content_length, 3)

    def test_chunked_wins_over_content_length_and_closes(self):
        head, _ = parse(b"POST / HTTP/1.1\r\nContent-Length: 3\r\n"
                        b"Transfer-Encoding: Chunked\r\n\r\n")
        self.assertTrue(head.chunked)
        self.assertIsNone(head.content_length)
        self.assertFalse(head.keep_alive)

    def test_expect_continue(self):
        self.assertTrue(parse(b"POST / HTTP/1.1\r\nExpect: 100-Continue\r\n\r\n")[0]
                        .expect_continue)
        # HTTP/1.0 has no Expect.
        self.assertFalse(parse(b"POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n")[0]
                         .expect_continue)

    @parameterized.named_parameters(
        ("conflicting_content_length",
         b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 26\r\n\r\n",
         400, "Conflicting Content-Length"),
        ("conflicting_content_length_list",
         b"POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n", 400, "Conflicting"),
        ("negative_content_length",
         b"POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400, "Invalid Content-Length"),
        ("empty_content_length",
         b"POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", 400, "Invalid Content-Length"),
        ("hex_content_length",
         b"POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", 400, "Invalid"),
        ("transfer_encoding_not_chunked",
         b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "chunked"),
        ("transfer_encoding_gzip_chunked",
         b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "gzip"),
        ("http09", b"GET /\r\n", 400, "no HTTP version"),
        ("http2_preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, "2.0"),
        ("bad_version", b"GET / HTTX/1.1\r\n\r\n", 400, "version"),
        ("space_before_colon", b"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400, "header"),
        ("header_without_colon", b"GET / HTTP/1.1\r\nHost\r\n\r\n", 400, "header"),
        ("control_char_target", b"GET /a\x00b HTTP/1.1\r\n\r\n", 400, "target"),
        ("unknown_method", b"BREW /pot HTTP/1.1\r\n\r\n", 501, "BREW"),
        ("trace", b"TRACE / HTTP/1.1\r\n\r\n", 501, "TRACE"),
        ("connect", b"CONNECT h:443 HTTP/1.1\r\n\r\n", 501, "CONNECT"),
        ("expect_other", b"POST / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", 417, "Expect"),
    )
    def test_rejected(self, raw, status, fragment):
        with self.assertRaises(wire.ProtocolError) as cm:
            parse(raw)
        self.assertEqual(cm.exception.status, status)
        self.assertIn(fragment, cm.exception.message)

    @parameterized.named_parameters(
        ("tls_client_hello", bytes.fromhex("16030100c4010000c00303")),
        ("binary", b"\x00\xff\xfe"),
        ("json_instead_of_request", b'{"instances": '),
    )
    def test_garbage_rejected_before_a_line_ends(self, raw):
        with self.assertRaises(wire.ProtocolError) as cm:
            wire.parse_head(bytearray(raw), 0, 0)
        self.assertEqual(cm.exception.status, 400)

    def test_partial_request_line_waits(self):
        for raw in (b"G", b"POST /v1/mod", b"\r"):
            self.assertEqual(wire.parse_head(bytearray(raw), 0, 0), (None, 0))

    def test_oversized_heads(self):
        with self.assertRaises(wire.ProtocolError) as cm:
            wire.parse_head(bytearray(b"GET /" + b"a" * wire.MAX_HEAD_BYTES), 0, 0)
        self.assertEqual(cm.exception.status, 414)
        raw = b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * (wire.MAX_HEAD_BYTES // 8)
        with self.assertRaises(wire.ProtocolError) as cm:
            wire.parse_head(bytearray(raw), 0, 0)
        self.assertEqual(cm.exception.status, 431)

    def test_blank_lines_between_requests_are_skipped(self):
        buf = bytearray(b"\r\n\nGET / HTTP/1.1\r\n\r\n")
        pos = wire.skip_blank_lines(buf, 0)
        self.assertEqual(pos, 3)
        self.assertEqual(wire.parse_head(buf, pos, pos)[0].method, "GET")


class ChunkedDecoderTest(absltest.TestCase):

    def test_decodes_in_any_split(self):
        raw = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT"
        for step in (1, 2, 7, len(raw)):
            decoder = wire.ChunkedDecoder(None)
            buf = bytearray()
            pos = 0
            for i in range(0, len(raw), step):
                buf += raw[i:i + step]
                pos = decoder.feed(buf, pos)
                if decoder.done:
                    break
            self.assertTrue(decoder.done, step)
            self.assertEqual(bytes(decoder.body), b"hello world")
            self.assertEqual(bytes(buf[pos:]), b"NEXT"[:len(buf) - pos])

    def test_bare_line_feeds(self):
        decoder = wire.ChunkedDecoder(None)
        buf = bytearray(b"3\nabc\n0\n\n")
        self.assertEqual(decoder.feed(buf, 0), len(buf))
        self.assertTrue(decoder.done)

    def test_limit_applies_to_the_sum_of_chunks(self):
        decoder = wire.ChunkedDecoder(8)
        buf = bytearray(b"5\r\nhello\r\n")
        decoder.feed(buf, 0)
        with self.assertRaises(wire.ProtocolError) as cm:
            decoder.feed(bytearray(b"4\r\n"), 0)
        self.assertEqual(cm.exception.status, 413)

    def test_malformed(self):
        for raw in (b"zz\r\n", b"-1\r\n", b"5\r\nhelloXX", b"1" * 17 + b"\r\n",
                    b"5" + b" " * 5000):
            with self.assertRaises(wire.ProtocolError, msg=raw):
                wire.ChunkedDecoder(None).feed(bytearray(raw), 0)


class ResponseTest(absltest.TestCase):

    def test_head_order_and_framing(self):
        head = wire.response_head((1, 1), 200, [("Content-Type", "application/json"),
                                                ("X", "y")], 12, close=False)
        lines = head.decode().split("\r\n")
        self.assertEqual(lines[0], "HTTP/1.1 200 OK")
        self.assertEqual([l.split(":")[0] for l in lines[1:5]],
                         ["Content-Type", "X", "Date", "Content-Length"])
        self.assertIn("Content-Length: 12", lines)
        self.assertTrue(head.endswith(b"\r\n\r\n"))
        self.assertNotIn(b"Connection", head)

    def test_default_content_type_and_connection(self):
        head = wire.response_head((1, 0), 400, [], 0, close=False).decode()
        self.assertTrue(head.startswith("HTTP/1.0 400 Bad Request\r\n"))
        self.assertIn(f"Content-Type: {wire.DEFAULT_CONTENT_TYPE}\r\n", head)
        self.assertIn("Connection: keep-alive\r\n", head)
        head = wire.response_head((1, 1), 404, [], 0, close=True).decode()
        self.assertIn("Connection: close\r\n", head)

    def test_reasons_follow_evhttp(self):
        self.assertEqual(wire.reason(504), "Gateway Time-out")
        self.assertEqual(wire.reason(429), "Client Error")
        self.assertEqual(wire.reason(499), "Client Error")

    def test_error_page(self):
        headers, body = wire.error_page(404)
        self.assertEqual(headers, [("Content-Type", "text/html")])
        self.assertEqual(body, b"<HTML><HEAD>\n<TITLE>404 Not Found</TITLE>\n"
                               b"</HEAD><BODY>\n<H1>Not Found</H1>\n</BODY></HTML>\n")
        _, body = wire.error_page(400, "a <b>")
        self.assertIn(b"<P>a &lt;b&gt;</P>", body)


if __name__ == "__main__":
    absltest.main()
