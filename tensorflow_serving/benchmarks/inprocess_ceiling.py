"""The model ceiling: calls/s of the SavedModel in-process, no server at all.

Loads the export the way a TF1 server does (Session + the signature's tensor
names) and calls it in a tight loop with a batch of one, through
Session.make_callable and through the C++ callable servers use:
what our server's gRPC path would reach if the RPC and tensor conversion were
free. Run as a script (the benchmark pins it to the server's core):
`inprocess_ceiling.py --model_dir=D --duration_s=S --image_file=F.npy`; prints
one JSON object.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # pylint: disable=g-import-not-at-top


def _time_loop(call, image, duration_s: float, warmup_calls: int) -> dict:
    for _ in range(warmup_calls):
        scores = call(image)
    calls = 0
    start = time.perf_counter()
    deadline = start + duration_s
    cpu_start = time.process_time()
    while True:
        # Check the clock every 64 calls: cheap, but not free next to a call.
        for _ in range(64):
            call(image)
        calls += 64
        now = time.perf_counter()
        if now >= deadline:
            break
    elapsed = now - start
    cpu = time.process_time() - cpu_start
    scores = np.asarray(scores[0] if isinstance(scores, list) else scores)
    return {"calls": calls, "seconds": elapsed, "calls_per_s": calls / elapsed,
            "us_per_call": 1e6 * elapsed / calls, "cpu_us_per_call": 1e6 * cpu / calls,
            "argmax": int(np.argmax(scores[0]))}


def measure(model_dir: str, signature: str, input_alias: str, output_alias: str,
            image: np.ndarray, duration_s: float, warmup_calls: int = 200) -> dict:
    """Both ways to call the graph, each for duration_s / 2.

    "make_callable" is the public Session.make_callable(fetch, feed_list);
    "callable_from_options" is the C++ callable (Session::MakeCallable) behind
    Session._make_callable_from_options, which skips make_callable's Python
    feed handling and is what a tuned server uses. The ceiling is the faster.
    """
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    from tensorflow.core.protobuf import config_pb2  # pylint: disable=g-import-not-at-top
    v1 = tf.compat.v1
    with tf.Graph().as_default() as graph, v1.Session(graph=graph) as sess:
        meta_graph = v1.saved_model.loader.load(sess, ["serve"], model_dir)
        signature_def = meta_graph.signature_def[signature]
        feed_name = signature_def.inputs[input_alias].name
        fetch_name = signature_def.outputs[output_alias].name
        public = sess.make_callable(graph.get_tensor_by_name(fetch_name),
                                    feed_list=[graph.get_tensor_by_name(feed_name)])
        from_options = sess._make_callable_from_options(  # pylint: disable=protected-access
            config_pb2.CallableOptions(feed=[feed_name], fetch=[fetch_name]))
        ways = {
            "make_callable": _time_loop(public, image, duration_s / 2, warmup_calls),
            "callable_from_options": _time_loop(from_options, image, duration_s / 2,
                                                warmup_calls),
        }
    best = max(ways, key=lambda k: ways[k]["calls_per_s"])
    result = dict(ways[best])
    result.update(method=best, ways=ways)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model_dir", required=True)
    parser.add_argument("--image_file", required=True, help=".npy, float32 [1, 784]")
    parser.add_argument("--duration_s", type=float, default=5.0)
    parser.add_argument("--signature", default="predict_images")
    parser.add_argument("--input_alias", default="images")
    parser.add_argument("--output_alias", default="scores")
    args = parser.parse_args(argv)
    image = np.load(args.image_file)
    result = measure(args.model_dir, args.signature, args.input_alias,
                     args.output_alias, image, args.duration_s)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
