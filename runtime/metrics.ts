import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BatchObserver } from './batching/dynamic-batcher.ts';
import { RowHistogram } from './row-histogram.ts';

/** The API an inference request came over. */
export type WireProtocol = 'http' | 'grpc';

export interface MetricLabels {
  readonly model: string;
  readonly version: string;
  readonly revision: string;
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/** Prometheus metrics in base units; model, version and revision ride on every series as constant labels. */
export class RuntimeMetrics implements BatchObserver {
  readonly registry = new Registry();
  private readonly latency: RowHistogram;
  private readonly requests: Counter<'code' | 'protocol'>;
  /** Each protocol's series by status code, found without building a label key per request. */
  private readonly requestsByCode: Record<WireProtocol, Map<number, Counter.Internal>> = { http: new Map(), grpc: new Map() };
  private readonly batchSize: Histogram;
  private readonly inferenceSeconds: Histogram;
  private readonly cancelled: Counter;
  private readonly loadSeconds: Gauge;
  private readonly provider: Gauge<'provider'>;

  constructor(labels: MetricLabels, queueDepth: () => number, runsInProgress: () => number) {
    this.registry.setDefaultLabels({ ...labels });
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.latency = new RowHistogram({
      name: 'prediction_latency_seconds',
      help: 'Inference request latency from request parsed to response ready, in seconds',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.requests = new Counter({
      name: 'prediction_requests_total',
      help: 'Inference requests by protocol and HTTP status code (for gRPC, the HTTP equivalent of its status)',
      labelNames: ['code', 'protocol'],
      registers,
    });
    this.batchSize = new Histogram({
      name: 'inference_batch_size',
      help: 'Rows per model run (sum of the merged requests first dimensions)',
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.inferenceSeconds = new Histogram({
      name: 'inference_duration_seconds',
      help: 'Time of one model run (session.run, including batch merge and split), in seconds',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.cancelled = new Counter({
      name: 'inference_cancelled_requests_total',
      help: 'Requests withdrawn from the batching queue because their client went away; they never reached a run',
      registers,
    });
    new Gauge({
      name: 'inference_queue_depth',
      help: 'Requests waiting in the batching queue',
      registers,
      collect() {
        this.set(queueDepth());
      },
    });
    new Gauge({
      name: 'inference_runs_in_progress',
      help: 'Model runs in progress (at most the max concurrent runs)',
      registers,
      collect() {
        this.set(runsInProgress());
      },
    });
    this.loadSeconds = new Gauge({
      name: 'model_load_duration_seconds',
      help: 'Time to fetch, verify, open and warm up the model, in seconds',
      registers,
    });
    this.provider = new Gauge({
      name: 'runtime_execution_provider_info',
      help: 'The onnxruntime execution provider serving the model (value is always 1)',
      labelNames: ['provider'],
      registers,
    });
  }

  modelLoaded(seconds: number, provider: string): void {
    this.loadSeconds.set(seconds);
    this.provider.set({ provider }, 1);
  }

  requestDone(code: number, seconds: number | undefined, protocol: WireProtocol): void {
    const byCode = this.requestsByCode[protocol];
    let counter = byCode.get(code);
    if (!counter) {
      counter = this.requests.labels({ code: String(code), protocol });
      byCode.set(code, counter);
    }
    counter.inc();
    if (seconds !== undefined) this.latency.add(seconds);
  }

  onRun(batchRows: number, _requests: number, seconds: number): void {
    this.batchSize.observe(batchRows);
    this.inferenceSeconds.observe(seconds);
  }

  onCancelled(): void {
    this.cancelled.inc();
  }
}
