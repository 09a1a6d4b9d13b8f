import type { Span } from '@opentelemetry/api';
import type { NamedTensors } from '../model/tensor.ts';
import { concatFeeds, splitOutputs } from './batch-tensors.ts';
import type { AbortLike } from './withdrawal.ts';

export interface BatchingSettings {
  /** Most rows (sum of dim 0) in one run; 1 turns batching off. */
  readonly maxBatchSize: number;
  /** How long a queued request may wait for a fuller batch while a run slot is free but others are busy. */
  readonly maxQueueDelayMs: number;
  /** Batch sizes the scheduler dispatches as soon as it can form them. */
  readonly preferredBatchSizes: readonly number[];
  /** Requests waiting beyond this are refused (overload). */
  readonly maxQueueSize: number;
  readonly maxConcurrentRuns: number;
}

export interface BatchObserver {
  onRun(batchRows: number, requests: number, seconds: number): void;
  /** A queued request was withdrawn (its caller's signal aborted) before it reached a run. */
  onCancelled?(rows: number): void;
}

/** Tracing of model runs, when tracing is on. */
export interface BatchTracer {
  /** A run starts serving these (recording) request spans; returns what to call when the model run ends. */
  runStarted(spans: readonly Span[], rows: number, requests: number): () => void;
}

export class QueueFullError extends Error {}

/** The caller aborted while its request was still queued; the request never ran. */
export class RequestCancelledError extends Error {}

interface QueuedRequest {
  readonly feeds: NamedTensors;
  /** Requests merge only when their keys are equal (same trailing dims); undefined: never merged. */
  readonly key: string | undefined;
  readonly rows: number;
  readonly enqueuedAt: number;
  /** The request's span, when tracing is on. */
  readonly span: Span | undefined;
  readonly resolve: (outputs: NamedTensors) => void;
  readonly reject: (error: unknown) => void;
  /** Detaches the abort listener once the request leaves the queue. */
  readonly release: () => void;
}

type RunModel = (feeds: NamedTensors) => Promise<NamedTensors>;

/**
 * Triton-style dynamic batcher. Requests queue; a dispatch pass (on the next event-loop check phase,
 * so everything that arrived in the same I/O poll is merged) forms a batch from the oldest request and
 * every compatible request behind it. With nothing running the batch goes at once, so an idle model
 * adds no latency; while runs are busy, requests accumulate into the next, larger batch.
 */
export class DynamicBatcher {
  private queue: QueuedRequest[] = [];
  private activeRuns = 0;
  private dispatchScheduled = false;
  private delayTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly runModel: RunModel,
    private readonly settings: BatchingSettings,
    private readonly observer: BatchObserver,
    private readonly tracer?: BatchTracer,
  ) {}

  get maxBatchSize(): number {
    return this.settings.maxBatchSize;
  }

  get queueDepth(): number {
    return this.queue.length;
  }

  get runsInProgress(): number {
    return this.activeRuns;
  }

  /**
   * Queues a request. Aborting `signal` while the request still waits withdraws it (its slot frees
   * at once, its rows never reach a run) and rejects with RequestCancelledError; once a run has taken
   * it, the abort is ignored.
   */
  submit(feeds: NamedTensors, key: string | undefined, rows: number, signal?: AbortLike, span?: Span): Promise<NamedTensors> {
    if (signal?.aborted) {
      this.observer.onCancelled?.(rows);
      return Promise.reject(new RequestCancelledError('the client went away before the request was queued'));
    }
    if (this.queue.length >= this.settings.maxQueueSize) {
      return Promise.reject(new QueueFullError(`queue is full (${this.settings.maxQueueSize} requests waiting)`));
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => this.withdraw(request);
      const request: QueuedRequest = {
        feeds, key, rows, enqueuedAt: performance.now(), span, resolve, reject,
        release: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(request);
      this.scheduleDispatch();
    });
  }

  private withdraw(request: QueuedRequest): void {
    const index = this.queue.indexOf(request);
    if (index < 0) return;
    this.queue.splice(index, 1);
    this.observer.onCancelled?.(request.rows);
    request.reject(new RequestCancelledError('the client went away while the request was queued'));
  }

  private scheduleDispatch(): void {
    if (this.dispatchScheduled) return;
    this.dispatchScheduled = true;
    setImmediate(() => {
      this.dispatchScheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.activeRuns < this.settings.maxConcurrentRuns && this.queue.length > 0) {
      const batch = this.takeBatch();
      if (!batch) return;
      void this.execute(batch);
    }
  }

  /** The next batch to run, or undefined to keep waiting (a timer will come back). */
  private takeBatch(): QueuedRequest[] | undefined {
    const head = this.queue[0] as QueuedRequest;
    const { maxBatchSize, preferredBatchSizes, maxQueueDelayMs } = this.settings;
    if (head.key === undefined || maxBatchSize <= 1) {
      this.queue.shift();
      head.release();
      return [head];
    }
    const picked: number[] = [];
    let rows = 0;
    for (let i = 0; i < this.queue.length && rows < maxBatchSize; i++) {
      const candidate = this.queue[i] as QueuedRequest;
      if (candidate.key !== head.key) continue;
      if (picked.length > 0 && rows + candidate.rows > maxBatchSize) continue;
      picked.push(i);
      rows += candidate.rows;
    }
    if (preferredBatchSizes.length > 0 && !preferredBatchSizes.includes(rows)) {
      const target = Math.max(0, ...preferredBatchSizes.filter((size) => size <= rows));
      while (picked.length > 1 && rows > target && target > 0) {
        rows -= (this.queue[picked.pop() as number] as QueuedRequest).rows;
      }
    }
    const waited = performance.now() - head.enqueuedAt;
    const ready = this.activeRuns === 0 || rows >= maxBatchSize || preferredBatchSizes.includes(rows) || waited >= maxQueueDelayMs;
    if (!ready) {
      this.armDelayTimer(maxQueueDelayMs - waited);
      return undefined;
    }
    const chosen = new Set(picked);
    const batch = picked.map((i) => this.queue[i] as QueuedRequest);
    this.queue = this.queue.filter((_, i) => !chosen.has(i));
    for (const request of batch) request.release();
    return batch;
  }

  private armDelayTimer(ms: number): void {
    if (this.delayTimer) return;
    this.delayTimer = setTimeout(() => {
      this.delayTimer = undefined;
      this.scheduleDispatch();
    }, Math.max(0, ms));
  }

  private async execute(batch: QueuedRequest[]): Promise<void> {
    this.activeRuns++;
    const started = performance.now();
    const rows = batch.reduce((sum, request) => sum + request.rows, 0);
    const endTrace = this.tracer && this.traceRun(this.tracer, batch, rows);
    // The trace's run ends before any request is answered (and its span ended).
    const run = endTrace ? (feeds: NamedTensors) => this.runModel(feeds).finally(endTrace) : this.runModel;
    try {
      if (batch.length === 1) {
        const only = batch[0] as QueuedRequest;
        await run(only.feeds).then(only.resolve, only.reject);
      } else {
        await this.runMerged(batch, run);
      }
    } finally {
      this.observer.onRun(rows, batch.length, (performance.now() - started) / 1000);
      this.activeRuns--;
      if (this.queue.length > 0) this.scheduleDispatch();
    }
  }

  /** Tells the tracer about a run serving at least one recorded request; undefined otherwise. */
  private traceRun(tracer: BatchTracer, batch: QueuedRequest[], rows: number): (() => void) | undefined {
    const spans: Span[] = [];
    for (const request of batch) if (request.span?.isRecording()) spans.push(request.span);
    return spans.length > 0 ? tracer.runStarted(spans, rows, batch.length) : undefined;
  }

  private async runMerged(batch: QueuedRequest[], run: RunModel): Promise<void> {
    let perRequest: NamedTensors[];
    try {
      const outputs = await run(concatFeeds(batch.map((request) => request.feeds)));
      perRequest = splitOutputs(outputs, batch.map((request) => request.rows));
    } catch {
      // One request's data can make a run fail (data-dependent ops); run each alone so only it fails.
      await Promise.all(batch.map((request) => this.runModel(request.feeds).then(request.resolve, request.reject)));
      return;
    }
    batch.forEach((request, i) => request.resolve(perRequest[i] as NamedTensors));
  }
}
