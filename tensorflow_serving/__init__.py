"""The repo's half of the `tensorflow_serving` package.

pip's tensorflow-serving-api installs a regular package of the same name
(holding `apis/` and `config/`), while this repo keeps its own modules under
`tensorflow_serving/` exactly as upstream's sources do. Whichever directory
Python finds first would otherwise hide the other; `extend_path` merges every
`tensorflow_serving/` directory on sys.path into one package, so both
`tensorflow_serving.apis.predict_pb2` and `tensorflow_serving.core...` import.
"""

import pkgutil

__path__ = pkgutil.extend_path(__path__, __name__)
