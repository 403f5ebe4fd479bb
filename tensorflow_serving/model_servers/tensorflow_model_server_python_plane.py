"""tensorflow_model_server with the pure Python data plane only.

The same program as tensorflow_model_server, built without the native data
plane, so that tests and the benchmark can run both planes from one build.
"""

from tensorflow_serving.model_servers import native_data_plane
from tensorflow_serving.model_servers import tensorflow_model_server

if __name__ == "__main__":
    native_data_plane.disabled_reason = "this binary is the pure Python plane"
    tensorflow_model_server.run()
