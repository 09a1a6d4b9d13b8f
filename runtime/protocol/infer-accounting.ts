import type { Logger } from '../logging.ts';
import type { RuntimeMetrics, WireProtocol } from '../metrics.ts';
import type { RequestTrace } from '../tracing/request-trace.ts';
import type { ServingState } from './serving-state.ts';

interface AccountingDeps {
  readonly state: ServingState;
  readonly metrics: RuntimeMetrics;
  readonly logger: Logger;
}

/** Ends an inference request: its status (HTTP, or the HTTP equivalent of a gRPC status), id and trace (when tracing is on). */
export type FinishInfer = (status: number, requestId: string | undefined, trace?: RequestTrace) => void;

/**
 * What every inference request does around its work, whatever the wire protocol: counts as in
 * flight (graceful drain waits for it), then one metric update and one log line when it ends.
 */
export function inferAccounting({ state, metrics, logger }: AccountingDeps, protocol: WireProtocol): () => FinishInfer {
  let requestCounter = 0;
  // The line is built only when it will be written (levels are fixed for the process's life).
  const logged = logger.isLevelEnabled('info');
  return () => {
    const started = performance.now();
    state.inFlight++;
    return (status, requestId, trace) => {
      const seconds = (performance.now() - started) / 1000;
      metrics.requestDone(status, status === 200 ? seconds : undefined, protocol);
      state.inFlight--;
      if (!logged) return;
      const line = {
        reqId: requestId ?? `r${++requestCounter}`,
        protocol,
        status,
        latencyMs: Math.round(seconds * 1e6) / 1e3,
      };
      logger.info(trace ? { ...line, ...trace.logFields() } : line, 'infer');
    };
  };
}
