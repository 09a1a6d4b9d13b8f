import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { InferenceSession, type Tensor } from 'onnxruntime-node';
import type { EXECUTION_PROVIDERS, INFERENCE_THREADS } from '../contract.ts';
import { ModelLoadError } from './errors.ts';
import { signatureOf, type ModelSignature } from './signature.ts';
import { fromOrtTensor, toOrtTensor, type NamedTensors } from './tensor.ts';

export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

export interface SessionSettings {
  /** In order of preference; cpu is always the last resort. */
  readonly providers: readonly ExecutionProvider[];
  readonly deviceId: number;
  /** 0 lets onnxruntime choose. */
  readonly intraOpThreads: number;
  readonly interOpThreads: number;
  /** Where session.run computes: its own worker thread, or the main JS thread. */
  readonly inferenceThread: InferenceThread;
}

export type InferenceThread = (typeof INFERENCE_THREADS)[number];

export interface OpenedSession {
  readonly session: InferenceSession;
  readonly provider: ExecutionProvider;
  /** Set when a preferred provider could not be used; one line, meant for a single warning. */
  readonly fallbackWarning?: string;
}

export { ModelLoadError } from './errors.ts';

/** Shared libraries onnxruntime-node loads for each GPU provider (installed with ONNXRUNTIME_NODE_INSTALL=cuda12). */
const PROVIDER_LIBRARIES: Partial<Record<ExecutionProvider, string>> = {
  cuda: 'libonnxruntime_providers_cuda.so',
  tensorrt: 'libonnxruntime_providers_tensorrt.so',
};

function bindingDirectory(): string {
  const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
  return join(dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

function missingLibrary(provider: ExecutionProvider): string | undefined {
  const library = PROVIDER_LIBRARIES[provider];
  if (!library) return undefined;
  const path = join(bindingDirectory(), library);
  return existsSync(path) ? undefined : path;
}

function providerConfig(provider: ExecutionProvider, deviceId: number): InferenceSession.ExecutionProviderConfig {
  return provider === 'cpu' ? 'cpu' : { name: provider, deviceId };
}

/**
 * Opens the model on the first provider that works. A GPU provider that cannot load (libraries
 * absent, no device, driver mismatch) is skipped; a model that cannot load on the CPU is invalid.
 */
export async function openSession(modelPath: string, settings: SessionSettings): Promise<OpenedSession> {
  const candidates = settings.providers.includes('cpu') ? settings.providers : [...settings.providers, 'cpu' as const];
  const skipped: string[] = [];
  for (const provider of candidates) {
    const absent = missingLibrary(provider);
    if (absent) {
      skipped.push(`${provider} (${absent} is not installed)`);
      continue;
    }
    const options: InferenceSession.SessionOptions = {
      executionProviders: provider === 'cpu' ? ['cpu'] : [providerConfig(provider, settings.deviceId), 'cpu'],
      graphOptimizationLevel: 'all',
      // Idle pool threads sleep instead of spinning: the JS thread that parses HTTP shares these
      // cores, and spinning workers take the CPU it needs (measured: +25% rows/s at concurrency 64,
      // +0.07 ms p50 at concurrency 1; see docs/benchmarks.md).
      extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
      ...(settings.intraOpThreads > 0 ? { intraOpNumThreads: settings.intraOpThreads } : {}),
      ...(settings.interOpThreads > 0 ? { interOpNumThreads: settings.interOpThreads } : {}),
    };
    try {
      const session = await InferenceSession.create(modelPath, options);
      const fallbackWarning = skipped.length
        ? `execution provider ${skipped.join(', ')} unavailable; falling back to ${provider}`
        : undefined;
      return { session, provider, ...(fallbackWarning ? { fallbackWarning } : {}) };
    } catch (error) {
      const message = firstLine(error);
      if (provider === 'cpu') throw new ModelLoadError(`invalid model ${modelPath}: ${message}`);
      skipped.push(`${provider} (${message})`);
    }
  }
  throw new ModelLoadError(`no execution provider could load ${modelPath}: ${skipped.join(', ')}`);
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}

/** One run in V2 terms: host tensors in, host tensors out. */
export async function runSession(session: InferenceSession, feeds: NamedTensors): Promise<NamedTensors> {
  const ortFeeds: Record<string, Tensor> = {};
  for (const [name, tensor] of Object.entries(feeds)) ortFeeds[name] = toOrtTensor(tensor);
  const results = await session.run(ortFeeds);
  const outputs: NamedTensors = {};
  for (const [name, tensor] of Object.entries(results)) outputs[name] = fromOrtTensor(name, tensor);
  return outputs;
}

/** The session's signature; a model with inputs or outputs V2 cannot carry is invalid. */
export function servableSignature(session: InferenceSession, modelPath: string): ModelSignature {
  try {
    return signatureOf(session);
  } catch (error) {
    throw new ModelLoadError(`invalid model ${modelPath}: ${(error as Error).message}`);
  }
}
