import { Metadata, Server, ServerCredentials, status as GrpcStatus, type ServerUnaryCall, type sendUnaryData, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../logging.ts';
import type { RuntimeMetrics } from '../metrics.ts';
import { TOKEN_MESSAGES, type AcceptedTokens } from './accepted-tokens.ts';
import { HttpError } from './errors.ts';
import { decodeGrpcInferRequest, encodeGrpcInferResponse, type GrpcInferRequest, type GrpcInferResponse } from './grpc-codec.ts';
import { decodeModelInferRequest, encodeModelInferResponse } from './grpc-wire.ts';
import { toHttpError } from './http.ts';
import { inferAccounting } from './infer-accounting.ts';
import { lookupModel } from './infer-handler.ts';
import { clientKey, grpcPeerAddress, type RateLimiter } from './rate-limit.ts';
import { SERVER_NAME, SERVER_VERSION } from './routes.ts';
import { Withdrawal, type AbortLike } from '../batching/withdrawal.ts';
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

function loadService(): ServiceDefinition {
  const definition = loadSync(PROTO_PATH, { keepCase: true, longs: String, enums: String, defaults: true, arrays: true, oneofs: true });
  const service = definition[SERVICE_NAME] as ServiceDefinition;
  // The hot method's two messages go through the hand-written wire codec; the rest keep proto-loader's.
  const infer = service.ModelInfer as ServiceDefinition[string];
  return { ...service, ModelInfer: { ...infer, requestDeserialize: decodeModelInferRequest, responseSerialize: encodeModelInferResponse } };
}

interface GrpcDeps {
  readonly state: ServingState;
  readonly metrics: RuntimeMetrics;
  readonly logger: Logger;
  readonly tokens: AcceptedTokens;
  /** The same buckets as the REST server's: a client's requests count once, whichever protocol they use. */
  readonly limiter: RateLimiter;
  /** Largest request message; grpc-js refuses larger ones with RESOURCE_EXHAUSTED. */
  readonly maxMessageBytes: number;
  /** GOAWAY to connections older than this (0: never), so clients spread over replicas that came up since. */
  readonly maxConnectionAgeMs: number;
  /** Undefined when tracing is off. */
  readonly tracing: Tracing | undefined;
  /** TLS credentials; plain text when absent. */
  readonly credentials?: ServerCredentials;
}

/** `cancelled` aborts when the client cancels the call (or its deadline passes). */
type Handler<Req, Res> = (request: Req, cancelled: AbortLike, metadata: Metadata) => Res | Promise<Res>;
interface NamedRequest { name: string; version: string }

function implementation({ state, metrics, logger, tokens, limiter, tracing }: GrpcDeps): UntypedServiceImplementation {
  const begin = inferAccounting({ state, metrics, logger }, 'grpc');

  /** Wraps a handler: bearer token check, rate limit, then errors (HttpError or other) as gRPC statuses with their message. */
  const unary = <Req, Res>(method: string, handler: Handler<Req, Res>) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      if (!OPEN_METHODS.has(method)) {
        const authorization = call.metadata.get('authorization')[0]?.toString();
        const check = tokens.check(authorization);
        if (check !== 'ok') {
          callback({ code: GrpcStatus.UNAUTHENTICATED, details: TOKEN_MESSAGES[check] });
          return;
        }
        const refusal = limiter.enabled ? limiter.admit(clientKey(tokens.required, authorization, grpcPeerAddress(call.getPeer()))) : undefined;
        if (refusal) {
          const trailers = new Metadata();
          trailers.set('retry-after', String(refusal.retryAfterSeconds));
          callback({ code: GrpcStatus.RESOURCE_EXHAUSTED, details: refusal.message, metadata: trailers });
          return;
        }
      }
      // grpc-js emits 'cancelled' when every call's stream closes, answered or not: listen only until
      // the answer is ready, and with a Withdrawal (an AbortController's abort builds a DOMException).
      const cancelled = new Withdrawal();
      const cancel = () => cancelled.abort();
      call.once('cancelled', cancel);
      Promise.resolve()
        .then(() => handler(call.request, cancelled, call.metadata))
        .then(
          (response) => {
            call.off('cancelled', cancel);
            callback(null, response);
          },
          (error: unknown) => {
            call.off('cancelled', cancel);
            const httpError = toHttpError(error);
            callback({ code: grpcCodeOf(httpError.status), details: httpError.message });
          },
        );
    };

  const modelInfer = async (message: GrpcInferRequest, cancelled: AbortLike, metadata: Metadata): Promise<GrpcInferResponse> => {
    const finish = begin();
    const trace = tracing?.startGrpc(metadata, message.model_name, message.model_version || undefined);
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
    ServerLive: unary('ServerLive', () => ({ live: true })),
    ServerReady: unary('ServerReady', () => ({ ready: state.ready })),
    ModelReady: unary('ModelReady', ({ name, version }: NamedRequest) => {
      try {
        lookupModel(state, name, version || undefined);
      } catch (error) {
        // Unknown models are NOT_FOUND; the served model, still loading, is simply not ready.
        if (error instanceof HttpError && error.status === 503) return { ready: false };
        throw error;
      }
      return { ready: state.ready };
    }),
    ServerMetadata: unary('ServerMetadata', () => ({ name: SERVER_NAME, version: SERVER_VERSION, extensions: [] })),
    ModelMetadata: unary('ModelMetadata', ({ name, version }: NamedRequest) => {
      const { model } = lookupModel(state, name, version || undefined);
      return {
        name: model.name,
        versions: [model.version],
        platform: 'onnxruntime_onnx',
        inputs: model.signature.inputs,
        outputs: model.signature.outputs,
      };
    }),
    ModelInfer: unary('ModelInfer', modelInfer),
  };
}

export interface RunningGrpcServer {
  /** host:port it listens on. */
  readonly address: string;
  /** Sends GOAWAY to open connections (clients reconnect, to another replica) but keeps accepting new ones. */
  drain(graceMs: number): void;
  /** Stops listening; waits for running calls, at most graceMs, then cancels them. */
  close(graceMs: number): Promise<void>;
}

/** Serves inference.GRPCInferenceService (Open Inference Protocol gRPC) on the same state, batcher and metrics as REST. */
export async function startGrpcServer(deps: GrpcDeps, host: string, port: number): Promise<RunningGrpcServer> {
  const server = new Server({
    'grpc.max_receive_message_length': deps.maxMessageBytes, 'grpc.max_send_message_length': -1,
    ...(deps.maxConnectionAgeMs > 0 && { 'grpc.max_connection_age_ms': deps.maxConnectionAgeMs }),
  });
  server.addService(loadService(), implementation(deps));
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, deps.credentials ?? ServerCredentials.createInsecure(), (error, actual) => (error ? reject(error) : resolve(actual)));
  });
  const address = `${host}:${bound}`;
  return {
    address,
    drain: (graceMs) => server.drain(address, graceMs),
    close: (graceMs) => new Promise<void>((resolve) => {
      const force = setTimeout(() => server.forceShutdown(), graceMs);
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    }),
  };
}
