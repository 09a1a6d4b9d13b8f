import type { Worker } from 'node:worker_threads';
import type { Logger } from '../logging.ts';
import type { ModelSignature } from '../model/signature.ts';
import { ownsWholeBuffer } from '../model/worker-messages.ts';
import { startWorkerThread } from '../worker-thread.ts';
import type { DecodeReply, DecodeRequest } from './decode-messages.ts';
import { HttpError, unavailable } from './errors.ts';
import { decodeInferRequest, type InferRequest } from './infer-request.ts';
import { sampleRequestBody } from './sample-request.ts';

/** Decodes V2 inference request bodies, large JSON ones on a thread of their own. */
export interface RequestDecoder {
  /** The body is the decoder's from then on: its buffer may move to the decoder thread. */
  decode(body: Buffer, headerLength: string | undefined, signature: ModelSignature): InferRequest | Promise<InferRequest>;
  /**
   * Starts the decoder thread (when large bodies are offloaded) and has it decode one request for the
   * model; resolves once it has answered, or once it has failed (decoding then stays inline).
   */
  warmUp(signature: ModelSignature): Promise<void>;
  /** The decoder thread is started and has answered: a large body's decode pays no thread start. */
  readonly threadReady: boolean;
  close(): Promise<void>;
}

/** Bytes of JSON text in a body: all of it, or the part before the binary tensor data. */
function jsonBytes(body: Buffer, headerLength: string | undefined): number {
  if (headerLength === undefined) return body.length;
  const length = Number(headerLength);
  return Number.isSafeInteger(length) ? Math.min(length, body.length) : 0;
}

/**
 * Bodies with at least `minJsonBytes` of JSON (0: none) are parsed and validated on the decoder thread
 * (runtime/protocol/decode-worker.ts), started with the first of them: JSON.parse cannot be interrupted,
 * and a few concurrent 500 KB bodies would otherwise hold up the event loop, health probes included,
 * for tens of milliseconds each. Everything else decodes inline, where a thread hop would cost more
 * than the work. Should the thread die, decoding goes on inline.
 */
export function requestDecoder(minJsonBytes: number, logger: Logger): RequestDecoder {
  let worker: Worker | undefined;
  let broken = false;
  let threadReady = false;
  let nextId = 0;
  const pending = new Map<number, { resolve: (request: InferRequest) => void; reject: (error: Error) => void }>();

  const failAll = (error: Error) => {
    broken = true;
    worker = undefined;
    logger.error({ err: error }, 'the request decoder thread failed; decoding large bodies on the main thread from now on');
    for (const call of pending.values()) call.reject(new HttpError(500, `request decoder failed: ${error.message}`));
    pending.clear();
  };

  const start = (): Worker => {
    const started = startWorkerThread(new URL('./decode-worker.ts', import.meta.url), undefined);
    started.on('message', (reply: DecodeReply) => {
      const call = pending.get(reply.id);
      if (!call) return;
      pending.delete(reply.id);
      if ('request' in reply) call.resolve(reply.request);
      else call.reject(new HttpError(reply.refused.status, reply.refused.message));
    });
    started.on('error', (error) => failAll(error));
    started.on('exit', (code) => {
      if (worker === started) failAll(new Error(`exited with ${code}`));
    });
    // An idle decoder must not keep the process alive on its own.
    started.unref();
    return started;
  };

  const offload = (body: Buffer, headerLength: string | undefined, signature: ModelSignature): Promise<InferRequest> => {
    worker ??= start();
    const id = nextId++;
    const message: DecodeRequest = { id, body, headerLength, signature };
    return new Promise<InferRequest>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      (worker as Worker).postMessage(message, ownsWholeBuffer(body) ? [body.buffer] : []);
    });
  };

  return {
    decode(body, headerLength, signature) {
      if (broken || minJsonBytes === 0 || jsonBytes(body, headerLength) < minJsonBytes) {
        return decodeInferRequest(body, headerLength, signature);
      }
      return offload(body, headerLength, signature);
    },
    async warmUp(signature) {
      if (broken || minJsonBytes === 0) return;
      // Started on a pod's first large request instead, the thread cost that request about 200 ms
      // (more under a CPU limit): enough to push a fresh pod's mean latency over an autoscaling target.
      await offload(sampleRequestBody(signature), undefined, signature).catch(() => undefined);
      threadReady = !broken;
    },
    get threadReady() {
      return threadReady && !broken;
    },
    async close() {
      const stopping = worker;
      worker = undefined;
      broken = true;
      for (const call of pending.values()) call.reject(unavailable('shutting down'));
      pending.clear();
      await stopping?.terminate();
    },
  };
}
