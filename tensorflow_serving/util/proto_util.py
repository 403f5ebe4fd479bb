"""Upstream's ParseProtoTextFile: a text-format protobuf file into a message.

Files are read through TensorFlow's file systems (tf.io.gfile) when the path
names a scheme (gs://, s3://, hdfs://, ram://, file://, ...), so every file
system TensorFlow has works as upstream's Env does; plain local paths are read
directly, which keeps TensorFlow's import off the start of the server until a
config is known to be good. Errors are ServingErrors whose one-line message
names the file, the message type and the parser's line and column.
"""

from google.protobuf import text_format

from tensorflow_serving.util import status


def has_scheme(path: str) -> bool:
    """Whether `path` is a URI (scheme://...) rather than a local path."""
    scheme, sep, _ = path.partition("://")
    return bool(sep) and scheme.isidentifier()


def read_file(path: str) -> bytes:
    """The contents of `path`; NOT_FOUND / UNAVAILABLE naming it if unreadable."""
    if has_scheme(path):
        import tensorflow as tf  # pylint: disable=g-import-not-at-top
        try:
            with tf.io.gfile.GFile(path, "rb") as f:
                return f.read()
        except tf.errors.NotFoundError:
            raise status.not_found(f"{path}; No such file or directory") from None
        except tf.errors.OpError as e:
            raise status.ServingError(_grpc_code(e), f"{path}: {e.message}") from None
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise status.not_found(f"{path}; No such file or directory") from None
    except IsADirectoryError:
        raise status.failed_precondition(f"{path}; Is a directory") from None
    except OSError as e:
        raise status.unavailable(f"{path}; {e.strerror or e}") from None


def _grpc_code(error):
    import grpc  # pylint: disable=g-import-not-at-top
    for code in grpc.StatusCode:
        if code.value[0] == error.error_code:
            return code
    return grpc.StatusCode.UNKNOWN


def parse_text(text, message, source: str = "<text>"):
    """Parses text-format `text` into `message` (cleared first); returns it.

    Raises:
      ServingError: INVALID_ARGUMENT naming the line and column of the error.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise status.invalid_argument(
                f"Invalid protobuf file: '{source}': not UTF-8 text (byte "
                f"{e.start})") from None
    message.Clear()
    try:
        text_format.Parse(text, message)
    except text_format.ParseError as e:
        detail = str(e)
        line, column = e.GetLine(), e.GetColumn()
        if line is not None:
            # The parser puts "line:column : " in front; keep ours only.
            prefix = f"{line}:{column} : "
            if detail.startswith(prefix):
                detail = detail[len(prefix):]
            where = f"{line}:{column}: "
        else:
            where = ""
        raise status.invalid_argument(
            f"Invalid protobuf file: '{source}': Error parsing text-format "
            f"{message.DESCRIPTOR.full_name}: {where}{detail}") from None
    return message


def parse_proto_text_file(path: str, message):
    """Reads `path` and parses it into `message`; returns the message."""
    return parse_text(read_file(path), message, path)
