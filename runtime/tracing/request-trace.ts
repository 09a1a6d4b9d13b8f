import { SpanStatusCode, type Span } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, ATTR_HTTP_RESPONSE_STATUS_CODE } from '@opentelemetry/semantic-conventions';
import { ATTR_RPC_GRPC_STATUS_CODE } from '@opentelemetry/semantic-conventions/incubating';
import { TraceAttr, TraceEvent } from './attributes.ts';

/** gRPC codes a server reports as its own failure (semantic conventions for gRPC server spans). */
const GRPC_SERVER_FAULTS: ReadonlySet<number> = new Set([2, 4, 12, 13, 14, 15]);

/** The span of one inference request, from arrival to response. */
export class RequestTrace {
  constructor(readonly span: Span) {}

  /** trace_id and span_id for the request's log line. */
  logFields(): { trace_id: string; span_id: string } {
    const { traceId, spanId } = this.span.spanContext();
    return { trace_id: traceId, span_id: spanId };
  }

  queued(rows: number): void {
    if (!this.span.isRecording()) return;
    this.span.setAttribute(TraceAttr.requestRows, rows);
    this.span.addEvent(TraceEvent.queued);
  }

  encoded(): void {
    this.span.addEvent(TraceEvent.encoded);
  }

  /** HTTP server span: 5xx is an error, 4xx is the client's and leaves the status unset. */
  endHttp(status: number, message?: string): void {
    this.span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
    if (status >= 400) this.span.setAttribute(ATTR_ERROR_TYPE, String(status));
    if (status >= 500) this.span.setStatus({ code: SpanStatusCode.ERROR, ...(message ? { message } : {}) });
    this.span.end();
  }

  /** gRPC server span: only codes that mean a server fault are errors. */
  endGrpc(code: number, message?: string): void {
    this.span.setAttribute(ATTR_RPC_GRPC_STATUS_CODE, code);
    if (GRPC_SERVER_FAULTS.has(code)) this.span.setStatus({ code: SpanStatusCode.ERROR, ...(message ? { message } : {}) });
    this.span.end();
  }
}
