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


def _specialize():
    """In a stem cell (a runtime started before its function was known, see
    Gust's sandbox.Stem), wait for the function: its whole environment and
    working directory arrive as JSON on the socket _GUST_STEM_FD names, once
    this says it is ready, and replace this process's own before anything
    reads them."""
    fd = os.environ.get("_GUST_STEM_FD")
    if fd is None:
        return
    fd = int(fd)
    os.write(fd, b"ready")
    chunks = []
    while True:
        b = os.read(fd, 1 << 16)
        if not b:
            break
        chunks.append(b)
    os.close(fd)
    if not chunks:
        sys.exit(1)  # the environment was never launched
    spec = json.loads(b"".join(chunks))
    # What the interpreter added to its environment as it started (PEP
    # 538's LC_CTYPE) it would add for the function too: the variables it
    # reads then are the same in both (Gust checks).
    with open("/proc/self/environ", "rb") as f:
        started = set(f.read().split(b"\0"))
    added = [(k, v) for k, v in os.environ.items()
             if not k.startswith("_GUST_STEM_") and (k + "=" + v).encode("utf-8", "surrogateescape") not in started]
    os.environ.clear()
    for kv in spec["env"]:
        key, _, value = kv.partition("=")
        os.environ[key] = value
    for key, value in added:
        os.environ[key] = value
    _rewrite_environ_block(spec["env"])
    os.chdir(spec["dir"])


def _rewrite_environ_block(env):
    """Writes env over the environment block the kernel shows as
    /proc/self/environ (where ps and the host look), which a stem cell's
    runtime started with: _GUST_STEM_PAD reserved the room, and nothing
    points into the block once os.environ was replaced. The rest of the
    block is zeroed."""
    with open("/proc/self/stat", "rb") as f:
        stat = f.read()
    fields = stat[stat.rindex(b")") + 2:].split()
    start, end = int(fields[47]), int(fields[48])  # env_start, env_end
    block = b"".join(kv.encode("utf-8", "surrogateescape") + b"\0" for kv in env)
    if len(block) > end - start:
        return  # no room: the block keeps the stem's environment
    with open("/proc/self/mem", "r+b", buffering=0) as mem:
        mem.seek(start)
        mem.write(block + bytes(end - start - len(block)))


_specialize()

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
        self.sent = 0  # bytes of the current request sent
        self.got = 0  # bytes of the current answer received

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

    def _stale(self):
        """Reports whether a kept-alive connection can no longer carry a
        request: the server closed it (or sent something unasked) while idle."""
        if self.buf:
            return True
        try:
            self.sock.recv(1, _socket.MSG_PEEK | _socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError:
            return True
        return True  # EOF, or bytes nobody asked for

    def request(self, method, path, body=b"", headers=()):
        """Send one request; returns (status, headers dict, body bytes).

        No timeout: /next long-polls. A request is sent again only on a
        fresh connection and only when it cannot have reached the server
        twice: the kept-alive connection broke before any byte of it was
        sent, or (GET only) before any byte of the answer arrived.
        """
        head = ["%s /2018-06-01/runtime%s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n"
                % (method, path, self.hostport, len(body))]
        for k, v in headers:
            head.append("%s: %s\r\n" % (k, v))
        head.append("\r\n")
        data = "".join(head).encode("latin-1") + body
        for attempt in (0, 1):
            reused = self.sock is not None
            if reused and self._stale():
                self.close()
                reused = False
            if self.sock is None:
                self._connect()
            self.sent = 0
            self.got = 0
            try:
                self._send(data)
            except OSError as err:
                # The server may have answered before reading the whole
                # request (a 413 for an oversized body) and closed.
                try:
                    resp = self._read_response()
                except (OSError, _ProtocolError):
                    resp = None
                self.close()
                if resp is not None:
                    return resp
                if attempt == 0 and reused and self.sent == 0:
                    continue
                raise err
            try:
                return self._read_response()
            except (OSError, _ProtocolError):
                self.close()
                if attempt == 0 and reused and method == "GET" and self.got == 0:
                    continue
                raise

    def _send(self, data):
        view = memoryview(data)
        while self.sent < len(data):
            self.sent += self.sock.send(view[self.sent:])

    def _read_response(self):
        while True:
            status_line = self._readline()
            parts = status_line.split(None, 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
                raise _ProtocolError("bad status line %r" % status_line)
            status = int(parts[1])
            hdrs = {}
            while True:
                line = self._readline()
                if not line:
                    break
                k, _, v = line.partition(b":")
                hdrs[k.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")
            if status < 100 or status >= 200 or status == 101:
                break
            # An interim 1xx answer: the final one follows.

        if status < 200 or status in (204, 304):
            data = b""
        elif hdrs.get("transfer-encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                line = self._readline()
                size = line.split(b";", 1)[0].strip()
                if not size or size.strip(b"0123456789abcdefABCDEF"):
                    raise _ProtocolError("bad chunk size %r" % line[:40])
                size = int(size, 16)
                if size == 0:
                    while self._readline():
                        pass
                    break
                out += self._read_exact(size)
                if self._read_exact(2) != b"\r\n":
                    raise _ProtocolError("bad chunk end")
            data = bytes(out)
        elif "content-length" in hdrs:
            n = hdrs["content-length"]
            if not n.isdigit():
                raise _ProtocolError("bad content length %r" % n)
            data = self._read_exact(int(n))
        else:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self.got += len(chunk)
                self.buf += chunk
            data = bytes(self.buf)
            self.close()
            return status, hdrs, data
        if hdrs.get("connection", "").lower() == "close":
            self.close()
        return status, hdrs, data

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise _ProtocolError("connection closed")
        self.got += len(chunk)
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
                # One record, one line: the platform turns "\r" back into "\n".
                msg = self.format(record)
                sys.stdout.write((msg if json_format else msg.replace("\n", "\r")) + "\n")
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
    # As on AWS, AWS_LAMBDA_LOG_LEVEL filters only JSON-format logs; INFO is
    # Lambda's default ApplicationLogLevel.
    level = json_format and _LEVELS.get(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper(), "INFO")
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


def _is_user_file(filename):
    return filename != _BOOTSTRAP_FILE and not filename.startswith("<frozen importlib")


def _user_frames(tb):
    try:
        import traceback  # kept off the cold-start path
    except Exception:
        # No file descriptor left to import with (a handler that exhausted
        # them): the frames without their source lines still tell where.
        out = []
        while tb is not None:
            code = tb.tb_frame.f_code
            if _is_user_file(code.co_filename):
                out.append('  File "%s", line %d, in %s\n' % (code.co_filename, tb.tb_lineno, code.co_name))
            tb = tb.tb_next
        return out
    frames = [f for f in traceback.extract_tb(tb) if _is_user_file(f.filename)]
    return traceback.format_list(frames)


def _error_body(exc, request_id):
    if isinstance(exc, _Fault):
        return {"errorMessage": exc.message, "errorType": exc.error_type,
                "requestId": request_id, "stackTrace": exc.stack}
    return {"errorMessage": str(exc), "errorType": type(exc).__name__,
            "requestId": request_id, "stackTrace": _user_frames(exc.__traceback__)}


def _log_error(body):
    """Log an error as one line: "\r" stands for each line break, as on AWS."""
    lines = ["[ERROR] %s: %s" % (body["errorType"], body["errorMessage"]),
             "Traceback (most recent call last):"]
    for frame in body["stackTrace"]:
        lines.extend(frame.splitlines())
    sys.stdout.write("\r".join(lines).replace("\n", "\r") + "\n")
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
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")  # a str, as on AWS
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


# Python 3.12 and later runtimes answer JSON with UTF-8 text, not \u escapes.
_exec_env = os.environ.get("AWS_EXECUTION_ENV", "")
_ENSURE_ASCII = not (_exec_env.startswith("AWS_Lambda_python3.")
                     and _exec_env[19:].isdigit() and int(_exec_env[19:]) >= 12)


def _marshal(result):
    """Encode a handler's result: bytes as they are, anything else as JSON
    with each Decimal written as its exact text (1.10 stays 1.10)."""
    if isinstance(result, (bytes, bytearray)):
        return bytes(result), "application/unknown"
    decimals = []
    marker = []

    def default(o):
        import decimal
        if isinstance(o, decimal.Decimal):
            if not marker:
                marker.append("\x00gust-decimal-%s\x00" % os.urandom(8).hex())
            decimals.append("NaN" if o.is_nan() else str(o))
            return marker[0]
        raise TypeError("Object of type %s is not JSON serializable" % type(o).__name__)

    text = json.dumps(result, default=default, ensure_ascii=_ENSURE_ASCII)
    if decimals:
        parts = text.split(json.dumps(marker[0]))
        if len(parts) != len(decimals) + 1:
            raise ValueError("cannot place Decimal values")
        out = [parts[0]]
        for d, part in zip(decimals, parts[1:]):
            out.append(d)
            out.append(part)
        text = "".join(out)
    return text.encode("utf-8"), "application/json"


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
            data, content_type = _marshal(result)
        except (TypeError, ValueError, OverflowError) as e:
            raise _Fault("Runtime.MarshalError", "Unable to marshal response: %s" % e)
    except Exception as e:
        body = _error_body(e, request_id)
        e = None  # break the traceback cycle
        status, _, reply = _post_error(api, path + "/error", body)
    else:
        status, _, reply = api.request("POST", path + "/response", data,
                                       (("Content-Type", content_type),))
    finally:
        _request_id[0] = ""
        sys.stdout.flush()
        sys.stderr.flush()
    if status >= 300:
        sys.stderr.write("gust runtime: response rejected: %d %s\n"
                         % (status, reply[:200].decode("utf-8", "replace")))


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
