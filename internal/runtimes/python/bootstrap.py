"""Gust's Python runtime bootstrap.

A Lambda Runtime API (2018-06-01) client: it imports the function's handler
from LAMBDA_TASK_ROOT and serves invocations until the process is killed.
Standard library only, Python 3.8+. It sits on the cold-start path, so it
imports little: the HTTP client is a small keep-alive client on _socket
(http.client would pull in email and ssl, tripling start-up time), and the
logging integration is installed only when the function imports logging.
"""
import json
import os
import sys
import time
import _socket

_request_id = [""]  # the request being served; "" outside an invocation
_BOOTSTRAP_FILE = os.path.abspath(__file__)


class _ProtocolError(Exception):
    pass


class _RuntimeAPI(object):
    """A keep-alive HTTP/1.1 client for the Runtime API (one connection)."""

    def __init__(self, addr):
        host, sep, port = addr.rpartition(":")
        if not sep:
            host, port = addr, "80"
        self.host = host.strip("[]") or "127.0.0.1"
        self.port = int(port)
        self.hostport = addr
        self.sock = None
        self.buf = bytearray()

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.buf = bytearray()

    def _connect(self):
        err = OSError("cannot resolve %s" % self.host)
        # A bytes host skips the idna codec, one import fewer at start-up.
        for family, socktype, proto, _, addr in _socket.getaddrinfo(
                self.host.encode("ascii"), self.port, 0, _socket.SOCK_STREAM):
            s = _socket.socket(family, socktype, proto)
            try:
                s.connect(addr)
            except OSError as e:
                s.close()
                err = e
                continue
            s.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            self.sock = s
            self.buf = bytearray()
            return
        raise err

    def request(self, method, path, body=b"", headers=()):
        """Send one request; returns (status, headers dict, body bytes).

        A broken keep-alive connection is reopened and the request sent
        once more. No timeout: /next long-polls.
        """
        for attempt in (0, 1):
            if self.sock is None:
                self._connect()
            try:
                return self._roundtrip(method, path, body, headers)
            except (OSError, _ProtocolError):
                self.close()
                if attempt:
                    raise

    def _roundtrip(self, method, path, body, headers):
        head = ["%s /2018-06-01/runtime%s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n"
                % (method, path, self.hostport, len(body))]
        for k, v in headers:
            head.append("%s: %s\r\n" % (k, v))
        head.append("\r\n")
        self.sock.sendall("".join(head).encode("latin-1") + body)

        status_line = self._readline()
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise _ProtocolError("bad status line %r" % status_line)
        status = int(parts[1])
        hdrs = {}
        while True:
            line = self._readline()
            if not line:
                break
            k, _, v = line.partition(b":")
            hdrs[k.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")

        if hdrs.get("transfer-encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self._readline().split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while self._readline():
                        pass
                    break
                out += self._read_exact(size)
                self._read_exact(2)
            data = bytes(out)
        elif "content-length" in hdrs:
            data = self._read_exact(int(hdrs["content-length"]))
        else:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self.buf += chunk
            data = bytes(self.buf)
            self.close()
        if hdrs.get("connection", "").lower() == "close":
            self.close()
        return status, hdrs, data

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise _ProtocolError("connection closed")
        self.buf += chunk

    def _readline(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            self._fill()

    def _read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


# ---- logging ---------------------------------------------------------------

_LEVELS = {"TRACE": "DEBUG", "DEBUG": "DEBUG", "INFO": "INFO", "WARN": "WARNING",
           "WARNING": "WARNING", "ERROR": "ERROR", "FATAL": "CRITICAL", "CRITICAL": "CRITICAL"}


def _install_logging(logging):
    """Give the root logger Lambda's handler and format."""
    json_format = os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"

    class LambdaHandler(logging.Handler):
        def emit(self, record):
            try:
                msg = self.format(record)
                sys.stdout.write(msg + "\n")
                sys.stdout.flush()
            except Exception:
                self.handleError(record)

    class RequestIdFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = _request_id[0]
            return True

    class JSONFormatter(logging.Formatter):
        def format(self, record):
            out = {
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                + ".%03dZ" % record.msecs,
                "level": record.levelname,
                "message": record.getMessage(),
                "logger": record.name,
                "requestId": record.aws_request_id,
            }
            if record.exc_info:
                out["stackTrace"] = self.formatException(record.exc_info).splitlines()
            return json.dumps(out, default=str)

    handler = LambdaHandler()
    if json_format:
        handler.setFormatter(JSONFormatter())
    else:
        fmt = logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S")
        fmt.converter = time.gmtime
        handler.setFormatter(fmt)
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = _LEVELS.get(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper())
    if level:
        root.setLevel(level)


class _LoggingHook(object):
    """A meta-path finder that installs the logging handler when, and only
    when, something imports logging: it costs ~10 ms to import."""

    def find_spec(self, name, path=None, target=None):
        if name != "logging":
            return None
        sys.meta_path.remove(self)
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find else None
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_install(module):
            exec_module(module)
            _install_logging(module)

        loader.exec_module = exec_and_install
        return spec


# ---- errors ----------------------------------------------------------------

class _Fault(Exception):
    """An init failure with a Lambda error type (Runtime.*)."""

    def __init__(self, error_type, message, stack=None):
        Exception.__init__(self, message)
        self.error_type = error_type
        self.message = message
        self.stack = stack or []


def _user_frames(tb):
    import traceback
    frames = [f for f in traceback.extract_tb(tb)
              if f.filename != _BOOTSTRAP_FILE and not f.filename.startswith("<frozen importlib")]
    return traceback.format_list(frames)


def _error_body(exc, request_id):
    if isinstance(exc, _Fault):
        return {"errorMessage": exc.message, "errorType": exc.error_type,
                "requestId": request_id, "stackTrace": exc.stack}
    return {"errorMessage": str(exc), "errorType": type(exc).__name__,
            "requestId": request_id, "stackTrace": _user_frames(exc.__traceback__)}


def _log_error(body):
    sys.stdout.write("[ERROR] %s: %s\nTraceback (most recent call last):\n%s\n" % (
        body["errorType"], body["errorMessage"], "".join(body["stackTrace"]).rstrip("\n")))
    sys.stdout.flush()


def _header_safe(s):
    v = "".join(c if " " <= c <= "~" else "_" for c in str(s))
    return v or "Unhandled"


def _post_error(api, path, body):
    _log_error(body)
    data = json.dumps(body, default=str).encode("utf-8")
    return api.request("POST", path, data, (
        ("Content-Type", "application/json"),
        ("Lambda-Runtime-Function-Error-Type", _header_safe(body["errorType"]))))


# ---- handler ---------------------------------------------------------------

def _load_handler(handler):
    modname, _, fname = handler.rpartition(".")
    if not modname or not fname:
        raise _Fault("Runtime.MalformedHandlerName",
                     "Bad handler '%s': not enough values to unpack (expected 2, got 1)" % handler)
    modname = modname.replace("/", ".")
    import importlib
    try:
        module = importlib.import_module(modname)
    except ImportError as e:
        raise _Fault("Runtime.ImportModuleError",
                     "Unable to import module '%s': %s" % (modname, e))
    except SyntaxError as e:
        stack = ['  File "%s" Line %s\n    %s\n' % (e.filename, e.lineno, (e.text or "").strip())]
        raise _Fault("Runtime.UserCodeSyntaxError",
                     "Syntax error in module '%s': %s" % (modname, e), stack)
    except (TypeError, ValueError) as e:
        if modname.startswith(".") or ".." in modname:
            raise _Fault("Runtime.MalformedHandlerName", "Bad handler '%s': %s" % (handler, e))
        raise
    fn = getattr(module, fname, None)
    if fn is None:
        raise _Fault("Runtime.HandlerNotFound",
                     "Handler '%s' missing on module '%s'" % (fname, modname))
    return fn


class CognitoIdentity(object):
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, raw):
        self.cognito_identity_id = raw.get("cognitoIdentityId")
        self.cognito_identity_pool_id = raw.get("cognitoIdentityPoolId")


class Client(object):
    __slots__ = ("installation_id", "app_title", "app_version_name",
                 "app_version_code", "app_package_name")

    def __init__(self, raw):
        self.installation_id = raw.get("installation_id")
        self.app_title = raw.get("app_title")
        self.app_version_name = raw.get("app_version_name")
        self.app_version_code = raw.get("app_version_code")
        self.app_package_name = raw.get("app_package_name")


class ClientContext(object):
    __slots__ = ("client", "custom", "env")

    def __init__(self, raw):
        self.client = Client(raw["client"]) if isinstance(raw.get("client"), dict) else None
        self.custom = raw.get("custom")
        self.env = raw.get("env")


def _json_header(headers, name):
    v = headers.get(name)
    if not v:
        return None
    try:
        d = json.loads(v)
    except ValueError:
        return None
    return d if isinstance(d, dict) else None


class LambdaContext(object):
    def __init__(self, request_id, deadline_ms, arn, headers):
        env = os.environ
        self.aws_request_id = request_id
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = arn
        try:
            self.memory_limit_in_mb = int(env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        except ValueError:
            self.memory_limit_in_mb = 128
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = CognitoIdentity(_json_header(headers, "lambda-runtime-cognito-identity") or {})
        cc = _json_header(headers, "lambda-runtime-client-context")
        self.client_context = ClientContext(cc) if cc is not None else None
        self.tenant_id = headers.get("lambda-runtime-aws-tenant-id")
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(int(self._deadline_ms - time.time() * 1000), 0)

    def log(self, msg):
        sys.stdout.write(str(msg))
        sys.stdout.flush()


def _json_default(o):
    import decimal
    if isinstance(o, decimal.Decimal):
        return int(o) if o == o.to_integral_value() else float(o)
    raise TypeError("Object of type %s is not JSON serializable" % type(o).__name__)


def _serve(api, handler, headers, payload):
    request_id = headers.get("lambda-runtime-aws-request-id", "")
    try:
        deadline_ms = int(headers.get("lambda-runtime-deadline-ms", ""))
    except ValueError:
        deadline_ms = int(time.time() * 1000) + 3000
    trace = headers.get("lambda-runtime-trace-id")
    if trace:
        os.environ["_X_AMZN_TRACE_ID"] = trace
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    _request_id[0] = request_id
    path = "/invocation/%s" % request_id
    try:
        try:
            event = json.loads(payload) if payload else {}
        except ValueError as e:
            raise _Fault("Runtime.UnmarshalError", "Unable to unmarshal input: %s" % e)
        ctx = LambdaContext(request_id, deadline_ms,
                            headers.get("lambda-runtime-invoked-function-arn"), headers)
        result = handler(event, ctx)
        try:
            data = json.dumps(result, default=_json_default).encode("utf-8")
        except (TypeError, ValueError, OverflowError) as e:
            raise _Fault("Runtime.MarshalError", "Unable to marshal response: %s" % e)
    except Exception as e:
        body = _error_body(e, request_id)
        e = None  # break the traceback cycle
        status = _post_error(api, path + "/error", body)[0]
    else:
        status = api.request("POST", path + "/response", data,
                             (("Content-Type", "application/json"),))[0]
    finally:
        _request_id[0] = ""
        sys.stdout.flush()
        sys.stderr.flush()
    if status >= 300:
        sys.stderr.write("gust runtime: result rejected: HTTP %d\n" % status)


def main():
    env = os.environ
    task_root = env.get("LAMBDA_TASK_ROOT") or os.getcwd()
    here = os.path.dirname(_BOOTSTRAP_FILE)
    if sys.path and os.path.abspath(sys.path[0] or ".") == here:
        del sys.path[0]
    layer_paths = ["/opt/python/lib/python%d.%d/site-packages" % sys.version_info[:2], "/opt/python"]
    sys.path[0:0] = [task_root] + [p for p in layer_paths if os.path.isdir(p)]

    if "logging" in sys.modules:
        _install_logging(sys.modules["logging"])
    else:
        sys.meta_path.insert(0, _LoggingHook())

    api = _RuntimeAPI(env.get("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"))
    try:
        handler = _load_handler(env.get("_HANDLER", ""))
    except Exception as e:
        body = _error_body(e, "")
        e = None
        try:
            _post_error(api, "/init/error", body)
        except (OSError, _ProtocolError) as err:
            sys.stderr.write("gust runtime: report init error: %s\n" % err)
        sys.stdout.flush()
        sys.exit(1)

    while True:
        try:
            status, headers, payload = api.request("GET", "/invocation/next")
        except (OSError, _ProtocolError) as err:
            sys.stderr.write("gust runtime: next invocation: %s\n" % err)
            sys.exit(1)
        if status != 200:
            sys.stderr.write("gust runtime: next invocation: HTTP %d: %r\n" % (status, payload[:200]))
            sys.exit(1)
        try:
            _serve(api, handler, headers, payload)
        except (OSError, _ProtocolError) as err:
            sys.stderr.write("gust runtime: report result: %s\n" % err)
            sys.exit(1)


if __name__ == "__main__":
    main()
