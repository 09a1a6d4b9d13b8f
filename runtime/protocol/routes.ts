import express, { type ErrorRequestHandler, type Request } from 'express';
import type { Logger } from '../logging.ts';
import type { RuntimeMetrics } from '../metrics.ts';
import { notFound, unavailable } from './errors.ts';
import { sendError, sendJson, toHttpError } from './http.ts';
import { lookupModel } from './infer-handler.ts';
import { PACKAGE_VERSION } from '../package-version.ts';
import type { ServingState } from './serving-state.ts';

export const SERVER_NAME = 'modelship-runtime';
export const SERVER_VERSION = PACKAGE_VERSION;

interface RouteDeps {
  readonly state: ServingState;
  readonly metrics: RuntimeMetrics;
  readonly logger: Logger;
}

const param = (req: Request, key: string): string | undefined => (req.params as Record<string, string | undefined>)[key];

/** Everything but inference (which has its own lean handler): server and model metadata, health, metrics. */
export function createApp({ state, metrics, logger }: RouteDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  app.get('/v2', (_req, res) => {
    sendJson(res, 200, { name: SERVER_NAME, version: SERVER_VERSION, extensions: ['binary_tensor_data'] });
  });
  app.get('/v2/health/live', (_req, res) => {
    sendJson(res, 200, { live: true });
  });
  app.get('/v2/health/ready', (_req, res) => {
    if (state.ready) sendJson(res, 200, { ready: true });
    else sendError(res, unavailable(state.draining ? 'shutting down' : 'model is not ready'));
  });

  const modelPaths = (suffix: string) => [`/v2/models/:name${suffix}`, `/v2/models/:name/versions/:version${suffix}`];

  app.get(modelPaths(''), (req, res) => {
    const { model, batcher } = lookupModel(state, param(req, 'name') ?? '', param(req, 'version'));
    sendJson(res, 200, {
      name: model.name,
      versions: [model.version],
      platform: 'onnxruntime_onnx',
      inputs: model.signature.inputs,
      outputs: model.signature.outputs,
      parameters: {
        execution_provider: model.provider,
        dynamic_batching: model.signature.batchable && batcher.maxBatchSize > 1,
      },
    });
  });

  app.get(modelPaths('/ready'), (req, res) => {
    lookupModel(state, param(req, 'name') ?? '', param(req, 'version'));
    if (state.ready) sendJson(res, 200, { name: state.modelName, ready: true });
    else sendError(res, unavailable('model is not ready'));
  });

  app.get('/metrics', async (_req, res) => {
    const text = await metrics.registry.metrics();
    res.writeHead(200, { 'Content-Type': metrics.registry.contentType });
    res.end(text);
  });

  app.use((req, res) => {
    sendError(res, notFound(`no route for ${req.method} ${req.path}`));
  });

  const onError: ErrorRequestHandler = (error, req, res, _next) => {
    // Express's own errors (malformed percent-encoding, bad JSON) carry a 4xx status: keep it.
    const httpError = toHttpError(error);
    if (httpError.status >= 500) logger.error({ err: error, path: req.path }, 'request failed');
    sendError(res, httpError);
  };
  app.use(onError);
  return app;
}
