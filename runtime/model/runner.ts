import { elementCount } from './datatypes.ts';
import { ModelLoadError, openSession, runSession, servableSignature, type ExecutionProvider, type SessionSettings } from './session.ts';
import type { ModelSignature } from './signature.ts';
import type { NamedTensors } from './tensor.ts';
import { ownsWholeBuffer, transferList, type WorkerReply, type WorkerRequest } from './worker-messages.ts';
import { startWorkerThread } from '../worker-thread.ts';

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

/**
 * The feeds with every tensor owning its whole buffer, so all of them move to the worker without a
 * copy: a view into a request body (binary tensor data is read in place) is copied first, since
 * posting a view would copy its whole buffer (a 64 KB socket read for a few hundred bytes of data).
 */
function movable(feeds: NamedTensors): NamedTensors {
  let moved: NamedTensors | undefined;
  for (const [name, tensor] of Object.entries(feeds)) {
    const data = tensor.data;
    // node:worker_threads drops, without a word, a message that transfers a detached buffer: the
    // run would never answer.
    if (!Array.isArray(data) && data.buffer.byteLength === 0 && elementCount(tensor.shape) > 0) throw new Error(`input "${name}"'s data was already sent to a run`);
    if (Array.isArray(data) || ownsWholeBuffer(data)) continue;
    moved ??= { ...feeds };
    moved[name] = { ...tensor, data: (data as Float32Array).slice() };
  }
  return moved ?? feeds;
}

/**
 * Opens the model in its own worker thread (runtime/model/inference-worker.ts). Inputs are copied
 * to the worker only where they are views into request bodies; outputs move back without a copy.
 */
export async function openWorkerSession(modelPath: string, settings: SessionSettings): Promise<ModelRunner> {
  const worker = startWorkerThread(new URL('./inference-worker.ts', import.meta.url), { modelPath, settings });
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
  const send = (message: WorkerRequest, transfer: ArrayBuffer[] = []) => worker.postMessage(message, transfer);

  let releasing: Promise<void> | undefined;
  return {
    signature: opened.signature,
    provider: opened.provider,
    ...(opened.fallbackWarning ? { fallbackWarning: opened.fallbackWarning } : {}),
    run(feeds) {
      if (exited) return Promise.reject(exited);
      let moved: NamedTensors;
      try {
        moved = movable(feeds);
      } catch (error) {
        return Promise.reject(error as Error);
      }
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        send({ type: 'run', id, feeds: moved }, transferList(moved));
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
