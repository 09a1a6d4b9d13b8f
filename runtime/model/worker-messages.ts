import type { ExecutionProvider } from './session.ts';
import type { ModelSignature } from './signature.ts';
import type { NamedTensors } from './tensor.ts';

/** Messages between the main thread and the inference worker (runtime/model/inference-worker.ts). */
export type WorkerRequest =
  | { readonly type: 'run'; readonly id: number; readonly feeds: NamedTensors }
  | { readonly type: 'release' };

export type WorkerReply =
  | { readonly type: 'opened'; readonly signature: ModelSignature; readonly provider: ExecutionProvider; readonly fallbackWarning?: string }
  | { readonly type: 'failed-to-open'; readonly message: string }
  | { readonly type: 'result'; readonly id: number; readonly outputs: NamedTensors }
  | { readonly type: 'run-failed'; readonly id: number; readonly message: string };

/**
 * Buffers that can move to the other thread instead of being copied: only those a tensor owns whole.
 * A view into a larger buffer (a slice of a request body, Node's pooled Buffers) must be copied, or
 * the move would take the rest of that buffer away from its owner.
 */
export function transferList(tensors: NamedTensors): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const tensor of Object.values(tensors)) {
    const data = tensor.data;
    // An empty buffer has nothing to move, and one already moved (detached) would make node drop the message.
    if (!Array.isArray(data) && ownsWholeBuffer(data) && data.byteLength > 0) buffers.add(data.buffer);
  }
  return [...buffers];
}

/** Whether a view spans its whole (non-shared) buffer, so that moving the buffer takes nothing from anyone else. */
export function ownsWholeBuffer(view: ArrayBufferView): view is ArrayBufferView & { buffer: ArrayBuffer } {
  return view.buffer instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;
}
