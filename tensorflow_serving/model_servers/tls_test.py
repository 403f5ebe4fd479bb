"""End-to-end: --ssl_config_file serves gRPC over TLS and mutual TLS.

The certificates (a CA, a server certificate for localhost, a client
certificate) are made for each run with Debian's openssl command.
"""

import os
import shutil
import subprocess

import grpc
from absl.testing import absltest

from tensorflow_serving.model_servers import server_launcher
from tensorflow_serving.model_servers.test_util import server_runner

_request = server_runner.half_plus_two_request


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True,
                   timeout=60)


def make_certificates(directory):
    """Writes ca.pem, server.{key,pem}, client.{key,pem}, other.key into directory."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=tls_test CA", cwd=directory)
    with open(os.path.join(directory, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name in ("server", "client"):
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={'localhost' if name == 'server' else 'tls_test client'}",
                 cwd=directory)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
                 "-extfile", "san.ext", cwd=directory)
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-out", "other.key", cwd=directory)


def _read(directory, name):
    with open(os.path.join(directory, name)) as f:
        return f.read()


def ssl_config_text(server_key, server_cert, custom_ca="", client_verify=False):
    def quoted(text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return (f"server_key: {quoted(server_key)}\nserver_cert: {quoted(server_cert)}\n"
            f"custom_ca: {quoted(custom_ca)}\nclient_verify: "
            f"{'true' if client_verify else 'false'}\n")


@absltest.skipUnless(shutil.which("openssl"), "needs the openssl command")
class TlsTest(server_runner.ServerTestCase):

    def setUp(self):
        super().setUp()
        self.certs = os.path.join(self.tmp, "certs")
        os.makedirs(self.certs)
        make_certificates(self.certs)
        self.base = os.path.join(self.tmp, "m")
        server_runner.export_half_plus_two_versions(self.base, {1: 2.0})

    def _config_file(self, **fields):
        path = os.path.join(self.tmp, "ssl.config")
        with open(path, "w") as f:
            f.write(ssl_config_text(**fields))
        return path

    def _start(self, ssl_config, channel_credentials):
        server = server_launcher.ServerRunner(
            ["--model_name=m", f"--model_base_path={self.base}",
             f"--ssl_config_file={ssl_config}"], rest=False)
        self.addCleanup(server.cleanup)
        channel = grpc.secure_channel(f"localhost:{server.grpc_port}", channel_credentials)
        return server.launch(channel).wait_until_ready(["m"])

    def _channel(self, server, credentials):
        channel = grpc.secure_channel(f"localhost:{server.grpc_port}", credentials)
        self.addCleanup(channel.close)
        return channel

    def assertPredicts(self, channel):
        from tensorflow_serving.apis import prediction_service_pb2_grpc  # pylint: disable=g-import-not-at-top
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(_request("m", [2.0]), timeout=30)
        self.assertEqual(response.outputs["y"].float_val, [3.0])

    def assertRefused(self, channel):
        from tensorflow_serving.apis import prediction_service_pb2_grpc  # pylint: disable=g-import-not-at-top
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        with self.assertRaises(grpc.RpcError) as cm:
            stub.Predict(_request("m", [2.0]), timeout=10)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)

    def test_tls(self):
        ca = _read(self.certs, "ca.pem")
        config = self._config_file(server_key=_read(self.certs, "server.key"),
                                   server_cert=_read(self.certs, "server.pem"))
        server = self._start(config, grpc.ssl_channel_credentials(ca.encode()))
        self.assertPredicts(server.channel)
        self.assertIn("Using SSL credentials", server.logs())
        plain = grpc.insecure_channel(f"localhost:{server.grpc_port}")
        self.addCleanup(plain.close)
        self.assertRefused(plain)

    def test_mutual_tls(self):
        ca = _read(self.certs, "ca.pem").encode()
        client = grpc.ssl_channel_credentials(
            ca, _read(self.certs, "client.key").encode(),
            _read(self.certs, "client.pem").encode())
        config = self._config_file(server_key=_read(self.certs, "server.key"),
                                   server_cert=_read(self.certs, "server.pem"),
                                   custom_ca=ca.decode(), client_verify=True)
        server = self._start(config, client)
        self.assertPredicts(server.channel)
        # Without a client certificate the handshake fails.
        self.assertRefused(self._channel(server, grpc.ssl_channel_credentials(ca)))

    def test_bad_key_or_certificate_fails_at_startup_with_one_line(self):
        cert = _read(self.certs, "server.pem")
        cases = [
            (dict(server_key=_read(self.certs, "other.key"), server_cert=cert),
             "not a usable PEM key and certificate pair"),
            (dict(server_key="not a key", server_cert=cert), "server_key and server_cert"),
            (dict(server_key=_read(self.certs, "server.key"), server_cert=cert,
                  custom_ca="garbage", client_verify=True), "custom_ca"),
        ]
        for fields, fragment in cases:
            config = self._config_file(**fields)
            result = server_launcher.run_to_completion(
                ["--model_name=m", f"--model_base_path={self.base}",
                 f"--ssl_config_file={config}"])
            self.assertNotEqual(result.returncode, 0, result.stderr)
            lines = result.stderr.strip().splitlines()
            self.assertLen(lines, 1, result.stderr)
            self.assertIn(fragment, lines[0])
            self.assertIn(config, lines[0])
        missing = os.path.join(self.tmp, "missing.config")
        result = server_launcher.run_to_completion(
            ["--model_name=m", f"--model_base_path={self.base}",
             f"--ssl_config_file={missing}"])
        self.assertEqual(result.stderr.strip().splitlines(),
                         [f"tensorflow_model_server: --ssl_config_file: {missing}; "
                          "No such file or directory"])


if __name__ == "__main__":
    absltest.main()
