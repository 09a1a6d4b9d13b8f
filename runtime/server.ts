import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { DynamicBatcher } from './batching/dynamic-batcher.ts';
import type { RuntimeConfig } from './config.ts';
import { createLogger, type Logger } from './logging.ts';
import { RuntimeMetrics } from './metrics.ts';
import { CLASS_NAMES_METADATA_KEY, parseClassNames, PredictionMetrics, predictionOutputs } from './prediction-metrics.ts';
import { loadModel, type LoadedModel } from './model/served-model.ts';
import type { NamedTensors } from './model/tensor.ts';
import { bearerTokenCheck } from './protocol/auth.ts';
import { fixedToken, tokensFromFile, type AcceptedTokens } from './protocol/accepted-tokens.ts';
import { startGrpcServer, type RunningGrpcServer } from './protocol/grpc-server.ts';
import { answerClientErrorsAsJson } from './protocol/client-errors.ts';
import { httpRateLimit, RateLimiter } from './protocol/rate-limit.ts';
import { createInferHandler, matchInfer } from './protocol/infer-handler.ts';
import { requestDecoder } from './protocol/request-decoder.ts';
import { warmUpServingPath } from './protocol/warm-up.ts';
import { ConnectionAges } from './protocol/connection-age.ts';
import { createApp } from './protocol/routes.ts';
import type { ServingState } from './protocol/serving-state.ts';
import { startTracing } from './tracing/tracing.ts';
import { ServingCertificate } from './protocol/tls.ts';

export interface StartOptions {
  /** Interface to bind; main binds all interfaces, tests 127.0.0.1. */
  readonly host?: string;
  /** Base logger; the runtime adds model and version to every line. */
  readonly logger?: Logger;
}

export interface RunningRuntime {
  readonly url: string;
  /** host:port of the Open Inference Protocol gRPC service. */
  readonly grpcAddress: string;
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

function predictionMetricsFor(config: RuntimeConfig, loaded: LoadedModel, metrics: RuntimeMetrics, logger: Logger): PredictionMetrics | undefined {
  let classNames = config.classNames;
  if (!classNames) {
    try {
      classNames = parseClassNames(loaded.metadata[CLASS_NAMES_METADATA_KEY]);
    } catch (error) {
      logger.warn(`ignoring the model's ${CLASS_NAMES_METADATA_KEY} metadata: ${(error as Error).message}`);
    }
  }
  const outputs = predictionOutputs(loaded.model.signature, classNames);
  return outputs && new PredictionMetrics(outputs, metrics.registry);
}

function acceptedTokens(auth: RuntimeConfig['auth'], logger: Logger): Promise<AcceptedTokens> | AcceptedTokens {
  return auth.tokenFile ? tokensFromFile(auth.tokenFile, auth.reloadMs, logger) : fixedToken(auth.token);
}

/**
 * Starts the HTTP and gRPC servers at once (liveness answers while the model loads), then fetches, verifies,
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
    () => state.batcher?.runsInProgress ?? 0,
  );
  const tracing = config.tracing && await startTracing(config.tracing, source, logger);
  const app = createApp({ state, metrics, logger });
  const decoder = requestDecoder(config.decodeOffloadBytes, logger);
  const connectionAges = new ConnectionAges(config.maxConnectionAgeMs);
  const infer = createInferHandler({ state, metrics, logger, maxBodyBytes: config.maxBodyBytes, connectionAges, decoder, tracing });
  const tokens = await acceptedTokens(config.auth, logger);
  const refusal = bearerTokenCheck(tokens);
  const limiter = new RateLimiter(config.rateLimit);
  const overLimit = httpRateLimit(limiter, () => tokens.required);
  // node:http refuses a headers timeout above the request timeout.
  const headersTimeout = Math.min(config.headersTimeoutMs, config.requestTimeoutMs);
  const serverOptions = {
    keepAliveTimeout: config.keepAliveTimeoutMs,
    headersTimeout,
    requestTimeout: config.requestTimeoutMs,
    // node:http checks those timeouts on this interval (30 s by default), so make it a fraction of them.
    connectionsCheckingInterval: Math.max(50, Math.floor(headersTimeout / 4)),
  };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (refusal(req, res) || overLimit(req, res)) return;
    const target = matchInfer(req);
    if (target) void infer(req, res, target);
    else app(req, res);
  };
  const certificate = config.tls ? await ServingCertificate.load(config.tls, config.tlsReloadMs, logger) : undefined;
  let server: Server;
  if (certificate) {
    const https = createHttpsServer({ ...serverOptions, ...certificate.options }, handler);
    certificate.onChange((pair) => https.setSecureContext(pair));
    server = https;
  } else {
    server = createServer(serverOptions, handler);
  }
  server.on('connection', connectionAges.track);
  answerClientErrorsAsJson(server);
  const host = options.host ?? '0.0.0.0';
  const address = await listen(server, config.port, host);
  const url = `${certificate ? 'https' : 'http'}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  let grpc: RunningGrpcServer;
  try {
    grpc = await startGrpcServer(
      { state, metrics, logger, tokens, limiter, ...(certificate && { tls: certificate }), maxMessageBytes: config.maxBodyBytes, maxConnectionAgeMs: config.maxConnectionAgeMs, tracing },
      host,
      config.grpcPort,
    );
  } catch (error) {
    await Promise.all([closeServer(server), tracing?.shutdown(), decoder.close()]);
    tokens.close();
    certificate?.close();
    throw new Error(`cannot listen for gRPC on ${host}:${config.grpcPort}: ${(error as Error).message}`, { cause: error });
  }

  // A start that fails after the model opened releases its sessions (and the worker's thread).
  let opened: LoadedModel['model'] | undefined;
  try {
    const loaded = await loadModel(source, config.session, config.batching);
    opened = loaded.model;
    await warmUpServingPath(loaded.model, decoder, { maxBatchSize: config.batching.maxBatchSize, decodeOffloadBytes: config.decodeOffloadBytes }, logger);
    if (loaded.fallbackWarning) logger.warn({ provider: loaded.model.provider }, loaded.fallbackWarning);
    state.model = loaded.model;
    const predictions = predictionMetricsFor(config, loaded, metrics, logger);
    const run = predictions
      ? (feeds: NamedTensors) => loaded.model.run(feeds).then((outputs) => (predictions.observe(outputs), outputs))
      : (feeds: NamedTensors) => loaded.model.run(feeds);
    state.batcher = new DynamicBatcher(run, config.batching, metrics, tracing);
    metrics.modelLoaded(loaded.loadSeconds, loaded.model.provider);
    state.ready = true;
    logger.info({
      url,
      grpc: grpc.address,
      provider: loaded.model.provider,
      loadSeconds: loaded.loadSeconds,
      inferenceThread: loaded.placement,
      batching: loaded.model.signature.batchable && config.batching.maxBatchSize > 1,
      decoderThread: decoder.threadReady,
      tracing: config.tracing ? config.tracing.protocol : false,
    }, 'model ready');
  } catch (error) {
    server.closeAllConnections();
    await Promise.all([closeServer(server), grpc.close(0), tracing?.shutdown(), decoder.close(), opened?.dispose()]);
    tokens.close();
    certificate?.close();
    throw error;
  }

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    state.ready = false;
    state.draining = true;
    grpc.drain(config.shutdownGraceMs);
    const drained = await waitForDrain(state, config.shutdownGraceMs);
    if (!drained) logger.warn({ inFlight: state.inFlight, graceMs: config.shutdownGraceMs }, 'grace period over; dropping unfinished requests');
    server.closeAllConnections();
    await Promise.all([closeServer(server), grpc.close(0), decoder.close()]);
    tokens.close();
    certificate?.close();
    await Promise.all([state.model?.dispose(), tracing?.shutdown()]);
    state.model = undefined;
    logger.info({ drained }, 'stopped');
  };
  return {
    url,
    grpcAddress: grpc.address,
    logger,
    close: () => (closing ??= close()),
  };
}
