// Gust's Node.js runtime bootstrap: a Lambda Runtime API (2018-06-01)
// client that loads the function's handler (ESM or CommonJS) from
// LAMBDA_TASK_ROOT and serves invocations until the process is killed.
//
// It has no dependencies beyond Node's built-ins and imports as few as it
// can: this file is on the cold-start path.
import http from 'node:http';
import { format } from 'node:util';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { closeSync, existsSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';

// In a stem cell (a runtime started before its function was known, see
// Gust's sandbox.Stem), wait for the function: its whole environment and
// working directory arrive as JSON on the socket _GUST_STEM_FD names, once
// this says it is ready, and replace this process's own before anything
// reads them.
function specialize() {
  if (process.env._GUST_STEM_FD === undefined) return;
  const fd = Number(process.env._GUST_STEM_FD);
  writeSync(fd, 'ready');
  const data = readFileSync(fd);
  closeSync(fd);
  if (data.length === 0) process.exit(1); // the environment was never launched
  const spec = JSON.parse(data);
  // Whatever the interpreter added to its environment as it started, it
  // would add for the function too: the variables it reads then are the
  // same in both (Gust checks).
  const started = new Set(readFileSync('/proc/self/environ', 'utf8').split('\0'));
  const added = Object.entries(process.env)
    .filter(([k, v]) => !k.startsWith('_GUST_STEM_') && !started.has(k + '=' + v));
  for (const key of Object.keys(process.env)) delete process.env[key];
  for (const kv of spec.env) {
    const i = kv.indexOf('=');
    process.env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  for (const [k, v] of added) process.env[k] = v;
  rewriteEnvironBlock(spec.env);
  process.chdir(spec.dir);
}

// rewriteEnvironBlock writes env over the environment block the kernel
// shows as /proc/self/environ (where ps and the host look), which a stem
// cell's runtime started with: _GUST_STEM_PAD reserved the room, and
// nothing points into the block once process.env was replaced. The rest
// of the block is zeroed.
function rewriteEnvironBlock(env) {
  const stat = readFileSync('/proc/self/stat', 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const start = Number(fields[47]);
  const end = Number(fields[48]); // env_start, env_end
  const block = Buffer.from(env.map((kv) => kv + '\0').join(''));
  if (block.length > end - start) return; // no room: the block keeps the stem's environment
  const mem = openSync('/proc/self/mem', 'r+');
  try {
    writeSync(mem, Buffer.concat([block, Buffer.alloc(end - start - block.length)]), 0, end - start, start);
  } finally {
    closeSync(mem);
  }
}
const env = process.env;
// What the function's environment says, set by configure once it is in
// place (in a stem cell, after the function arrived).
let taskRoot;
let api; // the Runtime API: { host, port, socketPath, agent }

// ---- Runtime API client ------------------------------------------------

const prefix = '/2018-06-01/runtime';

function runtimeAPI(addr) {
  const colon = addr.lastIndexOf(':');
  return {
    host: colon > 0 ? addr.slice(0, colon).replace(/^\[|\]$/g, '') : addr,
    port: colon > 0 ? Number(addr.slice(colon + 1)) : 80,
    agent: new http.Agent({ keepAlive: true, maxSockets: 1 }),
  };
}

function call(method, urlPath, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: api.host, port: api.port, socketPath: api.socketPath, method, path: prefix + urlPath, agent: api.agent, headers },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
    req.on('error', reject);
    req.end(body);
  });
}

function post(urlPath, body, headers) {
  const h = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) };
  return call('POST', urlPath, body, Object.assign(h, headers));
}

// headerSafe keeps an error type usable as an HTTP header value.
function headerSafe(s) {
  const v = String(s).replace(/[^\x20-\x7e]/g, '_');
  return v === '' ? 'Unhandled' : v;
}

// ---- logging -------------------------------------------------------------

let currentRequestId; // undefined outside an invocation, as on AWS
const levels = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4, FATAL: 5 };
let jsonLogs = false; // set by configure
let minLevel = 0;

function writeLog(level, args) {
  if (levels[level] < minLevel) return;
  const message = format(...args);
  const time = new Date().toISOString();
  let line;
  if (jsonLogs) {
    line = JSON.stringify({ timestamp: time, level, requestId: currentRequestId, message }) + '\n';
  } else {
    // One message, one line: the platform turns "\r" back into "\n".
    line = `${time}\t${currentRequestId}\t${level}\t${message.replace(/\n/g, '\r')}\n`;
  }
  process.stdout.write(line);
}

for (const [method, level] of [['log', 'INFO'], ['info', 'INFO'], ['warn', 'WARN'],
  ['error', 'ERROR'], ['debug', 'DEBUG'], ['trace', 'TRACE'], ['fatal', 'FATAL']]) {
  console[method] = (...args) => writeLog(level, args);
}

// ---- errors ------------------------------------------------------------------

function isErrorLike(e) {
  return e instanceof Error || (e !== null && typeof e === 'object' &&
    typeof e.name === 'string' && typeof e.message === 'string' && typeof e.stack === 'string');
}

// errorBody is the JSON the platform passes to the invoker (lambda-compat §3.3).
function errorBody(e, typeOverride) {
  try {
    if (isErrorLike(e)) {
      return {
        errorType: typeOverride || e.name,
        errorMessage: e.message,
        trace: typeof e.stack === 'string' ? e.stack.split('\n') : [],
      };
    }
    return { errorType: typeOverride || typeof e, errorMessage: String(e), trace: [] };
  } catch {
    return { errorType: typeOverride || 'handled', errorMessage: 'the thrown value could not be described', trace: [] };
  }
}

function logError(label, body) {
  const { trace, ...rest } = body;
  writeLog('ERROR', [label, '\t' + JSON.stringify({ ...rest, stack: trace })]);
}

// Exit codes of AWS's runtime client.
const exitUncaughtException = 129;
const exitUnhandledRejection = 128;

async function postInitError(body, code = exitUncaughtException, label = 'Uncaught Exception') {
  logError(label, body);
  try {
    await post('/init/error', JSON.stringify(body), { 'Lambda-Runtime-Function-Error-Type': headerSafe(body.errorType) });
  } catch (e) {
    process.stderr.write(`gust runtime: report init error: ${e.message}\n`);
  }
  process.exit(code);
}

class InitError extends Error {
  constructor(type, message, cause) {
    super(message);
    this.name = type;
    if (cause && typeof cause.stack === 'string') this.stack = cause.stack;
  }
}

// ---- loading the handler -----------------------------------------------

const extensions = ['.js', '.mjs', '.cjs'];

function isModuleJS(file) {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const pj = path.join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        return JSON.parse(readFileSync(pj, 'utf8')).type === 'module';
      } catch {
        return false;
      }
    }
    if (dir === path.dirname(dir)) return false;
  }
}

function findFile(base) {
  for (const ext of extensions) {
    const f = base + ext;
    try {
      if (statSync(f, { throwIfNoEntry: false })?.isFile()) return f;
    } catch { /* try the next one */ }
  }
  return null;
}

async function loadModule(file, esm) {
  if (!esm) {
    try {
      return createRequire(file)(file);
    } catch (e) {
      if (e && e.code !== 'ERR_REQUIRE_ESM') throw e;
    }
  }
  return import(pathToFileURL(file).href);
}

function classifyLoadError(e, moduleName) {
  if (e instanceof InitError) return e;
  if (e instanceof SyntaxError) {
    return new InitError('Runtime.UserCodeSyntaxError', `${e.name}: ${e.message}`, e);
  }
  if (e && (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_MODULE_NOT_FOUND')) {
    return new InitError('Runtime.ImportModuleError', `Error: ${e.message}`, e);
  }
  return e;
}

async function loadHandler(handlerString) {
  if (!handlerString) {
    throw new InitError('Runtime.MalformedHandlerName', 'Bad handler: _HANDLER is empty');
  }
  if (handlerString.includes('..')) {
    throw new InitError('Runtime.MalformedHandlerName',
      `'${handlerString}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`);
  }
  const slash = handlerString.lastIndexOf('/');
  const moduleRoot = handlerString.slice(0, slash + 1);
  const rest = handlerString.slice(slash + 1);
  const dot = rest.indexOf('.');
  if (dot <= 0 || dot === rest.length - 1) {
    throw new InitError('Runtime.MalformedHandlerName', `Bad handler ${handlerString}`);
  }
  const moduleName = rest.slice(0, dot);
  const exportPath = rest.slice(dot + 1);
  const base = path.resolve(taskRoot, moduleRoot, moduleName);

  let mod;
  try {
    let file = findFile(base);
    if (file === null) {
      // As on AWS: fall back to Node's resolution (a directory, or a package in node_modules).
      try {
        file = createRequire(path.join(path.dirname(base), 'noop.js')).resolve(moduleName, { paths: [path.dirname(base), taskRoot] });
      } catch {
        throw new InitError('Runtime.ImportModuleError',
          `Error: Cannot find module '${moduleName}'\nRequire stack:\n- ${fileURLToPath(import.meta.url)}`);
      }
    }
    const esm = file.endsWith('.mjs') || (file.endsWith('.js') && isModuleJS(file));
    mod = await loadModule(file, esm);
  } catch (e) {
    throw classifyLoadError(e, moduleName);
  }

  let fn = mod;
  for (const part of exportPath.split('.')) {
    fn = fn == null ? undefined : fn[part];
  }
  if (fn === undefined && mod && mod.default && typeof mod.default === 'object') {
    // CommonJS loaded through import() exposes module.exports as default.
    fn = mod.default;
    for (const part of exportPath.split('.')) fn = fn == null ? undefined : fn[part];
  }
  if (fn === undefined || fn === null) {
    throw new InitError('Runtime.HandlerNotFound', `${moduleRoot}${rest} is undefined or not exported`);
  }
  if (typeof fn !== 'function') {
    throw new InitError('Runtime.HandlerNotFound', `${moduleRoot}${rest} is not a function`);
  }
  return fn;
}

// ---- invocations -----------------------------------------------------------

let initDone = false; // the handler has loaded
let active = null; // the invocation being served, or null between invocations
let onEmptyLoop = null; // what to do when the event loop drains (callback handlers)
let warming = false; // a stem cell's warm-up invocation is under way

process.on('beforeExit', () => {
  const f = onEmptyLoop;
  onEmptyLoop = null;
  if (f) f();
});

function parseJSONHeader(v) {
  if (!v) return undefined;
  try {
    return JSON.parse(v);
  } catch {
    return undefined;
  }
}

async function fatal(type, label, e) {
  const body = errorBody(e, type);
  const code = type === 'Runtime.UnhandledPromiseRejection' ? exitUnhandledRejection : exitUncaughtException;
  if (type === 'Runtime.UnhandledPromiseRejection') {
    body.errorMessage = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  }
  if (!initDone) {
    initDone = true; // report once, however many errors follow
    await postInitError(body, code, label);
    return;
  }
  logError(label, body);
  const inv = active;
  if (inv && !inv.done) {
    inv.done = true;
    try {
      await post(`/invocation/${encodeURIComponent(inv.id)}/error`, JSON.stringify(body),
        { 'Lambda-Runtime-Function-Error-Type': headerSafe(body.errorType) });
    } catch { /* the platform sees the exit */ }
  }
  process.exit(code);
}

process.on('unhandledRejection', (reason) => { fatal('Runtime.UnhandledPromiseRejection', 'Unhandled Promise Rejection', reason); });
process.on('uncaughtException', (err) => { fatal(undefined, 'Uncaught Exception', err); });

// serve runs one invocation and resolves after its outcome has been posted.
function serve(handler, res) {
  const h = res.headers;
  const id = String(h['lambda-runtime-aws-request-id'] || '');
  const deadline = Number(h['lambda-runtime-deadline-ms']) || Date.now() + 3000;
  if (h['lambda-runtime-trace-id']) env._X_AMZN_TRACE_ID = String(h['lambda-runtime-trace-id']);
  else delete env._X_AMZN_TRACE_ID;

  return new Promise((resolve) => {
    const inv = { id, done: false };
    active = inv;
    currentRequestId = id;

    const finish = async (err, result) => {
      if (inv.done) return;
      inv.done = true;
      onEmptyLoop = null;
      try {
        if (err === undefined || err === null) {
          let payload;
          try {
            payload = JSON.stringify(result === undefined ? null : result);
          } catch (e) {
            err = { name: 'Runtime.MarshalError', message: `Unable to stringify response body: ${e.message}`, stack: '' };
          }
          if (err === undefined || err === null) {
            const r = await post(`/invocation/${encodeURIComponent(id)}/response`, payload === undefined ? 'null' : payload);
            if (r.status >= 300) process.stderr.write(`gust runtime: response rejected: ${r.status} ${r.body}\n`);
          }
        }
        if (err !== undefined && err !== null) {
          const body = errorBody(err);
          if (body.errorType === 'Runtime.MarshalError') body.trace = [];
          logError('Invoke Error', body);
          await post(`/invocation/${encodeURIComponent(id)}/error`, JSON.stringify(body),
            { 'Lambda-Runtime-Function-Error-Type': headerSafe(body.errorType) });
        }
      } catch (e) {
        if (!warming) {
          process.stderr.write(`gust runtime: report result: ${e.message}\n`);
          process.exit(1);
        }
      }
      if (active === inv) active = null;
      currentRequestId = undefined;
      resolve();
    };

    const context = {
      callbackWaitsForEmptyEventLoop: true,
      functionName: env.AWS_LAMBDA_FUNCTION_NAME,
      functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
      invokedFunctionArn: h['lambda-runtime-invoked-function-arn'],
      memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      awsRequestId: id,
      logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
      identity: parseJSONHeader(h['lambda-runtime-cognito-identity']),
      clientContext: parseJSONHeader(h['lambda-runtime-client-context']),
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      succeed: (result) => { finish(null, result); },
      fail: (err) => { finish(err ?? 'handled'); },
      done: (err, result) => { finish(err, result); },
    };
    const tenant = h['lambda-runtime-aws-tenant-id'];
    if (tenant) context.tenantId = tenant;

    const callback = (err, result) => {
      if (inv.done) return;
      if (context.callbackWaitsForEmptyEventLoop) {
        onEmptyLoop = () => finish(err, result);
      } else {
        finish(err, result);
      }
    };
    // A handler that neither returns a promise nor calls back answers null
    // once the event loop drains, as on AWS.
    onEmptyLoop = () => finish(null, null);

    let event;
    try {
      event = res.body.length === 0 ? {} : JSON.parse(res.body.toString('utf8'));
    } catch (e) {
      finish({ name: 'Runtime.UnmarshalError', message: `Unable to parse event: ${e.message}`, stack: '' });
      return;
    }
    try {
      const out = handler(event, context, callback);
      if (out && typeof out.then === 'function') {
        out.then((r) => finish(null, r), (e) => finish(e ?? 'handled'));
      }
    } catch (e) {
      finish(e ?? 'handled');
    }
  });
}

async function main() {
  let handler;
  try {
    handler = await loadHandler(env._HANDLER);
  } catch (e) {
    if (initDone) return; // an uncaught error already reported the failure
    initDone = true;
    await postInitError(errorBody(e));
    return;
  }
  initDone = true;
  for (;;) {
    let res;
    try {
      res = await call('GET', '/invocation/next');
    } catch (e) {
      process.stderr.write(`gust runtime: next invocation: ${e.message}\n`);
      process.exit(1);
    }
    if (res.status !== 200) {
      process.stderr.write(`gust runtime: next invocation: HTTP ${res.status}: ${res.body}\n`);
      process.exit(1);
    }
    await serve(handler, res);
  }
}

// configure reads the function's environment.
function configure() {
  taskRoot = env.LAMBDA_TASK_ROOT || process.cwd();
  api = runtimeAPI(env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001');
  jsonLogs = (env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';
  // As on AWS, AWS_LAMBDA_LOG_LEVEL filters only JSON-format logs; INFO is
  // Lambda's default ApplicationLogLevel.
  minLevel = jsonLogs ? levels[(env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] ?? levels.INFO : 0;
}

// warmUp does, while a stem cell waits for its function, what the
// function's cold start would otherwise do for the first time, because
// Node loads and compiles code on first use: it imports an empty module
// from a file, as loadHandler will, and serves one whole invocation of an
// echo handler from a throwaway Runtime API peer of its own (Node's HTTP
// client, a kept-alive connection's reuse, and this file's own invocation
// path), then collects the garbage that leaves. That takes a few
// milliseconds off the first invoke.
async function warmUp() {
  const net = await import('node:net');
  // An abstract Unix socket: the sandbox sends TCP to the loopback on to
  // the host's, and the name vanishes with the peer.
  const socketPath = `\0gust-warm-up-${process.pid}-${Date.now()}`;
  const peer = net.createServer(answerWarmUp);
  try {
    findFile(fileURLToPath(new URL('warm-up', import.meta.url)));
    await loadModule(fileURLToPath(new URL('warm-up.mjs', import.meta.url)), true);
  } catch {
    // Only a warm-up: the function's import does it instead.
  }
  try {
    await new Promise((resolve, reject) => {
      peer.once('error', reject);
      peer.listen(socketPath, resolve);
    });
    api = { socketPath, agent: new http.Agent({ keepAlive: true, maxSockets: 1 }) };
    warming = true;
    await serve(async (event) => event, await call('GET', '/invocation/next'));
  } catch {
    // Only a warm-up: the function's first invocation does it instead.
  } finally {
    warming = false;
    api?.agent.destroy();
    api = undefined;
    peer.close();
  }
  // The rehearsal's garbage would be collected during the function's
  // init: collect it now. V8 hands out gc only with --expose-gc, which is
  // set just long enough to fetch it in a context of its own.
  try {
    const [v8, vm] = await Promise.all([import('node:v8'), import('node:vm')]);
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc');
    v8.setFlagsFromString('--no-expose-gc');
    gc();
  } catch {
    // Only a warm-up.
  }
}

// answerWarmUp is the warm-up's Runtime API: an event for the next
// invocation, 202 for anything posted.
function answerWarmUp(socket) {
  let buf = Buffer.alloc(0);
  socket.on('error', () => {});
  socket.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.toString('latin1', 0, end);
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + length) return;
      buf = buf.subarray(end + 4 + length);
      const body = '{"warm":true}';
      socket.write(head.startsWith('GET ')
        ? 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: warm-up\r\n' +
          `Lambda-Runtime-Deadline-Ms: ${Date.now() + 3000}\r\nContent-Length: ${body.length}\r\n\r\n${body}`
        : 'HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}');
    }
  });
}

if (process.env._GUST_STEM_FD !== undefined) await warmUp();
specialize();
configure();
main();
