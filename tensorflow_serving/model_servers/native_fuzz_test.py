"""Fuzz: thousands of mutated requests never crash or hang the server.

Takes the valid and invalid requests of all five PredictionService methods
(inference_requests.cases()) as seeds, mutates them with a fixed seed, most
of the time field by field (Predict: dtypes, dims, ranks, tensor_content,
filters, aliases; Classify, Regress and MultiInference: examples and their
features, contexts, tasks, method names; GetModelMetadata: metadata fields;
and every method's names, versions and labels) and else byte by byte (bit
flips, byte changes, insertions, deletions, truncations, duplicated and
spliced ranges), and sends them as raw bytes, eight at a time, to the
server's native data plane, some with deadlines so short that calls are
cancelled mid-flight. Any answer is fine; the server must keep running,
answer every call before its deadline, and still serve valid requests
correctly at the end.
"""

import collections
import concurrent.futures
import os
import random
import tempfile

import grpc
from absl.testing import absltest

from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.model_servers.test_util import inference_requests
from tensorflow_serving.model_servers.test_util import predict_requests
from tensorflow_serving.model_servers.test_util import server_runner

NUM_REQUESTS = 6000
SEED = 20261130
# Every call gets this long, except the share that gets a deadline so short it
# expires while the server works on the call.
DEADLINE_S = 60.0
SHORT_DEADLINE_S = 0.002
SHORT_SHARE = 0.05


_SIGNATURES = ("", "with_defaults", "echo_string", "nope", "echo_bool", "classify_both",
               "classify_scores", "classify_first_row", "classify_same_tensor", "regress_1d",
               "regress_2d", "regress_wide", "regress_wrong_input", "classify_x_to_y",
               "regress_x_to_y", "serving_default")
_MODELS = ("all_dtypes", "half_plus_two", "inference", "", "nope")


def mutate(rng: random.Random, method: str, data: bytes, seeds) -> bytes:
    """Mostly at the protobuf level (parseable requests reach the native
    plane's checks and runs), else at the byte level."""
    if rng.random() < 0.6:
        mutated = mutate_fields(rng, method, data)
        if mutated is not None:
            return mutated
    return mutate_bytes(rng, data, seeds)


def mutate_fields(rng: random.Random, method: str, data: bytes):
    """A parseable request with some fields changed, or None."""
    request = inference_requests.REQUEST_TYPES[method]()
    try:
        request.ParseFromString(data)
    except Exception:  # pylint: disable=broad-except
        return None
    mutate_message = {
        inference_requests.PREDICT: _mutate_predict,
        inference_requests.CLASSIFY: _mutate_examples_request,
        inference_requests.REGRESS: _mutate_examples_request,
        inference_requests.MULTI_INFERENCE: _mutate_multi_inference,
        inference_requests.GET_MODEL_METADATA: _mutate_metadata,
    }[method]
    for _ in range(rng.randint(1, 2)):
        mutate_message(rng, request)
    return request.SerializeToString()


def _mutate_spec(rng: random.Random, spec) -> None:
    choice = rng.randrange(4)
    if choice == 0:
        spec.signature_name = rng.choice(_SIGNATURES)
    elif choice == 1:
        spec.version.value = rng.choice((0, 1, 2, -1, 2**62))
    elif choice == 2:
        spec.version_label = rng.choice(("stable", "canary", "", "nope"))
    else:
        spec.name = rng.choice(_MODELS)


def _random_feature(rng: random.Random, feature) -> None:
    kind = rng.randrange(4)
    count = rng.choice((0, 1, 2, 2, 3, 50))
    if kind == 0:
        feature.float_list.value.extend(rng.uniform(-1e6, 1e6) for _ in range(count))
    elif kind == 1:
        feature.int64_list.value.extend(rng.randint(-2**63, 2**63 - 1) for _ in range(count))
    elif kind == 2:
        feature.bytes_list.value.extend(
            bytes(rng.randrange(256) for _ in range(rng.randint(0, 9))) for _ in range(count))
    # else: a feature of no kind


def _random_example(rng: random.Random, example) -> None:
    for _ in range(rng.randint(0, 3)):
        name = rng.choice(("x", "k", "z", "", "x" * 40))
        feature = example.features.feature[name]
        feature.Clear()
        if name == "x" and rng.random() < 0.6:  # what the inference model parses
            feature.float_list.value.extend(rng.uniform(-9, 9) for _ in range(2))
        elif name == "k" and rng.random() < 0.6:
            feature.int64_list.value.append(rng.randint(-9, 9))
        else:
            _random_feature(rng, feature)


def _mutate_input(rng: random.Random, input_message) -> None:
    op = rng.randrange(5)
    if op == 0:  # more examples
        for _ in range(rng.randint(1, 40)):
            target = (input_message.example_list_with_context
                      if input_message.HasField("example_list_with_context")
                      else input_message.example_list)
            _random_example(rng, target.examples.add())
    elif op == 1 and input_message.WhichOneof("kind"):  # change one
        target = getattr(input_message, input_message.WhichOneof("kind"))
        if target.examples:
            _random_example(rng, rng.choice(target.examples))
    elif op == 2:  # a context, moving the examples along
        examples = list(input_message.example_list.examples)
        if examples:
            input_message.example_list_with_context.examples.extend(examples)
        _random_example(rng, input_message.example_list_with_context.context)
    elif op == 3:
        input_message.Clear()
    else:
        target = (input_message.example_list_with_context
                  if input_message.HasField("example_list_with_context")
                  else input_message.example_list)
        del target.examples[rng.randrange(len(target.examples) + 1):]


def _mutate_examples_request(rng: random.Random, request) -> None:
    if rng.random() < 0.4:
        _mutate_spec(rng, request.model_spec)
    elif rng.random() < 0.1:
        request.ClearField("model_spec")
    else:
        _mutate_input(rng, request.input)


def _mutate_multi_inference(rng: random.Random, request) -> None:
    op = rng.randrange(4)
    if op == 0 or not request.tasks:
        task = request.tasks.add()
        task.model_spec.name = rng.choice(_MODELS[:3])
        task.model_spec.signature_name = rng.choice(_SIGNATURES)
        task.method_name = rng.choice(("tensorflow/serving/classify",
                                       "tensorflow/serving/regress", "nope"))
    elif op == 1:
        _mutate_spec(rng, rng.choice(request.tasks).model_spec)
    elif op == 2:
        del request.tasks[rng.randrange(len(request.tasks))]
    else:
        _mutate_input(rng, request.input)


def _mutate_metadata(rng: random.Random, request) -> None:
    if rng.random() < 0.5:
        _mutate_spec(rng, request.model_spec)
    else:
        request.metadata_field.append(rng.choice(("signature_def", "", "nope")))


def _mutate_predict(rng: random.Random, request) -> None:
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
        _mutate_spec(rng, request.model_spec)
    elif op == 5:  # output filters
        request.output_filter.append(rng.choice(("y", "sum", "total", "x", "")))
    elif op == 6:  # inputs added or renamed
        alias = rng.choice(("x", "a", "b", "inputs", "z"))
        source = rng.choice(tensors) if tensors else predict_pb2.PredictRequest().inputs[""]
        request.inputs[alias].CopyFrom(source)


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
            inference_requests.server_args(tempfile.mkdtemp()), rest=False)
        cls.server.start(models=inference_requests.MODELS)
        cls.server.wait_for_version("half_plus_two", 1)
        if os.environ.get("MODEL_SERVER_ASAN"):  # --config=asan: really under ASan?
            with open(f"/proc/{cls.server.process.pid}/maps", encoding="utf-8") as f:
                assert "libasan" in f.read(), "the server runs without ASan"

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        super().tearDownClass()

    def test_mutated_requests(self):
        seeds = collections.defaultdict(list)
        for _, method, data in inference_requests.cases():
            seeds[method].append(data)
        seed_bytes = [data for _, _, data in inference_requests.cases()]
        rng = random.Random(SEED)
        calls = []
        for _ in range(NUM_REQUESTS):
            short = rng.random() < SHORT_SHARE
            method = rng.choice(inference_requests.METHODS)  # each as often
            calls.append((method, mutate(rng, method, rng.choice(seeds[method]), seed_bytes),
                          SHORT_DEADLINE_S if short else DEADLINE_S))
        stubs = {method: self.server.channel.unary_unary(method)
                 for method in inference_requests.METHODS}

        def send(call):
            method, data, deadline = call
            try:
                stubs[method](data, timeout=deadline)
                return method, "OK", deadline
            except grpc.RpcError as e:
                return method, e.code().name, deadline

        codes = collections.Counter()
        ok = collections.Counter()
        hung = 0
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for method, code, deadline in pool.map(send, calls):
                codes[code] += 1
                ok[method] += code == "OK"
                if code == "DEADLINE_EXCEEDED" and deadline == DEADLINE_S:
                    hung += 1
        summary = ", ".join(f"{code} {n}" for code, n in codes.most_common())
        print(f"{NUM_REQUESTS} mutated requests: {summary}; OK by method: "
              + ", ".join(f"{m.rsplit('/', 1)[1]} {n}" for m, n in ok.items()))
        self.assertIsNone(self.server.process.poll(),
                          f"the server died: {summary}\n{self.server.logs()}")
        self.assertEqual(hung, 0, f"calls that never got an answer: {summary}")
        self.assertNotIn("UNAVAILABLE", codes, summary)
        # Mutations of valid requests stay valid often enough to reach a run,
        # for every method.
        self.assertGreater(codes["OK"], NUM_REQUESTS // 20, summary)
        for method in inference_requests.METHODS:
            self.assertGreater(ok[method], NUM_REQUESTS // 200, (method, dict(ok)))
        self.assertServes()

    def assertServes(self):
        """Every method still answers a valid request correctly."""
        stub = self.server.prediction_stub
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "half_plus_two"
        request.inputs["x"].CopyFrom(predict_requests.tensor("float", [2.0], [1, 1]))
        response = stub.Predict(request, timeout=30)
        self.assertEqual(list(response.outputs["y"].float_val), [4.0])
        self.assertEqual(response.model_spec.version.value, 2)
        examples = [inference_requests.example([1.5, -2.0]), inference_requests.example()]
        classification = stub.Classify(classification_pb2.ClassificationRequest.FromString(
            inference_requests.classify("classify_both", examples)), timeout=30)
        self.assertEqual([[(c.label, c.score) for c in cl.classes]
                          for cl in classification.result.classifications],
                         [[("1.50", 1.5), ("-2.00", -2.0)], [("0.00", 0.0), ("0.00", 0.0)]])
        regression = stub.Regress(inference_requests.REQUEST_TYPES[
            inference_requests.REGRESS].FromString(
                inference_requests.regress("regress_1d", examples)), timeout=30)
        self.assertEqual([r.value for r in regression.result.regressions], [1.5, 0.0])
        multi = stub.MultiInference(inference_requests.REQUEST_TYPES[
            inference_requests.MULTI_INFERENCE].FromString(inference_requests.multi(
                [("inference", "regress_2d", "tensorflow/serving/regress")], examples)),
                                    timeout=30)
        self.assertEqual([r.value for r in multi.results[0].regression_result.regressions],
                         [1.5, 0.0])
        metadata = stub.GetModelMetadata(inference_requests.REQUEST_TYPES[
            inference_requests.GET_MODEL_METADATA].FromString(
                inference_requests.metadata()), timeout=30)
        self.assertEqual(metadata.model_spec.version.value, 1)


    def test_wrong_message_counts_cancellations_and_methods(self):
        # Calls the native plane answers or relays, each with 0 to 3 request
        # messages where exactly one is right, some cancelled while running.
        methods = list(inference_requests.METHODS) + [
            "/tensorflow.serving.ModelService/GetModelStatus",
            "/grpc.health.v1.Health/Check", "/no.such.Service/Method"]
        seeds = [data for _, _, data in inference_requests.cases()]
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
        self.assertServes()


if __name__ == "__main__":
    absltest.main()
