import { RUNTIME_GRPC_SERVICE } from '../contract.ts';
/** Span attribute and event names of Modelship's own (the protocol ones come from @opentelemetry/semantic-conventions). */
export const TraceAttr = {
  modelName: 'modelship.model.name',
  modelVersion: 'modelship.model.version',
  /** Rows (dim 0) of one request. */
  requestRows: 'modelship.request.rows',
  /** Rows of the model run that served a request, or of a batch span. */
  batchRows: 'modelship.batch.rows',
  /** Requests merged into one model run. */
  batchRequests: 'modelship.batch.requests',
} as const;

/** Events on a request span: their timestamps split its time into queue wait, inference and encoding. */
export const TraceEvent = {
  queued: 'queued',
  inferenceStart: 'inference.start',
  inferenceEnd: 'inference.end',
  encoded: 'encoded',
} as const;

export const BATCH_SPAN_PREFIX = 'batch ';
export const GRPC_INFER_SPAN = `${RUNTIME_GRPC_SERVICE}/ModelInfer`;
