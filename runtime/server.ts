import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamicBatcher } from './batching/dynamic-batcher.ts';
import type { RuntimeConfig } from './config.ts';
import { createLogger, type Logger } from './logging.ts';
import { RuntimeMetrics } from './metrics.ts';
import { loadModel } from './model/served-model.ts';
import { bearerTokenCheck } from './protocol/auth.ts';
import { createInferHandler, matchInfer } from './protocol/infer-handler.ts';
import { createApp } from './protocol/routes.ts';
import type { ServingState } from './protocol/serving-state.ts';

export interface StartOptions {
  /** Interface to bind; main binds all interfaces, tests 127.0.0.1. */
  readonly host?: string;
  /** Base logger; the runtime adds model and version to every line. */
  readonly logger?: Logger;
}

export interface RunningRuntime {
  readonly url: string;
  readonly logger: Logger;
  /** Graceful stop: readiness false, refuse new requests, finish queued and in-flight ones within the grace period. */
  close(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

const DRAIN_POLL_MS = 20;

/**
 * Resolves true once no request has been in flight for two polls in a row, false when the grace
 * period ends. The listener stays open meanwhile: Kubernetes keeps routing to a terminating pod
 * until endpoints catch up, and closing it would reset connections still in the accept backlog.
 */
async function waitForDrain(state: ServingState, graceMs: number): Promise<boolean> {
  const deadline = performance.now() + graceMs;
  let quietPolls = 0;
  while (quietPolls < 2) {
    if (performance.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    quietPolls = state.inFlight === 0 ? quietPolls + 1 : 0;
  }
  return true;
}

/**
 * Starts the HTTP server at once (liveness answers while the model loads), then fetches, verifies,
 * opens and warms up the model; resolves when ready. Rejects, with the server closed, when the model
 * cannot be served.
 */
export async function startRuntime(config: RuntimeConfig, options: StartOptions = {}): Promise<RunningRuntime> {
  const { model: source } = config;
  const logger = (options.logger ?? createLogger(config.logLevel)).child({ model: source.name, version: source.version });
  const state: ServingState = {
    modelName: source.name,
    modelVersion: source.version,
    model: undefined,
    batcher: undefined,
    ready: false,
    draining: false,
    inFlight: 0,
  };
  const metrics = new RuntimeMetrics(
    { model: source.name, version: source.version, revision: config.revision },
    () => state.batcher?.queueDepth ?? 0,
  );
  const app = createApp({ state, metrics, logger });
  const infer = createInferHandler({ state, metrics, logger, maxBodyBytes: config.maxBodyBytes });
  const refusal = bearerTokenCheck(config.authToken);
  const server = createServer((req, res) => {
    if (refusal(req, res)) return;
    const target = matchInfer(req);
    if (target) void infer(req, res, target);
    else app(req, res);
  });
  const address = await listen(server, config.port, options.host ?? '0.0.0.0');
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;

  try {
    const loaded = await loadModel(source, config.session);
    if (loaded.fallbackWarning) logger.warn({ provider: loaded.model.provider }, loaded.fallbackWarning);
    state.model = loaded.model;
    state.batcher = new DynamicBatcher((feeds) => loaded.model.run(feeds), config.batching, metrics);
    metrics.modelLoaded(loaded.loadSeconds, loaded.model.provider);
    state.ready = true;
    logger.info({
      url,
      provider: loaded.model.provider,
      loadSeconds: loaded.loadSeconds,
      batching: loaded.model.signature.batchable && config.batching.maxBatchSize > 1,
    }, 'model ready');
  } catch (error) {
    server.closeAllConnections();
    await closeServer(server);
    throw error;
  }

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    state.ready = false;
    state.draining = true;
    const drained = await waitForDrain(state, config.shutdownGraceMs);
    if (!drained) logger.warn({ inFlight: state.inFlight, graceMs: config.shutdownGraceMs }, 'grace period over; dropping unfinished requests');
    server.closeAllConnections();
    await closeServer(server);
    await state.model?.dispose();
    state.model = undefined;
    logger.info({ drained }, 'stopped');
  };
  return {
    url,
    logger,
    close: () => (closing ??= close()),
  };
}
