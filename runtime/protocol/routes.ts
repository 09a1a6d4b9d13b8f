import express, { type ErrorRequestHandler, type Request, type Response } from 'express';
import { QueueFullError } from '../batching/dynamic-batcher.ts';
import type { Logger } from '../logging.ts';
import type { RuntimeMetrics } from '../metrics.ts';
import type { ServedModel } from '../model/served-model.ts';
import type { DynamicBatcher } from '../batching/dynamic-batcher.ts';
import { HttpError, notFound, tooManyRequests, unavailable } from './errors.ts';
import { decodeInferRequest } from './infer-request.ts';
import { encodeInferResponse } from './infer-response.ts';

export const SERVER_NAME = 'modelship-runtime';
export const SERVER_VERSION = '0.1.0';

/** What the routes read from the lifecycle: set once the model is loaded, cleared on shutdown. */
export interface ServingState {
  readonly modelName: string;
  readonly modelVersion: string;
  model: ServedModel | undefined;
  batcher: DynamicBatcher | undefined;
  ready: boolean;
  draining: boolean;
  inFlight: number;
}

interface RouteDeps {
  readonly state: ServingState;
  readonly metrics: RuntimeMetrics;
  readonly logger: Logger;
  readonly maxBodyBytes: number;
}

function sendError(res: Response, error: HttpError): void {
  if (error.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(error.retryAfterSeconds));
  res.status(error.status).json({ error: error.message });
}

function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof QueueFullError) return tooManyRequests(error.message);
  const status = (error as { status?: unknown }).status;
  const type = (error as { type?: unknown }).type;
  if (type === 'entity.too.large') return new HttpError(413, `request body exceeds ${(error as { limit?: number }).limit ?? ''} bytes`.trim());
  if (typeof status === 'number' && status >= 400 && status < 500) return new HttpError(status, (error as Error).message);
  return new HttpError(500, `internal error: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
}

/** The served model when name (and version, if given) match; 404 for others, 503 while loading. */
function lookup(state: ServingState, name: string, version: string | undefined): ServedModel {
  if (name !== state.modelName) throw notFound(`unknown model "${name}"`);
  if (version !== undefined && version !== state.modelVersion) throw notFound(`unknown version "${version}" of model "${name}"`);
  if (!state.model) throw unavailable(`model "${name}" is not loaded`);
  return state.model;
}

const param = (req: Request, key: string): string | undefined => {
  const value = (req.params as Record<string, string | undefined>)[key];
  return value;
};

export function createApp({ state, metrics, logger, maxBodyBytes }: RouteDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  let requestCounter = 0;

  app.get('/v2', (_req, res) => {
    res.json({ name: SERVER_NAME, version: SERVER_VERSION, extensions: ['binary_tensor_data'] });
  });
  app.get('/v2/health/live', (_req, res) => {
    res.json({ live: true });
  });
  app.get('/v2/health/ready', (_req, res) => {
    if (state.ready) res.json({ ready: true });
    else sendError(res, unavailable(state.draining ? 'shutting down' : 'model is not ready'));
  });

  const modelPaths = (suffix: string) => [`/v2/models/:name${suffix}`, `/v2/models/:name/versions/:version${suffix}`];

  app.get(modelPaths(''), (req, res) => {
    const model = lookup(state, param(req, 'name') ?? '', param(req, 'version'));
    res.json({
      name: model.name,
      versions: [model.version],
      platform: 'onnxruntime_onnx',
      inputs: model.signature.inputs,
      outputs: model.signature.outputs,
      parameters: {
        execution_provider: model.provider,
        dynamic_batching: state.batcher !== undefined && model.signature.batchable,
      },
    });
  });

  app.get(modelPaths('/ready'), (req, res) => {
    lookup(state, param(req, 'name') ?? '', param(req, 'version'));
    if (state.ready) res.json({ name: state.modelName, ready: true });
    else sendError(res, unavailable('model is not ready'));
  });

  const rawBody = express.raw({ type: () => true, limit: maxBodyBytes });
  app.post(modelPaths('/infer'), rawBody, async (req, res) => {
    const started = performance.now();
    state.inFlight++;
    let requestId: string | undefined;
    let status = 200;
    try {
      // Draining: requests already routed here over open connections are still served, but each
      // connection closes after its response so clients reconnect to another replica.
      if (state.draining) res.setHeader('Connection', 'close');
      const model = lookup(state, param(req, 'name') ?? '', param(req, 'version'));
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const request = decodeInferRequest(body, req.get('inference-header-content-length'), model.signature);
      requestId = request.id;
      const outputs = await (state.batcher as DynamicBatcher).submit(request.inputs, request.batchKey, request.rows);
      const encoded = encodeInferResponse(
        { modelName: model.name, modelVersion: model.version, ...(request.id !== undefined ? { id: request.id } : {}) },
        outputs,
        request.outputs,
      );
      if (encoded.headerLength !== undefined) res.setHeader('Inference-Header-Content-Length', String(encoded.headerLength));
      res.type(encoded.contentType).send(encoded.body);
    } catch (error) {
      const httpError = toHttpError(error);
      status = httpError.status;
      sendError(res, httpError);
    } finally {
      const seconds = (performance.now() - started) / 1000;
      metrics.requestDone(status, status === 200 ? seconds : undefined);
      logger.info({
        reqId: requestId ?? req.get('x-request-id') ?? `r${++requestCounter}`,
        status,
        latencyMs: Math.round(seconds * 1e6) / 1e3,
      }, 'infer');
      state.inFlight--;
    }
  });

  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.use((req, res) => {
    sendError(res, notFound(`no route for ${req.method} ${req.path}`));
  });

  const onError: ErrorRequestHandler = (error, req, res, _next) => {
    const httpError = toHttpError(error);
    if (req.method === 'POST' && req.path.endsWith('/infer')) metrics.requestDone(httpError.status, undefined);
    if (httpError.status >= 500) logger.error({ err: error, path: req.path }, 'request failed');
    if (res.headersSent) return;
    sendError(res, httpError);
  };
  app.use(onError);
  return app;
}
