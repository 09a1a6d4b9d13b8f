import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { RUNTIME_DEFAULT_PORT, RuntimeEnv } from './contract.ts';
import type { BatchingSettings } from './batching/dynamic-batcher.ts';
import { EXECUTION_PROVIDERS, type ExecutionProvider, type SessionSettings } from './model/session.ts';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface RuntimeConfig {
  readonly model: {
    readonly name: string;
    readonly version: string;
    readonly uri: string;
    readonly sha256?: string;
    readonly cacheDir: string;
  };
  readonly revision: string;
  readonly port: number;
  readonly session: SessionSettings;
  readonly batching: BatchingSettings;
  readonly maxBodyBytes: number;
  readonly shutdownGraceMs: number;
  readonly logLevel: LogLevel;
  /** When set, model endpoints require `Authorization: Bearer <token>`; health and metrics stay open. */
  readonly authToken?: string;
}

export class ConfigError extends Error {}

type Env = Readonly<Record<string, string | undefined>>;

function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === '' ? undefined : value;
}

function integer(env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^-?\d+$/.test(raw) || value < min || value > max) {
    throw new ConfigError(`${name}=${raw} is invalid: expected an integer between ${min} and ${max}`);
  }
  return value;
}

function list(env: Env, name: string): string[] {
  return (read(env, name) ?? '').split(',').map((item) => item.trim().toLowerCase()).filter(Boolean);
}

function providers(env: Env): ExecutionProvider[] {
  const names = list(env, RuntimeEnv.executionProviders);
  for (const name of names) {
    if (!(EXECUTION_PROVIDERS as readonly string[]).includes(name)) {
      throw new ConfigError(`${RuntimeEnv.executionProviders} lists unknown provider "${name}"; known: ${EXECUTION_PROVIDERS.join(', ')}`);
    }
  }
  return names.length ? [...new Set(names as ExecutionProvider[])] : ['cpu'];
}

function preferredBatchSizes(env: Env, maxBatchSize: number): number[] {
  const name = RuntimeEnv.preferredBatchSizes;
  return list(env, name).map((item) => {
    const size = Number(item);
    if (!Number.isInteger(size) || size < 1 || size > maxBatchSize) {
      throw new ConfigError(`${name} entry "${item}" is invalid: expected integers between 1 and ${RuntimeEnv.maxBatchSize} (${maxBatchSize})`);
    }
    return size;
  }).sort((a, b) => a - b);
}

function sha256(env: Env): string | undefined {
  const raw = read(env, RuntimeEnv.modelSha256)?.toLowerCase().replace(/^sha256:/, '');
  if (raw !== undefined && !/^[0-9a-f]{64}$/.test(raw)) {
    throw new ConfigError(`${RuntimeEnv.modelSha256} must be 64 hex digits (optionally prefixed "sha256:")`);
  }
  return raw;
}

function modelNameFrom(uri: string): string {
  const file = basename(new URL(uri, 'file:///').pathname);
  return basename(file, extname(file)) || 'model';
}

/** Parses and validates the MODELSHIP_* environment (documented in runtime/README.md). */
export function loadConfig(env: Env = process.env): RuntimeConfig {
  const uri = read(env, RuntimeEnv.modelUri);
  if (!uri) throw new ConfigError(`${RuntimeEnv.modelUri} is required: a local path or an http(s) URL of an .onnx model`);
  const maxBatchSize = integer(env, RuntimeEnv.maxBatchSize, 64, 1, 65536);
  const logLevel = read(env, RuntimeEnv.logLevel)?.toLowerCase() ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`${RuntimeEnv.logLevel}=${logLevel} is invalid: expected one of ${LOG_LEVELS.join(', ')}`);
  }
  const digest = sha256(env);
  const authToken = read(env, RuntimeEnv.authToken);
  return {
    model: {
      name: read(env, RuntimeEnv.modelName) ?? modelNameFrom(uri),
      version: read(env, RuntimeEnv.modelVersion) ?? '1',
      uri,
      ...(digest ? { sha256: digest } : {}),
      cacheDir: read(env, RuntimeEnv.modelCacheDir) ?? join(tmpdir(), 'modelship-models'),
    },
    revision: read(env, RuntimeEnv.revision) ?? '',
    port: integer(env, RuntimeEnv.port, RUNTIME_DEFAULT_PORT, 0, 65535),
    session: {
      providers: providers(env),
      deviceId: integer(env, RuntimeEnv.deviceId, 0, 0, 1024),
      intraOpThreads: integer(env, RuntimeEnv.intraOpThreads, 0, 0, 1024),
      interOpThreads: integer(env, RuntimeEnv.interOpThreads, 0, 0, 1024),
    },
    batching: {
      maxBatchSize,
      maxQueueDelayMs: integer(env, RuntimeEnv.maxQueueDelayMs, 2, 0, 60_000),
      preferredBatchSizes: preferredBatchSizes(env, maxBatchSize),
      maxQueueSize: integer(env, RuntimeEnv.maxQueueSize, 1024, 1, 1_000_000),
      maxConcurrentRuns: integer(env, RuntimeEnv.maxConcurrentRuns, 1, 1, 64),
    },
    maxBodyBytes: integer(env, RuntimeEnv.maxBodyBytes, 64 * 1024 * 1024, 1024),
    shutdownGraceMs: integer(env, RuntimeEnv.shutdownGraceMs, 20_000, 0, 3_600_000),
    logLevel: logLevel as LogLevel,
    ...(authToken ? { authToken } : {}),
  };
}
