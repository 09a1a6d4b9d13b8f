import { loadSync } from '@grpc/proto-loader';
import type { IncomingHttpHeaders, SecureServerOptions } from 'node:http2';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../logging.ts';
import type { RuntimeMetrics } from '../metrics.ts';
import { TOKEN_MESSAGES, type AcceptedTokens } from './accepted-tokens.ts';
import { HttpError } from './errors.ts';
import { decodeGrpcInferRequest, encodeGrpcInferResponse, type GrpcInferRequest } from './grpc-codec.ts';
import { GrpcError, GrpcStatus, startGrpcTransport, type UnaryCall, type UnaryHandler } from './grpc-transport.ts';
import { decodeModelInferRequest, encodeModelInferResponse } from './grpc-wire.ts';
import { toHttpError } from './http.ts';
import { inferAccounting } from './infer-accounting.ts';
import { lookupModel } from './infer-handler.ts';
import { clientKey, type RateLimiter } from './rate-limit.ts';
import { SERVER_NAME, SERVER_VERSION } from './routes.ts';
import type { AbortLike } from '../batching/withdrawal.ts';
import type { ServingState } from './serving-state.ts';
import type { Tracing } from '../tracing/tracing.ts';
import { RUNTIME_GRPC_SERVICE } from '../contract.ts';

const PROTO_PATH = fileURLToPath(new URL('grpc_predict_v2.proto', import.meta.url));
const SERVICE_NAME = RUNTIME_GRPC_SERVICE;

/** Like the REST health endpoints, liveness and readiness answer without a token (probes carry none). */
const OPEN_METHODS: ReadonlySet<string> = new Set(['ServerLive', 'ServerReady']);

const GRPC_CODE_OF_HTTP: Readonly<Record<number, GrpcStatus>> = {
  400: GrpcStatus.INVALID_ARGUMENT,
  401: GrpcStatus.UNAUTHENTICATED,
  404: GrpcStatus.NOT_FOUND,
  413: GrpcStatus.RESOURCE_EXHAUSTED,
  415: GrpcStatus.INVALID_ARGUMENT,
  429: GrpcStatus.RESOURCE_EXHAUSTED,
  499: GrpcStatus.CANCELLED,
  503: GrpcStatus.UNAVAILABLE,
};

/** The gRPC status for an error the REST path would answer with this HTTP status. */
export function grpcCodeOf(httpStatus: number): GrpcStatus {
  return GRPC_CODE_OF_HTTP[httpStatus] ?? (httpStatus >= 400 && httpStatus < 500 ? GrpcStatus.FAILED_PRECONDITION : GrpcStatus.INTERNAL);
}

/** A method's path and its messages' codec. */
interface MethodCodec {
  readonly path: string;
  decode(bytes: Buffer): unknown;
  encode(message: never): Uint8Array;
}

/**
 * The service's methods from its .proto (proto-loader's protobufjs codec); ModelInfer, the hot one,
 * through the hand-written wire codec (grpc-wire.ts).
 */
function loadMethods(): Record<string, MethodCodec> {
  const definition = loadSync(PROTO_PATH, { keepCase: true, longs: String, enums: String, defaults: true, arrays: true, oneofs: true });
  const service = definition[SERVICE_NAME] as unknown as Record<string, { path: string; requestDeserialize(bytes: Buffer): unknown; responseSerialize(value: never): Buffer }>;
  const methods: Record<string, MethodCodec> = {};
  for (const [name, method] of Object.entries(service)) {
    methods[name] = { path: method.path, decode: (bytes) => method.requestDeserialize(bytes), encode: (value) => method.responseSerialize(value) };
  }
  methods.ModelInfer = { path: (methods.ModelInfer as MethodCodec).path, decode: decodeModelInferRequest, encode: encodeModelInferResponse as (value: never) => Uint8Array };
  return methods;
}

interface GrpcDeps {
  readonly state: ServingState;
  readonly metrics: RuntimeMetrics;
  readonly logger: Logger;
  readonly tokens: AcceptedTokens;
  /** The same buckets as the REST server's: a client's requests count once, whichever protocol they use. */
  readonly limiter: RateLimiter;
  /** Largest request message; larger ones are refused with RESOURCE_EXHAUSTED. */
  readonly maxMessageBytes: number;
  /** GOAWAY to connections older than this (0: never), so clients spread over replicas that came up since. */
  readonly maxConnectionAgeMs: number;
  /** Undefined when tracing is off. */
  readonly tracing: Tracing | undefined;
  /** TLS: the serving key pair, renewed in place; plain text when absent. */
  readonly tls?: { readonly options: SecureServerOptions; onChange(listener: (options: SecureServerOptions) => void): void };
}

/** `cancelled` aborts when the client cancels the call (or its deadline passes). */
type Handler = (request: never, cancelled: AbortLike, headers: IncomingHttpHeaders) => unknown;
interface NamedRequest { name: string; version: string }

function implementation({ state, metrics, logger, tracing }: GrpcDeps): Record<string, Handler> {
  const begin = inferAccounting({ state, metrics, logger }, 'grpc');

  const modelInfer = async (message: GrpcInferRequest, cancelled: AbortLike, headers: IncomingHttpHeaders) => {
    const finish = begin();
    const trace = tracing?.startGrpc(headers, message.model_name, message.model_version || undefined);
    let status = 200;
    let failure: string | undefined;
    let requestId: string | undefined;
    try {
      const { model, batcher } = lookupModel(state, message.model_name, message.model_version || undefined);
      const { request, raw } = decodeGrpcInferRequest(message, model.signature);
      requestId = request.id;
      trace?.queued(request.rows);
      const outputs = await batcher.submit(request.inputs, request.batchKey, request.rows, cancelled, trace?.span);
      const response = encodeGrpcInferResponse(
        { modelName: model.name, modelVersion: model.version, ...(request.id !== undefined ? { id: request.id } : {}) },
        outputs,
        request.outputs,
        raw,
      );
      trace?.encoded();
      return response;
    } catch (error) {
      const httpError = toHttpError(error);
      status = httpError.status;
      failure = httpError.message;
      if (status >= 500 && status !== 503) logger.error({ err: error }, 'inference failed');
      throw httpError;
    } finally {
      trace?.endGrpc(status === 200 ? GrpcStatus.OK : grpcCodeOf(status), failure);
      finish(status, requestId ?? (message.id || undefined), trace);
    }
  };

  return {
    ServerLive: () => ({ live: true }),
    ServerReady: () => ({ ready: state.ready }),
    ModelReady: ({ name, version }: NamedRequest) => {
      try {
        lookupModel(state, name, version || undefined);
      } catch (error) {
        // Unknown models are NOT_FOUND; the served model, still loading, is simply not ready.
        if (error instanceof HttpError && error.status === 503) return { ready: false };
        throw error;
      }
      return { ready: state.ready };
    },
    ServerMetadata: () => ({ name: SERVER_NAME, version: SERVER_VERSION, extensions: [] }),
    ModelMetadata: ({ name, version }: NamedRequest) => {
      const { model } = lookupModel(state, name, version || undefined);
      return {
        name: model.name,
        versions: [model.version],
        platform: 'onnxruntime_onnx',
        inputs: model.signature.inputs,
        outputs: model.signature.outputs,
      };
    },
    ModelInfer: modelInfer as Handler,
  };
}

/**
 * A method as the transport runs it: bearer token and rate limit (but for the open health methods),
 * the request decoded, the handler, the response encoded; REST's errors become gRPC statuses with the
 * same message.
 */
function unary(name: string, codec: MethodCodec, handler: Handler, { tokens, limiter }: GrpcDeps): UnaryHandler {
  const open = OPEN_METHODS.has(name);
  return async (call: UnaryCall) => {
    if (!open) {
      const authorization = call.headers.authorization;
      const check = tokens.check(authorization);
      if (check !== 'ok') throw new GrpcError(GrpcStatus.UNAUTHENTICATED, TOKEN_MESSAGES[check]);
      const refusal = limiter.enabled ? limiter.admit(clientKey(tokens.required, authorization, call.peerAddress)) : undefined;
      if (refusal) throw new GrpcError(GrpcStatus.RESOURCE_EXHAUSTED, refusal.message, { 'retry-after': String(refusal.retryAfterSeconds) });
    }
    let request: unknown;
    try {
      request = codec.decode(call.message);
    } catch (error) {
      throw new GrpcError(GrpcStatus.INVALID_ARGUMENT, `malformed ${name} request: ${(error as Error).message}`);
    }
    try {
      return codec.encode((await handler(request as never, call.cancelled, call.headers)) as never);
    } catch (error) {
      if (error instanceof GrpcError) throw error;
      const httpError = toHttpError(error);
      // Anything else that would be a 500 is a bug: the transport logs it and answers INTERNAL.
      if (httpError.status >= 500 && !(error instanceof HttpError)) throw error;
      throw new GrpcError(grpcCodeOf(httpError.status), httpError.message);
    }
  };
}

export interface RunningGrpcServer {
  /** host:port it listens on. */
  readonly address: string;
  /** Sends GOAWAY to open connections (clients reconnect, to another replica) but keeps accepting new ones. */
  drain(graceMs: number): void;
  /** Stops listening; waits for running calls, at most graceMs, then drops them. */
  close(graceMs: number): Promise<void>;
}

/** Serves inference.GRPCInferenceService (Open Inference Protocol gRPC) on the same state, batcher and metrics as REST. */
export async function startGrpcServer(deps: GrpcDeps, host: string, port: number): Promise<RunningGrpcServer> {
  const codecs = loadMethods();
  const methods = new Map<string, UnaryHandler>();
  for (const [name, handler] of Object.entries(implementation(deps))) {
    const codec = codecs[name] as MethodCodec;
    methods.set(codec.path, unary(name, codec, handler, deps));
  }
  const transport = await startGrpcTransport({
    methods,
    maxMessageBytes: deps.maxMessageBytes,
    maxConnectionAgeMs: deps.maxConnectionAgeMs,
    ...(deps.tls && { tls: deps.tls }),
    onInternalError: (error, path) => deps.logger.error({ err: error, path }, 'gRPC call failed'),
  }, host, port);
  const { address, family, port: bound } = transport.address;
  return {
    address: `${family === 'IPv6' ? `[${address}]` : address}:${bound}`,
    drain: (graceMs) => transport.drain(graceMs),
    close: (graceMs) => transport.close(graceMs),
  };
}
