"""Fuzz: thousands of mutated Predict requests never crash or hang the server.

Takes the valid and invalid requests of predict_requests.cases() as seeds,
mutates them with a fixed seed, half the time field by field (dtypes, dims,
ranks, tensor_content, names, versions, labels, filters, aliases) and half
byte by byte (bit flips, byte changes, insertions, deletions, truncations,
duplicated and spliced ranges), and sends them as raw
bytes, eight at a time, to the server's native data plane, some with
deadlines so short that calls are cancelled mid-flight. Any answer is fine;
the server must keep running, answer every call before its deadline, and
still serve a valid request correctly at the end.
"""

import collections
import concurrent.futures
import os
import random
import tempfile

import grpc
from absl.testing import absltest

from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.model_servers.test_util import predict_requests
from tensorflow_serving.model_servers.test_util import server_runner

NUM_REQUESTS = 4000
SEED = 20261130
# Every call gets this long, except the share that gets a deadline so short it
# expires while the server works on the call.
DEADLINE_S = 60.0
SHORT_DEADLINE_S = 0.002
SHORT_SHARE = 0.05


def mutate(rng: random.Random, data: bytes, seeds) -> bytes:
    """Half the time at the protobuf level, else at the byte level."""
    if rng.random() < 0.5:
        mutated = mutate_fields(rng, data)
        if mutated is not None:
            return mutated
    return mutate_bytes(rng, data, seeds)


def mutate_fields(rng: random.Random, data: bytes):
    """A parseable request with some fields changed, or None."""
    request = predict_pb2.PredictRequest()
    try:
        request.ParseFromString(data)
    except Exception:  # pylint: disable=broad-except
        return None
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(7)
        tensors = list(request.inputs.values())
        if op == 0 and tensors:  # dtype, including unknown ones
            rng.choice(tensors).dtype = rng.randrange(32)
        elif op == 1 and tensors:  # a dim: zero, negative, bigger (bounded)
            shape = rng.choice(tensors).tensor_shape
            if shape.dim:
                rng.choice(shape.dim).size = rng.choice((0, -1, -7, 1, 2, 17, 1000))
            else:
                shape.dim.add(size=rng.randint(0, 50))
        elif op == 2 and tensors:  # unknown rank, or rank changes
            shape = rng.choice(tensors).tensor_shape
            if rng.random() < 0.3:
                shape.unknown_rank = not shape.unknown_rank
            elif shape.dim and rng.random() < 0.5:
                del shape.dim[-1]
            else:
                shape.dim.add(size=rng.randint(0, 4))
        elif op == 3 and tensors:  # random tensor_content
            rng.choice(tensors).tensor_content = bytes(
                rng.randrange(256) for _ in range(rng.choice((0, 1, 3, 4, 8, 12, 33))))
        elif op == 4:  # names and versions
            spec = request.model_spec
            choice = rng.randrange(4)
            if choice == 0:
                spec.signature_name = rng.choice(
                    ("", "with_defaults", "echo_string", "nope", "echo_bool"))
            elif choice == 1:
                spec.version.value = rng.choice((0, 1, 2, -1, 2**62))
            elif choice == 2:
                spec.version_label = rng.choice(("stable", "canary", "", "nope"))
            else:
                spec.name = rng.choice(("all_dtypes", "half_plus_two", "", "nope"))
        elif op == 5:  # output filters
            request.output_filter.append(rng.choice(("y", "sum", "total", "x", "")))
        elif op == 6:  # inputs added or renamed
            alias = rng.choice(("x", "a", "b", "inputs", "z"))
            source = rng.choice(tensors) if tensors else predict_pb2.PredictRequest().inputs[""]
            request.inputs[alias].CopyFrom(source)
    return request.SerializeToString()


def mutate_bytes(rng: random.Random, data: bytes, seeds) -> bytes:
    data = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        op = rng.randrange(8)
        if op <= 2 and data:  # flip bits
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(len(data))
                data[i] ^= 1 << rng.randrange(8)
        elif op == 3 and data:  # overwrite a byte, often with an edge value
            data[rng.randrange(len(data))] = rng.choice((0x00, 0x7F, 0x80, 0xFF,
                                                         rng.randrange(256)))
        elif op == 4:  # insert random bytes
            i = rng.randrange(len(data) + 1)
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 5 and data:  # delete a range
            i = rng.randrange(len(data))
            del data[i:i + rng.randint(1, 16)]
        elif op == 6 and data:  # truncate
            del data[rng.randrange(len(data)):]
        elif op == 7:  # duplicate a range, or splice in part of another seed
            other = rng.choice(seeds) if rng.random() < 0.5 else bytes(data)
            if other:
                i = rng.randrange(len(other))
                piece = other[i:i + rng.randint(1, 64)]
                j = rng.randrange(len(data) + 1)
                data[j:j] = piece
    return bytes(data)


class NativeFuzzTest(absltest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = server_runner.ServerRunner(
            predict_requests.server_args(tempfile.mkdtemp()), rest=False)
        cls.server.start(models=predict_requests.MODELS)
        cls.server.wait_for_version("half_plus_two", 1)
        if os.environ.get("MODEL_SERVER_ASAN"):  # --config=asan: really under ASan?
            with open(f"/proc/{cls.server.process.pid}/maps", encoding="utf-8") as f:
                assert "libasan" in f.read(), "the server runs without ASan"

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        super().tearDownClass()

    def test_mutated_requests(self):
        seeds = [data for _, data in predict_requests.cases()]
        rng = random.Random(SEED)
        calls = []
        for _ in range(NUM_REQUESTS):
            short = rng.random() < SHORT_SHARE
            calls.append((mutate(rng, rng.choice(seeds), seeds),
                          SHORT_DEADLINE_S if short else DEADLINE_S))
        method = self.server.channel.unary_unary(predict_requests.PREDICT)

        def send(call):
            data, deadline = call
            try:
                method(data, timeout=deadline)
                return "OK", deadline
            except grpc.RpcError as e:
                return e.code().name, deadline

        codes = collections.Counter()
        hung = 0
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for code, deadline in pool.map(send, calls):
                codes[code] += 1
                if code == "DEADLINE_EXCEEDED" and deadline == DEADLINE_S:
                    hung += 1
        summary = ", ".join(f"{code} {n}" for code, n in codes.most_common())
        print(f"{NUM_REQUESTS} mutated requests: {summary}")
        self.assertIsNone(self.server.process.poll(),
                          f"the server died: {summary}\n{self.server.logs()}")
        self.assertEqual(hung, 0, f"calls that never got an answer: {summary}")
        self.assertNotIn("UNAVAILABLE", codes, summary)
        # Mutations of valid requests stay valid often enough to reach a run.
        self.assertGreater(codes["OK"], NUM_REQUESTS // 20, summary)

        request = predict_pb2.PredictRequest()
        request.model_spec.name = "half_plus_two"
        request.inputs["x"].CopyFrom(predict_requests.tensor("float", [2.0], [1, 1]))
        response = self.server.prediction_stub.Predict(request, timeout=30)
        self.assertEqual(list(response.outputs["y"].float_val), [4.0])
        self.assertEqual(response.model_spec.version.value, 2)


    def test_wrong_message_counts_cancellations_and_methods(self):
        # Calls the native plane answers or relays, each with 0 to 3 request
        # messages where exactly one is right, some cancelled while running.
        methods = [predict_requests.PREDICT] + [
            f"/tensorflow.serving.PredictionService/{m}"
            for m in ("Classify", "Regress", "MultiInference", "GetModelMetadata")] + [
            "/tensorflow.serving.ModelService/GetModelStatus",
            "/grpc.health.v1.Health/Check", "/no.such.Service/Method"]
        seeds = [data for _, data in predict_requests.cases()]
        rng = random.Random(SEED + 1)

        def send(i):
            method = self.server.channel.stream_unary(methods[i % len(methods)])
            messages = [rng.choice(seeds) for _ in range(i % 4)]
            timeout = SHORT_DEADLINE_S if i % 5 == 0 else DEADLINE_S
            try:
                method(iter(messages), timeout=timeout)
                return "OK", timeout
            except grpc.RpcError as e:
                return e.code().name, timeout

        codes = collections.Counter()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for code, timeout in pool.map(send, range(40 * len(methods))):
                codes[code] += 1
                self.assertFalse(code == "DEADLINE_EXCEEDED" and timeout == DEADLINE_S)
        summary = ", ".join(f"{code} {n}" for code, n in codes.most_common())
        self.assertIsNone(self.server.process.poll(),
                          f"the server died: {summary}\n{self.server.logs()}")
        self.assertNotIn("UNAVAILABLE", codes, summary)
        self.assertIn("OK", codes, summary)


if __name__ == "__main__":
    absltest.main()
