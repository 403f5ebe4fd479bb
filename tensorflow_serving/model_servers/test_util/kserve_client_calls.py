"""KServe's v2 clients against a server, run by KServe's SDK venv
(@kserve_client//:python), which kserve_client_test drives.

  kserve_client_calls.py REST_URL GRPC_ADDRESS MODEL

Calls InferenceRESTClient (protocol v2) and InferenceGRPCClient as their
users do: liveness, readiness, a model's readiness (and that of a model that
is not there), and an inference of half_plus_two's `x` with JSON and with
binary data over REST and over gRPC, at the latest version and, over gRPC (the
REST client names no versions), at the label `stable`. Prints one JSON object
of what they answered; an exception is recorded as "<type>: <message>".
"""

import asyncio
import json
import sys

import numpy as np
from kserve import InferenceGRPCClient
from kserve import InferenceRESTClient
from kserve import InferInput
from kserve import InferRequest
from kserve import RESTConfig
from kserve.protocol.infer_type import RequestedOutput

X = np.array([[1.0], [2.0], [5.0]], dtype=np.float32)


def _request(model, binary=True, version=None):
    tensor = InferInput("x", list(X.shape), "FP32")
    tensor.set_data_from_numpy(X, binary_data=binary)
    return InferRequest(model_name=model, infer_inputs=[tensor], model_version=version,
                        request_outputs=[RequestedOutput("y", {"binary_data": binary})])


def _outputs(response):
    return {"model_version": response.model_version,
            "outputs": {o.name: o.as_numpy().tolist() for o in response.outputs}}


async def _record(results, key, call):
    try:
        results[key] = await call
    except Exception as e:  # pylint: disable=broad-except
        results[key] = f"{type(e).__name__}: {e}"


async def main(rest_url, grpc_address, model):
    rest_results, grpc_results = {}, {}
    rest = InferenceRESTClient(RESTConfig(protocol="v2"))
    try:
        await _record(rest_results, "live", rest.is_server_live(rest_url))
        await _record(rest_results, "ready", rest.is_server_ready(rest_url))
        await _record(rest_results, "model_ready", rest.is_model_ready(rest_url, model))
        await _record(rest_results, "missing_model_ready",
                      rest.is_model_ready(rest_url, "no_such_model"))
        for binary in (False, True):
            response = await rest.infer(rest_url, _request(model, binary), model_name=model)
            rest_results["binary" if binary else "json"] = _outputs(response)
    finally:
        await rest.close()
    grpc = InferenceGRPCClient(grpc_address)
    try:
        await _record(grpc_results, "live", grpc.is_server_live())
        await _record(grpc_results, "ready", grpc.is_server_ready())
        await _record(grpc_results, "model_ready", grpc.is_model_ready(model))
        await _record(grpc_results, "missing_model_ready", grpc.is_model_ready("no_such_model"))
        grpc_results["latest"] = _outputs(await grpc.infer(_request(model)))
        grpc_results["stable"] = _outputs(await grpc.infer(_request(model, version="stable")))
    finally:
        await grpc.close()
    print(json.dumps({"rest": rest_results, "grpc": grpc_results}))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    asyncio.run(main(*sys.argv[1:]))
