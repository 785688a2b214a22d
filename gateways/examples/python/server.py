#!/usr/bin/python3
"""An example payorch gateway adapter in Python: the template to copy when writing your own.

It serves payorch.gateway.v1.PaymentGateway (protos/payorch/gateway/v1/gateway.proto) and the
standard grpc.health.v1.Health/Check, on Debian's python3-grpcio and python3-protobuf only.
The "gateway" itself is example_gateway.py; this file is the gRPC glue: it turns requests into
plain values, calls the gateway, and maps outcomes and exceptions to the contract's answers.

    /usr/bin/python3 server.py [--listen HOST:PORT] [--state-file PATH] [--stubs-dir DIR]

Without --stubs-dir, the stubs are generated at start (generate.sh, into a temporary folder that
is removed at exit). SIGTERM or SIGINT: health turns NOT_SERVING, calls in flight get up to 5 s
to finish, then the process exits 0. Bad settings exit 2.

Logs are logfmt lines on stderr: one per call (rpc, job_id, attempt, key, result, replayed) and
one `msg=effect` line per effect. Never the token or the raw event: both hold secrets.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from concurrent import futures

import grpc

import example_gateway as eg

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_LISTEN = "127.0.0.1:50061"
SERVICE_NAME = "payorch.gateway.v1.PaymentGateway"
# Bounds: threads that run handlers, calls accepted at once (more get RESOURCE_EXHAUSTED, which
# payorch retries), keys remembered, and the grace period for calls in flight at shutdown.
WORKER_THREADS = 16
MAX_CONCURRENT_RPCS = 256
MAX_KEYS = 1_000_000
SHUTDOWN_GRACE_SECONDS = 5.0


# --- logging ------------------------------------------------------------------------------------

_log_lock = threading.Lock()


def log(level: str, msg: str, **fields) -> None:
    """One logfmt line on stderr: ts=... level=... msg=... key=value..."""
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
    parts = [f"ts={now.replace('+00:00', 'Z')}", f"level={level}", f"msg={_logfmt(msg)}"]
    parts += [f"{name}={_logfmt(value)}" for name, value in fields.items()]
    with _log_lock:
        sys.stderr.write(" ".join(parts) + "\n")
        sys.stderr.flush()


def _logfmt(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if text == "" or re.search(r'[\s"=\\]', text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


# --- configuration ------------------------------------------------------------------------------


class ConfigError(Exception):
    pass


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Example payorch gateway adapter (Python).")
    parser.add_argument("--listen", default=os.environ.get("PAYORCH_EXAMPLE_LISTEN", DEFAULT_LISTEN),
                        help="HOST:PORT to serve on; port 0 picks a free port "
                             "(env PAYORCH_EXAMPLE_LISTEN, default %(default)s)")
    parser.add_argument("--state-file", default=os.environ.get("PAYORCH_EXAMPLE_STATE_FILE"),
                        help="append-only record of outcomes, reloaded at start, so a restart "
                             "keeps honouring keys (env PAYORCH_EXAMPLE_STATE_FILE; default: "
                             "memory only)")
    parser.add_argument("--stubs-dir", default=os.environ.get("PAYORCH_EXAMPLE_STUBS_DIR"),
                        help="folder with stubs made by generate.sh (env "
                             "PAYORCH_EXAMPLE_STUBS_DIR; default: generate them at start)")
    parser.add_argument("--tls-cert-file", default=os.environ.get("PAYORCH_EXAMPLE_TLS_CERT_FILE"),
                        help="PEM certificate chain: serve TLS (env PAYORCH_EXAMPLE_TLS_CERT_FILE; "
                             "default: plaintext)")
    parser.add_argument("--tls-key-file", default=os.environ.get("PAYORCH_EXAMPLE_TLS_KEY_FILE"),
                        help="PEM private key of --tls-cert-file (env PAYORCH_EXAMPLE_TLS_KEY_FILE)")
    parser.add_argument("--tls-client-ca-file",
                        default=os.environ.get("PAYORCH_EXAMPLE_TLS_CLIENT_CA_FILE"),
                        help="PEM CA: require client certificates it signed, mutual TLS (env "
                             "PAYORCH_EXAMPLE_TLS_CLIENT_CA_FILE)")
    parser.add_argument("--check-config", action="store_true",
                        help="validate the settings and exit 0 without serving")
    return parser.parse_args(argv)


def read_pem(flag, path) -> bytes:
    try:
        with open(path, "rb") as f:
            pem = f.read()
    except OSError as error:
        raise ConfigError(f"{flag}: cannot read {path}: {error.strerror}")
    if b"-----BEGIN" not in pem:
        raise ConfigError(f"{flag}: {path} is not a PEM file")
    return pem


def server_credentials(args):
    """grpc.ServerCredentials for the --tls-* flags, or None for plaintext."""
    if not args.tls_cert_file:
        if args.tls_key_file or args.tls_client_ca_file:
            raise ConfigError("--tls-key-file and --tls-client-ca-file need --tls-cert-file")
        return None
    if not args.tls_key_file:
        raise ConfigError("--tls-cert-file needs --tls-key-file")
    chain = read_pem("--tls-cert-file", args.tls_cert_file)
    key = read_pem("--tls-key-file", args.tls_key_file)
    ca = read_pem("--tls-client-ca-file", args.tls_client_ca_file) if args.tls_client_ca_file else None
    # With a client CA: mutual TLS, a client without a certificate it signed fails the handshake.
    return grpc.ssl_server_credentials([(key, chain)], root_certificates=ca,
                                       require_client_auth=ca is not None)


def validate(args) -> None:
    host, sep, port = args.listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"--listen must be HOST:PORT, got {args.listen!r}")
    if args.state_file:
        folder = os.path.dirname(os.path.abspath(args.state_file))
        if not os.path.isdir(folder):
            raise ConfigError(f"--state-file: folder {folder} does not exist")
    if args.stubs_dir:
        if not os.path.isfile(os.path.join(args.stubs_dir, "payorch/gateway/v1/gateway_pb2.py")):
            raise ConfigError(f"--stubs-dir: no generated stubs in {args.stubs_dir} "
                              "(run generate.sh DIR)")
    elif not os.path.isfile(os.path.join(HERE, "../../../protos/payorch/gateway/v1/gateway.proto")):
        raise ConfigError("cannot find protos/ to generate stubs from; run generate.sh DIR "
                          "PROTO_ROOT and pass --stubs-dir DIR")
    server_credentials(args)


# --- stubs --------------------------------------------------------------------------------------


def load_stubs(stubs_dir: str):
    """Imports the generated modules from `stubs_dir` (made by generate.sh)."""
    sys.path.insert(0, stubs_dir)
    names = ["payorch.gateway.v1.gateway_pb2", "payorch.gateway.v1.gateway_pb2_grpc",
             "payorch_example_health.health_pb2", "payorch_example_health.health_pb2_grpc"]
    return [importlib.import_module(name) for name in names]


def generate_stubs(out_dir: str) -> None:
    result = subprocess.run([os.path.join(HERE, "generate.sh"), out_dir],
                            capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise ConfigError("generating stubs failed: " + result.stderr.strip())


# --- the gRPC services --------------------------------------------------------------------------


class InFlight:
    """Counts calls inside a handler, so that shutdown waits for them and nothing else: gRPC
    Python's server.stop(grace) also waits out the grace period while a client merely keeps an
    idle connection open, which payorch's worker always does."""

    def __init__(self):
        self._count = 0
        self._idle = threading.Condition()

    def __enter__(self):
        with self._idle:
            self._count += 1

    def __exit__(self, *_):
        with self._idle:
            self._count -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._count == 0, timeout)


def make_servicers(gateway_pb2, gateway_pb2_grpc, health_pb2, health_pb2_grpc,
                   gateway: eg.ExampleGateway, in_flight: InFlight):
    """Builds the two servicers; a function only because their base classes are generated."""

    def to_proto(outcome: eg.Outcome):
        result = gateway_pb2.PaymentResult(
            status=gateway_pb2.PaymentResult.Status.Value(outcome.status),
            gateway_reference=outcome.gateway_reference,
            decline_code=outcome.decline_code,
            message=outcome.message)
        if outcome.amount is not None:
            result.amount.amount_minor = outcome.amount.amount_minor
            result.amount.currency = outcome.amount.currency
        return result

    class PaymentGateway(gateway_pb2_grpc.PaymentGatewayServicer):
        # Authorize, Capture and Terminate share one path: a real adapter would call a different
        # gateway operation for each (inside ExampleGateway._perform_effect), but the idempotency
        # handling is the same for all three, and one key never causes two effects even when it
        # arrives with a different method.
        def Authorize(self, request, context):
            with in_flight:
                return self._pay("Authorize", request, context)

        def Capture(self, request, context):
            with in_flight:
                return self._pay("Capture", request, context)

        def Terminate(self, request, context):
            with in_flight:
                return self._pay("Terminate", request, context)

        def GetPaymentStatus(self, request, context):
            with in_flight:
                return self._status(request, context)

        def _status(self, request, context):
            try:
                outcome = gateway.status(request.idempotency_key)
            except eg.InvalidRequest as error:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
            log("info", "call", rpc="GetPaymentStatus", key=request.idempotency_key,
                found=outcome is not None)
            if outcome is None:
                return gateway_pb2.GetPaymentStatusResponse(found=False)
            return gateway_pb2.GetPaymentStatusResponse(found=True, result=to_proto(outcome))

        def _pay(self, rpc, request, context):
            if not request.HasField("meta"):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "meta is required")
            meta = request.meta
            amount = None
            # Authorize and Capture carry an optional amount (payorch does not always know it);
            # Terminate has none.
            if rpc != "Terminate" and request.HasField("amount"):
                amount = eg.Money(request.amount.amount_minor, request.amount.currency)
            fields = dict(rpc=rpc, job_id=meta.job_id, attempt=meta.attempt,
                          key=meta.idempotency_key)
            remaining = context.time_remaining()
            if remaining is not None and remaining <= 0:
                # payorch has given up on this call already: start nothing. (Work that has
                # started is finished and recorded even when the deadline passes meanwhile, so
                # the retry with the same key gets its result.)
                log("info", "call", **fields, result="DEADLINE_EXCEEDED")
                context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline passed before start")
            # Map the gateway's answers onto the contract's gRPC codes (see gateway.proto):
            # a business decline is OK + DECLINED, never an error code.
            try:
                outcome, replayed = gateway.pay(rpc, meta.idempotency_key, request.event.token,
                                                amount)
            except eg.InvalidRequest as error:  # permanent: payorch marks the job dead
                log("warn", "call", **fields, result="INVALID_ARGUMENT", reason=str(error))
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
            except eg.Unavailable as error:  # transient, nothing happened: payorch retries
                log("info", "call", **fields, result="UNAVAILABLE")
                context.abort(grpc.StatusCode.UNAVAILABLE, str(error))
            except eg.TooManyKeys as error:  # transient, nothing happened
                log("warn", "call", **fields, result="RESOURCE_EXHAUSTED")
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(error))
            # Any other exception becomes gRPC UNKNOWN, which payorch treats as "in doubt" and
            # resolves with GetPaymentStatus: the right answer when we cannot tell what happened.
            log("info", "call", **fields, result=outcome.status, replayed=replayed)
            return to_proto(outcome)

    class Health(health_pb2_grpc.HealthServicer):
        """grpc.health.v1.Health/Check for "" (the server) and the gateway service. Watch is
        left UNIMPLEMENTED: it would hold a handler thread per watcher."""

        def __init__(self):
            self.serving = True

        def Check(self, request, context):
            if request.service not in ("", SERVICE_NAME):
                context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.service!r}")
            status = "SERVING" if self.serving else "NOT_SERVING"
            return health_pb2.HealthCheckResponse(
                status=health_pb2.HealthCheckResponse.ServingStatus.Value(status))

    return PaymentGateway(), Health()


# --- main ---------------------------------------------------------------------------------------


def serve(args, stubs_dir: str) -> int:
    gateway_pb2, gateway_pb2_grpc, health_pb2, health_pb2_grpc = load_stubs(stubs_dir)
    store = eg.KeyStore(args.state_file)
    gateway = eg.ExampleGateway(
        store, max_keys=MAX_KEYS,
        on_effect=lambda key, outcome: log("info", "effect", key=key, rpc=outcome.rpc,
                                           result=outcome.status,
                                           reference=outcome.gateway_reference))
    in_flight = InFlight()
    payment_servicer, health_servicer = make_servicers(
        gateway_pb2, gateway_pb2_grpc, health_pb2, health_pb2_grpc, gateway, in_flight)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=WORKER_THREADS),
                         maximum_concurrent_rpcs=MAX_CONCURRENT_RPCS,
                         # gRPC Python sets SO_REUSEPORT by default: a second adapter on the
                         # same port would silently share it. Fail instead.
                         options=[("grpc.so_reuseport", 0)])
    gateway_pb2_grpc.add_PaymentGatewayServicer_to_server(payment_servicer, server)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    credentials = server_credentials(args)  # validated at start: cannot fail here
    try:
        if credentials is None:
            port = server.add_insecure_port(args.listen)
        else:
            port = server.add_secure_port(args.listen, credentials)
    except RuntimeError as error:  # gRPC raises or returns 0, depending on the version
        port, reason = 0, str(error)
    else:
        reason = "address in use or not resolvable"
    if port == 0:
        log("error", "cannot listen", address=args.listen, reason=reason)
        return 2

    stop = threading.Event()
    # The handler only sets a flag; the shutdown itself runs on the main thread below.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    server.start()
    host = args.listen.rpartition(":")[0]
    log("info", "listening", address=f"{host}:{port}", known_keys=len(store),
        state_file=args.state_file or "")
    stop.wait()

    log("info", "stopping", grace_s=SHUTDOWN_GRACE_SECONDS)
    health_servicer.serving = False  # load balancers and payorch see NOT_SERVING first
    server.stop(SHUTDOWN_GRACE_SECONDS)  # refuse new calls; those in flight may finish
    if not in_flight.wait_idle(SHUTDOWN_GRACE_SECONDS):
        log("warn", "calls still in flight after the grace period: cancelling them")
    # Closes the connections and cancels what is left: a call accepted but not yet in a handler
    # has caused nothing, and payorch resolves the cancelled call with GetPaymentStatus.
    server.stop(0).wait()
    store.close()
    log("info", "stopped")
    return 0


def main(argv) -> int:
    args = parse_args(argv)
    try:
        validate(args)
    except ConfigError as error:
        print(f"server.py: {error}", file=sys.stderr)
        return 2
    if args.check_config:
        print("configuration ok")
        return 0

    if args.stubs_dir:
        return serve(args, args.stubs_dir)
    temporary = tempfile.mkdtemp(prefix="payorch-example-stubs-")
    try:
        try:
            generate_stubs(temporary)
        except (ConfigError, OSError, subprocess.TimeoutExpired) as error:
            print(f"server.py: {error}", file=sys.stderr)
            return 2
        return serve(args, temporary)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
