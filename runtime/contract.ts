/**
 * The runtime's configuration contract: the environment variables the operator sets on the
 * runtime container. Both sides import these names from here, so they cannot drift apart.
 * Parsing, defaults and documentation live in runtime/config.ts and runtime/README.md.
 */
export const RuntimeEnv = {
  modelName: 'MODELSHIP_MODEL_NAME',
  modelVersion: 'MODELSHIP_MODEL_VERSION',
  modelUri: 'MODELSHIP_MODEL_URI',
  modelSha256: 'MODELSHIP_MODEL_SHA256',
  modelCacheDir: 'MODELSHIP_MODEL_CACHE_DIR',
  revision: 'MODELSHIP_REVISION',
  port: 'MODELSHIP_PORT',
  executionProviders: 'MODELSHIP_EXECUTION_PROVIDERS',
  deviceId: 'MODELSHIP_DEVICE_ID',
  intraOpThreads: 'MODELSHIP_INTRA_OP_THREADS',
  interOpThreads: 'MODELSHIP_INTER_OP_THREADS',
  maxBatchSize: 'MODELSHIP_MAX_BATCH_SIZE',
  maxQueueDelayMs: 'MODELSHIP_MAX_QUEUE_DELAY_MS',
  preferredBatchSizes: 'MODELSHIP_PREFERRED_BATCH_SIZES',
  maxQueueSize: 'MODELSHIP_MAX_QUEUE_SIZE',
  maxConcurrentRuns: 'MODELSHIP_MAX_CONCURRENT_RUNS',
  maxBodyBytes: 'MODELSHIP_MAX_BODY_BYTES',
  shutdownGraceMs: 'MODELSHIP_SHUTDOWN_GRACE_MS',
  logLevel: 'MODELSHIP_LOG_LEVEL',
  authToken: 'MODELSHIP_AUTH_TOKEN',
} as const;

export type RuntimeEnvName = (typeof RuntimeEnv)[keyof typeof RuntimeEnv];

/** Paths of the Open Inference Protocol endpoints the operator points probes at. */
export const RuntimeProbePaths = {
  live: '/v2/health/live',
  ready: '/v2/health/ready',
  metrics: '/metrics',
} as const;

export const RUNTIME_DEFAULT_PORT = 8080;
