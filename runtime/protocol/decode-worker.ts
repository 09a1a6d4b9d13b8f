import { parentPort } from 'node:worker_threads';
import { transferList } from '../model/worker-messages.ts';
import type { DecodeReply, DecodeRequest } from './decode-messages.ts';
import { HttpError } from './errors.ts';
import { decodeInferRequest, type InferRequest } from './infer-request.ts';

/**
 * The request decoder thread: parses and validates large JSON request bodies, so that however many
 * arrive at once, the main thread stays free to answer health probes and small requests. Decoded
 * tensors move back without a copy.
 */
const port = parentPort;
if (!port) throw new Error('decode-worker.ts runs only as a worker thread');

port.on('message', ({ id, body, headerLength, signature }: DecodeRequest) => {
  let request: InferRequest;
  try {
    request = decodeInferRequest(Buffer.from(body.buffer, body.byteOffset, body.byteLength), headerLength, signature);
  } catch (error) {
    // Anything but a refusal is a bug in decoding: the main thread answers it as it would any other 500.
    const refused = error instanceof HttpError ? { status: error.status, message: error.message } : { status: 500, message: String(error) };
    port.postMessage({ id, refused } satisfies DecodeReply);
    return;
  }
  port.postMessage({ id, request } satisfies DecodeReply, transferList(request.inputs));
});
