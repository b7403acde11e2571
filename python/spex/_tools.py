"""Where the package finds spex itself: the `spex-model` binary (for the
connection patterns) and the model schema (proto/spex/v1/model.proto), from
an installed spex, a checkout, or the environment."""
import hashlib
import importlib.util
import os
import shutil
import subprocess
import tempfile

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_CHECKOUT = os.path.dirname(os.path.dirname(_PACKAGE_DIR))


class SpexNotFound(RuntimeError):
    """spex-model or the model schema cannot be found."""


def spex_model_binary():
    """$SPEX_MODEL, else spex-model on the PATH, else a checkout's build."""
    candidates = [os.environ.get("SPEX_MODEL"), shutil.which("spex-model")]
    for build in ("native", "release"):
        candidates.append(os.path.join(_CHECKOUT, "build", build, "tools", "spex-model"))
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    raise SpexNotFound(
        "spex-model not found: set SPEX_MODEL to its path, put it on the PATH, "
        "or build the checkout (cmake --build build/native)")


def run_spex_model(*args):
    """spex-model's standard output; a RuntimeError with its message on failure."""
    result = subprocess.run([spex_model_binary(), *args], capture_output=True, text=True)
    if result.returncode != 0:
        message = result.stderr.strip().splitlines()
        raise RuntimeError(f"spex-model {args[0]}: " + (message[0] if message else
                                                        f"exit status {result.returncode}"))
    return result.stdout


def _schema_dir():
    """The directory holding spex/v1/model.proto."""
    candidates = [os.environ.get("SPEX_PROTO_DIR"),
                  os.path.join(_PACKAGE_DIR, "proto"),      # installed with pip
                  os.path.join(_CHECKOUT, "proto")]         # a checkout
    for path in candidates:
        if path and os.path.isfile(os.path.join(path, "spex", "v1", "model.proto")):
            return path
    raise SpexNotFound("spex/v1/model.proto not found: set SPEX_PROTO_DIR")


_model_pb2 = None


def model_pb2():
    """The schema's Python module, compiled once per schema version by protoc
    into a cache directory (the generated code is never kept in the source).
    Loaded under a private name, so it cannot collide with this package's
    own name or a user's generated spex.v1 modules."""
    global _model_pb2
    if _model_pb2 is not None:
        return _model_pb2
    proto_dir = _schema_dir()
    schema = os.path.join(proto_dir, "spex", "v1", "model.proto")
    digest = hashlib.sha256(open(schema, "rb").read()).hexdigest()[:16]
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME") or
                         os.path.join(os.path.expanduser("~"), ".cache"),
                         "spex-python", digest)
    generated = os.path.join(cache, "spex", "v1", "model_pb2.py")
    if not os.path.isfile(generated):
        protoc = shutil.which("protoc")
        if protoc is None:
            raise SpexNotFound("protoc not found (Debian: protobuf-compiler)")
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        staging = tempfile.mkdtemp(dir=os.path.dirname(cache))
        subprocess.run([protoc, "-I", proto_dir, "--python_out=" + staging,
                        "spex/v1/model.proto"], check=True)
        try:
            os.rename(staging, cache)
        except OSError:  # another process got there first
            shutil.rmtree(staging, ignore_errors=True)
    spec = importlib.util.spec_from_file_location("_spex_model_pb2", generated)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _model_pb2 = module
    return module
