import { stat } from 'node:fs/promises';
import { numericInfo, elementCount } from './datatypes.ts';
import { ModelLoadError } from './errors.ts';
import { resolveModelFile } from './fetch.ts';
import { readOnnxMetadata } from './onnx-metadata.ts';
import { verifyModelSignature, type SignatureSettings } from './signing/verify-model.ts';
import { MAIN_THREAD_MAX_MODEL_BYTES } from '../contract.ts';
import { placementFor, splitRunner, timeRuns, workerOnlyBecause } from './placement.ts';
import type { BatchingSettings } from '../batching/dynamic-batcher.ts';
import { openInProcessSession, openWorkerSession, type ModelRunner } from './runner.ts';
import type { ExecutionProvider, SessionSettings } from './session.ts';
import { sampleShape, type ModelSignature, type TensorSpec } from './signature.ts';
import type { HostTensor, NamedTensors } from './tensor.ts';

export interface ModelSource {
  readonly name: string;
  readonly version: string;
  readonly uri: string;
  readonly sha256?: string;
  readonly cacheDir: string;
  /** When set, the model is served only if its model-signing signature verifies. */
  readonly signature?: SignatureSettings;
  /** Bearer token for an http(s) download. */
  readonly downloadToken?: string;
}

/** A loaded, warmed-up model: the one thing the protocol layer and the batcher talk to. */
export class ServedModel {
  readonly signature: ModelSignature;
  readonly provider: ExecutionProvider;

  constructor(
    readonly name: string,
    readonly version: string,
    private readonly runner: ModelRunner,
  ) {
    this.signature = runner.signature;
    this.provider = runner.provider;
  }

  run(feeds: NamedTensors): Promise<NamedTensors> {
    return this.runner.run(feeds);
  }

  async dispose(): Promise<void> {
    await this.runner.release();
  }
}

export interface LoadedModel {
  readonly model: ServedModel;
  readonly loadSeconds: number;
  /** The ONNX file's metadata_props. */
  readonly metadata: Readonly<Record<string, string>>;
  readonly fallbackWarning?: string;
  /** Where runs compute, in words (MODELSHIP_INFERENCE_THREAD, and what `auto` chose). */
  readonly placement: string;
}

/** A zero-filled input with every dynamic dim set to 1: enough to make onnxruntime allocate and JIT. */
function warmUpTensor(spec: TensorSpec, signature: ModelSignature, rows: number): HostTensor {
  const shape = sampleShape(spec, signature, rows);
  const count = elementCount(shape);
  const data = spec.datatype === 'BYTES' ? new Array<string>(count).fill('') : numericInfo(spec.datatype).create(count);
  return { datatype: spec.datatype, shape, data };
}

const sampleFeeds = (signature: ModelSignature) => (rows: number): NamedTensors =>
  Object.fromEntries(signature.inputs.map((spec) => [spec.name, warmUpTensor(spec, signature, rows)]));

/** The model's first run, which makes onnxruntime allocate and JIT; a model that cannot run is not served. */
async function warmUp(runner: ModelRunner, path: string): Promise<void> {
  try {
    await runner.run(sampleFeeds(runner.signature)(1));
  } catch (error) {
    await runner.release();
    throw new ModelLoadError(`warm-up run of ${path} failed: ${(error as Error).message.split('\n')[0]}`);
  }
}

/**
 * Opens the model where MODELSHIP_INFERENCE_THREAD says. `auto` opens it in the worker, times its
 * runs there, and when short runs fit the main thread's budget opens it a second time on the main
 * thread for them (placement.ts).
 */
async function openRunner(path: string, settings: SessionSettings, batching: RunLimits): Promise<{ runner: ModelRunner; placement: string }> {
  if (settings.inferenceThread === 'main') {
    const runner = await openInProcessSession(path, settings);
    await warmUp(runner, path);
    return { runner, placement: 'main: every run on the main thread' };
  }
  const worker = await openWorkerSession(path, settings);
  await warmUp(worker, path);
  if (settings.inferenceThread === 'worker') return { runner: worker, placement: 'worker: every run in the worker thread' };
  const workerOnly = (why: string) => ({ runner: worker, placement: `auto: every run in the worker thread (${why})` });
  try {
    const because = workerOnlyBecause(worker.signature, worker.provider, batching.maxConcurrentRuns);
    if (because) return workerOnly(because);
    if ((await stat(path)).size > MAIN_THREAD_MAX_MODEL_BYTES) return workerOnly(`the file is over ${MAIN_THREAD_MAX_MODEL_BYTES / 1024 / 1024} MiB, held once`);
    const { mainThreadRows, reason } = placementFor(await timeRuns(worker, sampleFeeds(worker.signature), batching.maxBatchSize));
    if (mainThreadRows === 0) return { runner: worker, placement: `auto: ${reason}` };
    let main: ModelRunner;
    try {
      main = await openInProcessSession(path, settings);
      await warmUp(main, path);
    } catch (error) {
      return workerOnly(`a second session, on the main thread, failed: ${(error as Error).message.split('\n')[0]}`);
    }
    return { runner: splitRunner(main, worker, mainThreadRows), placement: `auto: ${reason}` };
  } catch (error) {
    await worker.release();
    throw error;
  }
}

/** What the batcher allows a run: its most rows, and how many runs at once. */
export type RunLimits = Pick<BatchingSettings, 'maxBatchSize' | 'maxConcurrentRuns'>;

/** Loads, verifies, opens and warms up the model, placed for runs within `batching`'s limits. */
export async function loadModel(source: ModelSource, settings: SessionSettings, batching: RunLimits): Promise<LoadedModel> {
  const started = process.hrtime.bigint();
  const path = await resolveModelFile(source.uri, source.cacheDir, source.sha256, source.downloadToken);
  if (source.signature) await verifyModelSignature(path, source.uri, source.signature);
  const { runner, placement } = await openRunner(path, settings, batching);
  const { fallbackWarning } = runner;
  const model = new ServedModel(source.name, source.version, runner);
  // onnxruntime has parsed the file already; metadata the reader cannot follow is treated as absent.
  const metadata = await readOnnxMetadata(path).catch(() => ({}));
  const loadSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { model, loadSeconds, metadata, placement, ...(fallbackWarning ? { fallbackWarning } : {}) };
}
