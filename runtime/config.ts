import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { LOG_LEVELS, RuntimeContract as C } from './contract.ts';
import { readDigest, readEnum, readInteger, readIntegerList, readList, readString, type Env } from './env-settings.ts';
import type { BatchingSettings } from './batching/dynamic-batcher.ts';
import type { SessionSettings } from './model/session.ts';

export { ConfigError } from './env-settings.ts';
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

function modelNameFrom(uri: string): string {
  const file = basename(new URL(uri, 'file:///').pathname);
  return basename(file, extname(file)) || 'model';
}

/** Parses and validates the MODELSHIP_* environment against the contract (runtime/contract.ts). */
export function loadConfig(env: Env = process.env): RuntimeConfig {
  const uri = readString(env, C.modelUri);
  const maxBatchSize = readInteger(env, C.maxBatchSize);
  const logLevel = readEnum(env, C.logLevel);
  const digest = readDigest(env, C.modelSha256);
  const authToken = readString(env, C.authToken);
  return {
    model: {
      name: readString(env, C.modelName) ?? modelNameFrom(uri),
      version: readString(env, C.modelVersion),
      uri,
      ...(digest ? { sha256: digest } : {}),
      cacheDir: readString(env, C.modelCacheDir) ?? join(tmpdir(), 'modelship-models'),
    },
    revision: readString(env, C.revision),
    port: readInteger(env, C.port),
    session: {
      providers: readList(env, C.executionProviders),
      deviceId: readInteger(env, C.deviceId),
      intraOpThreads: readInteger(env, C.intraOpThreads),
      interOpThreads: readInteger(env, C.interOpThreads),
    },
    batching: {
      maxBatchSize,
      maxQueueDelayMs: readInteger(env, C.maxQueueDelayMs),
      preferredBatchSizes: readIntegerList(env, C.preferredBatchSizes, maxBatchSize),
      maxQueueSize: readInteger(env, C.maxQueueSize),
      maxConcurrentRuns: readInteger(env, C.maxConcurrentRuns),
    },
    maxBodyBytes: readInteger(env, C.maxBodyBytes),
    shutdownGraceMs: readInteger(env, C.shutdownGraceMs),
    logLevel,
    ...(authToken ? { authToken } : {}),
  };
}
