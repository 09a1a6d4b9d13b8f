import { parentPort, workerData } from 'node:worker_threads';
import type { InferenceSession } from 'onnxruntime-node';
import { openSession, runSession, servableSignature, type SessionSettings } from './session.ts';
import { transferList, type WorkerReply, type WorkerRequest } from './worker-messages.ts';

/**
 * The inference thread: owns the onnxruntime session. onnxruntime-node's run() computes on the
 * calling JS thread, so here it never holds up HTTP parsing on the main thread, and a batch never
 * waits behind the main thread's queued I/O to start.
 */
const port = parentPort;
if (!port) throw new Error('inference-worker.ts runs only as a worker thread');
const { modelPath, settings } = workerData as { modelPath: string; settings: SessionSettings };
const reply = (message: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

let session: InferenceSession | undefined;
try {
  const opened = await openSession(modelPath, settings);
  session = opened.session;
  const signature = servableSignature(session, modelPath);
  reply({ type: 'opened', signature, provider: opened.provider, ...(opened.fallbackWarning ? { fallbackWarning: opened.fallbackWarning } : {}) });
} catch (error) {
  await session?.release();
  session = undefined;
  reply({ type: 'failed-to-open', message: (error as Error).message });
}

port.on('message', (message: WorkerRequest) => {
  if (message.type === 'run') {
    runSession(session as InferenceSession, message.feeds).then(
      (outputs) => reply({ type: 'result', id: message.id, outputs }, transferList(outputs)),
      (error: unknown) => reply({ type: 'run-failed', id: message.id, message: error instanceof Error ? error.message : String(error) }),
    );
  } else {
    void (session?.release() ?? Promise.resolve()).finally(() => {
      session = undefined;
      port.close();
    });
  }
});
