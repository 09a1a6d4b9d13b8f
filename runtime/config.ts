import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { LOG_LEVELS, RuntimeContract as C } from './contract.ts';
import { ConfigError, readDigest, readEnum, readInteger, readIntegerList, readList, readString, type Env } from './env-settings.ts';
import { parseClassNames } from './prediction-metrics.ts';
import type { BatchingSettings } from './batching/dynamic-batcher.ts';
import type { RateLimitSettings } from './protocol/rate-limit.ts';
import type { SessionSettings } from './model/session.ts';
import { loadTracingSettings, type TracingSettings } from './tracing/settings.ts';
import type { SignatureSettings } from './model/signing/verify-model.ts';

export { ConfigError } from './env-settings.ts';
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface RuntimeConfig {
  readonly model: {
    readonly name: string;
    readonly version: string;
    readonly uri: string;
    readonly sha256?: string;
    readonly cacheDir: string;
    /** When set, the model is served only if its signature verifies. */
    readonly signature?: SignatureSettings;
    readonly downloadToken?: string;
  };
  /** Where the reason goes when the model cannot be served (the container's termination message). */
  readonly terminationMessagePath?: string;
  readonly revision: string;
  readonly port: number;
  /** The Open Inference Protocol gRPC port (0: any free port). */
  readonly grpcPort: number;
  readonly session: SessionSettings;
  readonly batching: BatchingSettings;
  readonly maxBodyBytes: number;
  /** JSON bodies at least this large are decoded on the decoder thread; 0: never. */
  readonly decodeOffloadBytes: number;
  /** Slow clients (slow-loris) lose their connection with 408 after these: headers, whole request. */
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly shutdownGraceMs: number;
  /** Keep-alive connections close after their next response past this age (0: never). */
  readonly maxConnectionAgeMs: number;
  /** An idle keep-alive connection closes after this. */
  readonly keepAliveTimeoutMs: number;
  readonly logLevel: LogLevel;
  /** Model endpoints require `Authorization: Bearer <token>` of one of these tokens; health and metrics stay open. */
  readonly auth: AuthSettings;
  /** Certificate and key files for HTTPS and gRPC over TLS; undefined: plain text. */
  readonly tls: TlsFiles | undefined;
  /** How often the TLS files are re-read. */
  readonly tlsReloadMs: number;
  /** Names of classes 0, 1, ... for prediction metrics; overrides the model's class_names metadata. */
  readonly classNames?: readonly string[];
  /** Each client (its accepted bearer token, else its address) gets a token bucket, and all together one more; beyond them, 429. */
  readonly rateLimit: RateLimitSettings;
  /** OpenTelemetry tracing; undefined (off) unless an OTLP endpoint is configured. */
  readonly tracing?: TracingSettings;
}

/** A fixed token, or a file of tokens re-read every reloadMs; neither: open. */
export interface AuthSettings {
  readonly token?: string;
  readonly tokenFile?: string;
  readonly reloadMs: number;
}

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

function tlsFiles(env: Env): TlsFiles | undefined {
  const certFile = readString(env, C.tlsCertFile);
  const keyFile = readString(env, C.tlsKeyFile);
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) throw new ConfigError(`set both ${C.tlsCertFile.name} and ${C.tlsKeyFile.name}, or neither`);
  return { certFile, keyFile };
}

function authSettings(env: Env): AuthSettings {
  const token = readString(env, C.authToken);
  const tokenFile = readString(env, C.authTokenFile);
  const reloadMs = readInteger(env, C.authTokenReloadSeconds) * 1000;
  if (token && tokenFile) throw new ConfigError(`set ${C.authToken.name} or ${C.authTokenFile.name}, not both`);
  return { ...(token && { token }), ...(tokenFile && { tokenFile }), reloadMs };
}

function modelNameFrom(uri: string): string {
  const file = basename(new URL(uri, 'file:///').pathname);
  return basename(file, extname(file)) || 'model';
}

function classNames(env: Env): string[] | undefined {
  try {
    return parseClassNames(readString(env, C.classNames));
  } catch (error) {
    throw new ConfigError(`${C.classNames.name} is invalid: ${(error as Error).message}`, { cause: error });
  }
}

function signature(env: Env, modelUri: string): SignatureSettings | undefined {
  const method = readEnum(env, C.modelSignatureMethod);
  const uri = readString(env, C.modelSignatureUri);
  const trustFile = readString(env, C.modelSignatureTrustFile);
  if (method === 'none') {
    if (uri || trustFile) throw new ConfigError(`${uri ? C.modelSignatureUri.name : C.modelSignatureTrustFile.name} is set but ${C.modelSignatureMethod.name} is none: set the method (key or certificate) to verify the signature`);
    return undefined;
  }
  if (!trustFile) throw new ConfigError(`${C.modelSignatureTrustFile.name} is required with ${C.modelSignatureMethod.name}=${method}: the PEM ${method === 'key' ? 'public key' : 'CA certificates'}`);
  return { method, uri: uri ?? `${modelUri}.sig`, trustFile };
}

/** Parses and validates the MODELSHIP_* environment against the contract (runtime/contract.ts). */
export function loadConfig(env: Env = process.env): RuntimeConfig {
  const uri = readString(env, C.modelUri);
  const maxBatchSize = readInteger(env, C.maxBatchSize);
  const logLevel = readEnum(env, C.logLevel);
  const digest = readDigest(env, C.modelSha256);
  const auth = authSettings(env);
  const downloadToken = readString(env, C.modelDownloadToken);
  const names = classNames(env);
  const tracing = loadTracingSettings(env);
  const signed = signature(env, uri);
  const terminationMessagePath = readString(env, C.terminationMessagePath);
  return {
    model: {
      name: readString(env, C.modelName) ?? modelNameFrom(uri),
      version: readString(env, C.modelVersion),
      uri,
      ...(digest ? { sha256: digest } : {}),
      cacheDir: readString(env, C.modelCacheDir) ?? join(tmpdir(), 'modelship-models'),
      ...(signed ? { signature: signed } : {}),
      ...(downloadToken ? { downloadToken } : {}),
    },
    ...(terminationMessagePath ? { terminationMessagePath } : {}),
    revision: readString(env, C.revision),
    port: readInteger(env, C.port),
    grpcPort: readInteger(env, C.grpcPort),
    session: {
      providers: readList(env, C.executionProviders),
      deviceId: readInteger(env, C.deviceId),
      intraOpThreads: readInteger(env, C.intraOpThreads),
      interOpThreads: readInteger(env, C.interOpThreads),
      inferenceThread: readEnum(env, C.inferenceThread),
    },
    batching: {
      maxBatchSize,
      maxQueueDelayMs: readInteger(env, C.maxQueueDelayMs),
      preferredBatchSizes: readIntegerList(env, C.preferredBatchSizes, maxBatchSize),
      maxQueueSize: readInteger(env, C.maxQueueSize),
      maxConcurrentRuns: readInteger(env, C.maxConcurrentRuns),
    },
    maxBodyBytes: readInteger(env, C.maxBodyBytes),
    decodeOffloadBytes: readInteger(env, C.decodeOffloadBytes),
    headersTimeoutMs: readInteger(env, C.headersTimeoutMs),
    requestTimeoutMs: readInteger(env, C.requestTimeoutMs),
    shutdownGraceMs: readInteger(env, C.shutdownGraceMs),
    maxConnectionAgeMs: readInteger(env, C.maxConnectionAgeSeconds) * 1000,
    keepAliveTimeoutMs: readInteger(env, C.keepAliveTimeoutSeconds) * 1000,
    logLevel,
    auth,
    tls: tlsFiles(env),
    tlsReloadMs: readInteger(env, C.tlsReloadSeconds) * 1000,
    ...(names ? { classNames: names } : {}),
    rateLimit: { requestsPerSecond: readInteger(env, C.rateLimitRps), burst: readInteger(env, C.rateLimitBurst), totalRequestsPerSecond: readInteger(env, C.rateLimitTotalRps) },
    ...(tracing ? { tracing } : {}),
  };
}
