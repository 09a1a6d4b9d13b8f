import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ModelLoadError, openSession, runSession, servableSignature, type ExecutionProvider, type SessionSettings } from './session.ts';
import type { ModelSignature } from './signature.ts';
import type { NamedTensors } from './tensor.ts';
import type { WorkerReply, WorkerRequest } from './worker-messages.ts';

/** What the server needs of an open model: run it, describe it, release it. */
export interface ModelRunner {
  readonly signature: ModelSignature;
  readonly provider: ExecutionProvider;
  readonly fallbackWarning?: string;
  run(feeds: NamedTensors): Promise<NamedTensors>;
  release(): Promise<void>;
}

/** Opens the model on the calling thread: its runs then compute on the JS thread that also parses HTTP. */
export async function openInProcessSession(modelPath: string, settings: SessionSettings): Promise<ModelRunner> {
  const { session, provider, fallbackWarning } = await openSession(modelPath, settings);
  let signature: ModelSignature;
  try {
    signature = servableSignature(session, modelPath);
  } catch (error) {
    await session.release();
    throw error;
  }
  return {
    signature,
    provider,
    ...(fallbackWarning ? { fallbackWarning } : {}),
    run: (feeds) => runSession(session, feeds),
    release: () => session.release(),
  };
}

// The worker is a sibling module: inference-worker.js once compiled; from the TypeScript sources a
// bootstrap that registers tsx first (runtime/model/inference-worker-from-source.mjs).
const FROM_SOURCE = extname(fileURLToPath(import.meta.url)) === '.ts';
const WORKER_URL = new URL(FROM_SOURCE ? './inference-worker-from-source.mjs' : './inference-worker.js', import.meta.url);
const startWorker = (workerData: unknown): Worker => new Worker(WORKER_URL, { workerData });

/**
 * Opens the model in its own worker thread (runtime/model/inference-worker.ts). Inputs are copied
 * to the worker (they may be views into request bodies); outputs move back without a copy.
 */
export async function openWorkerSession(modelPath: string, settings: SessionSettings): Promise<ModelRunner> {
  const worker = startWorker({ modelPath, settings });
  const pending = new Map<number, { resolve: (outputs: NamedTensors) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  let exited: Error | undefined;

  const opened = await new Promise<Extract<WorkerReply, { type: 'opened' }>>((resolve, reject) => {
    worker.once('message', (message: WorkerReply) => {
      if (message.type === 'opened') resolve(message);
      else reject(new ModelLoadError(message.type === 'failed-to-open' ? message.message : `unexpected ${message.type} from the inference worker`));
    });
    worker.once('error', (error) => reject(new ModelLoadError(`inference worker failed: ${error.message}`)));
    worker.once('exit', (code) => reject(new ModelLoadError(`inference worker exited with ${code} before opening the model`)));
  }).catch(async (error: unknown) => {
    await worker.terminate();
    throw error;
  });

  worker.on('message', (message: WorkerReply) => {
    if (message.type !== 'result' && message.type !== 'run-failed') return;
    const call = pending.get(message.id);
    if (!call) return;
    pending.delete(message.id);
    if (message.type === 'result') call.resolve(message.outputs);
    else call.reject(new Error(message.message));
  });
  const failAll = (error: Error) => {
    exited = error;
    for (const call of pending.values()) call.reject(error);
    pending.clear();
  };
  worker.on('error', (error) => failAll(new Error(`inference worker failed: ${error.message}`)));
  worker.on('exit', (code) => failAll(new Error(`inference worker exited with ${code}`)));
  const send = (message: WorkerRequest) => worker.postMessage(message);

  let releasing: Promise<void> | undefined;
  return {
    signature: opened.signature,
    provider: opened.provider,
    ...(opened.fallbackWarning ? { fallbackWarning: opened.fallbackWarning } : {}),
    run(feeds) {
      if (exited) return Promise.reject(exited);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        send({ type: 'run', id, feeds });
      });
    },
    release() {
      releasing ??= new Promise<void>((resolve) => {
        if (exited) return resolve();
        worker.once('exit', () => resolve());
        send({ type: 'release' });
      });
      return releasing;
    },
  };
}
