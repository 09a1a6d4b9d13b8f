import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logging.ts';
import type { RuntimeMetrics } from '../metrics.ts';
import { inflateBody } from './body-encoding.ts';
import { badRequest, clientGone, HttpError, notFound, unavailable } from './errors.ts';
import { sendError, toHttpError } from './http.ts';
import { encodeInferResponse } from './infer-response.ts';
import { inferAccounting } from './infer-accounting.ts';
import type { ServingState } from './serving-state.ts';
import type { Tracing } from '../tracing/tracing.ts';
import { Withdrawal } from '../batching/withdrawal.ts';
import type { RequestDecoder } from './request-decoder.ts';
import type { ConnectionAges } from './connection-age.ts';

const INFER_PATH = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?\/infer$/;

export interface InferTarget {
  readonly name: string;
  readonly version: string | undefined;
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '';
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

const MATCH_CACHE_SIZE = 256;
// Clients send the same few paths over and over: remember what each means (bounded).
const matched = new Map<string, InferTarget | undefined>();

/** Matches POST /v2/models/{name}[/versions/{version}]/infer. */
export function matchInfer(req: IncomingMessage): InferTarget | undefined {
  if (req.method !== 'POST' || !req.url) return undefined;
  const url = req.url;
  if (matched.has(url)) return matched.get(url);
  const target = parseInferPath(pathOf(req));
  if (matched.size >= MATCH_CACHE_SIZE) matched.clear();
  matched.set(url, target);
  return target;
}

function parseInferPath(path: string): InferTarget | undefined {
  const match = INFER_PATH.exec(path);
  if (!match) return undefined;
  try {
    return { name: decodeURIComponent(match[1] as string), version: match[2] === undefined ? undefined : decodeURIComponent(match[2]) };
  } catch {
    return undefined;
  }
}

/** One process serves one model: a 404 names it, so a client with a wrong name or version can fix its request. */
function servedBy(state: ServingState): string {
  return `this runtime serves model "${state.modelName}" version "${state.modelVersion}"`;
}

/** The served model when name (and version, if given) match; 404 for others, 503 while loading. */
export function lookupModel(state: ServingState, name: string, version: string | undefined) {
  if (name !== state.modelName) throw notFound(`unknown model "${name}": ${servedBy(state)}`);
  if (version !== undefined && version !== state.modelVersion) throw notFound(`unknown version "${version}" of model "${name}": ${servedBy(state)}`);
  if (!state.model || !state.batcher) throw unavailable(`model "${name}" is not loaded`);
  return { model: state.model, batcher: state.batcher };
}

/** Bodies at least this large are copied into one buffer as they arrive, laid out for the binary data. */
const ASSEMBLE_MIN_BYTES = 16 * 1024;

/**
 * The request body. A large one with a declared length goes into one buffer as it arrives, placed so
 * that its binary tensor data (at `binaryAt`, the JSON header's length) starts 8-byte aligned: the
 * tensors are then read in place instead of copied once more.
 */
function readBody(req: IncomingMessage, limit: number, binaryAt: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > limit) {
      reject(new HttpError(413, `request body exceeds ${limit} bytes`));
      req.resume();
      return;
    }
    const pad = (8 - (binaryAt % 8)) % 8;
    const assembled = Number.isSafeInteger(declared) && declared >= ASSEMBLE_MIN_BYTES ? Buffer.allocUnsafeSlow(pad + declared) : undefined;
    // node:http holds a body to its declared length, so `assembled` always has room; chunks only otherwise.
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (size + chunk.length > limit) {
        reject(new HttpError(413, `request body exceeds ${limit} bytes`));
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      if (assembled) chunk.copy(assembled, pad + size);
      else chunks.push(chunk);
      size += chunk.length;
    });
    // Plain listeners, not once(): the promise settles once whatever fires after, and the request
    // and its listeners are dropped together when it ends.
    req.on('end', () => {
      if (assembled) resolve(assembled.subarray(pad, pad + size));
      else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    });
    // The only errors a request stream has are the connection breaking: the client is gone.
    req.on('error', (error) => reject(clientGone(`cannot read the request body: ${error.message}`)));
    // A client gone mid-body must not leave the request (and a graceful drain) waiting forever.
    req.on('close', () => {
      if (!req.complete) reject(clientGone('the client closed the connection before sending the whole body'));
    });
  });
}

function decompress(body: Buffer, encoding: string | undefined, limit: number): Buffer {
  if (!encoding || encoding === 'identity') return body;
  const inflated = inflateBody(body, encoding, limit);
  if (Buffer.isBuffer(inflated)) return inflated;
  if (inflated === 'too-large') throw new HttpError(413, `decompressed request body exceeds ${limit} bytes`);
  if (inflated === 'unsupported') throw new HttpError(415, `unsupported Content-Encoding ${encoding}`);
  throw badRequest(`malformed ${encoding} body: ${inflated.malformed}`);
}

interface InferDeps {
  readonly state: ServingState;
  readonly metrics: RuntimeMetrics;
  readonly logger: Logger;
  readonly maxBodyBytes: number;
  readonly connectionAges: ConnectionAges;
  readonly decoder: RequestDecoder;
  /** Undefined when tracing is off: then no span, nothing allocated for one. */
  readonly tracing: Tracing | undefined;
}

/**
 * The hot path, on plain node:http rather than express: for small models the per-request framework
 * cost is of the same order as session.run itself.
 */
export function createInferHandler({ state, metrics, logger, maxBodyBytes, connectionAges, decoder, tracing }: InferDeps) {
  const begin = inferAccounting({ state, metrics, logger }, 'http');
  return async (req: IncomingMessage, res: ServerResponse, target: InferTarget): Promise<void> => {
    const finish = begin();
    const trace = tracing?.startHttp(req.headers, pathOf(req), target.name, target.version);
    let requestId: string | undefined;
    let status = 200;
    let failure: string | undefined;
    // A client that hangs up while its request waits in the queue frees the slot; its rows never run.
    // The socket's 'end' (the client's FIN) comes in the same poll as the read; 'close' only after the
    // next dispatch, too late to keep the request out of that batch.
    const clientLeft = new Withdrawal();
    const leave = () => {
      if (!res.writableFinished) clientLeft.abort();
    };
    const socket = req.socket;
    if (socket.readableEnded) leave();
    // Plain listeners, not once(): leave() is idempotent, and the socket's is removed when the request ends.
    socket.on('end', leave);
    res.on('close', leave);
    try {
      // Draining: requests already routed here over open connections are still served, but each
      // connection closes after its response so clients reconnect to another replica; an old
      // connection too, so that clients spread over replicas that came up since.
      if (state.draining || connectionAges.expired(socket)) res.setHeader('Connection', 'close');
      const { model, batcher } = lookupModel(state, target.name, target.version);
      const header = req.headers['inference-header-content-length'];
      const headerLength = Array.isArray(header) ? header[0] : header;
      const raw = await readBody(req, maxBodyBytes, Number(headerLength) || 0);
      const body = decompress(raw, req.headers['content-encoding'], maxBodyBytes);
      // Small bodies decode inline: no await, no extra turn of the microtask queue.
      const decoding = decoder.decode(body, headerLength, model.signature);
      const request = decoding instanceof Promise ? await decoding : decoding;
      requestId = request.id;
      trace?.queued(request.rows);
      const outputs = await batcher.submit(request.inputs, request.batchKey, request.rows, clientLeft, trace?.span);
      const encoded = encodeInferResponse(
        { modelName: model.name, modelVersion: model.version, ...(request.id !== undefined ? { id: request.id } : {}) },
        outputs,
        request.outputs,
      );
      trace?.encoded();
      const length = typeof encoded.body === 'string' ? Buffer.byteLength(encoded.body) : encoded.body.length;
      res.writeHead(200, encoded.headerLength === undefined
        ? ['Content-Type', encoded.contentType, 'Content-Length', String(length)]
        : ['Content-Type', encoded.contentType, 'Content-Length', String(length), 'Inference-Header-Content-Length', String(encoded.headerLength)]);
      res.end(encoded.body);
    } catch (error) {
      const httpError = toHttpError(error);
      status = httpError.status;
      failure = httpError.message;
      if (status === 413) res.setHeader('Connection', 'close');
      if (status >= 500 && status !== 503) logger.error({ err: error }, 'inference failed');
      sendError(res, httpError);
    } finally {
      const header = req.headers['x-request-id'];
      trace?.endHttp(status, failure);
      finish(status, requestId ?? (Array.isArray(header) ? header[0] : header), trace);
      socket.off('end', leave);
    }
  };
}
