import type { ModelSignature } from '../model/signature.ts';
import type { InferRequest } from './infer-request.ts';

/** Messages between the main thread and the request decoder thread (runtime/protocol/decode-worker.ts). */
export interface DecodeRequest {
  readonly id: number;
  readonly body: Uint8Array;
  readonly headerLength: string | undefined;
  readonly signature: ModelSignature;
}

export type DecodeReply =
  | { readonly id: number; readonly request: InferRequest }
  /** The request is refused (a 4xx, as decodeInferRequest would throw it on the main thread). */
  | { readonly id: number; readonly refused: { readonly status: number; readonly message: string } };
