import { Counter, type Registry } from 'prom-client';
import { halfBitsToFloat, type NumericArray, type V2Datatype } from './model/datatypes.ts';
import type { ModelSignature, TensorSpec } from './model/signature.ts';
import type { HostTensor, NamedTensors } from './model/tensor.ts';
import { PREDICTION_CLASS_LIMIT as CLASS_LIMIT } from './contract.ts';
import { RowHistogram } from './row-histogram.ts';

/** Labels outside 0..CLASS_LIMIT-1 count as this class, so the series stay bounded. */
export const OTHER_CLASS = 'other';
/** The ONNX metadata_props key that names the classes (the runtime setting MODELSHIP_CLASS_NAMES wins). */
export const CLASS_NAMES_METADATA_KEY = 'class_names';

const SCORE_BUCKETS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1];
const VALUE_BUCKETS = [-1e4, -1e3, -100, -10, -1, -0.1, 0, 0.1, 1, 10, 100, 1e3, 1e4];

const INTEGER_TYPES: ReadonlySet<V2Datatype> = new Set(['INT8', 'INT16', 'INT32', 'INT64', 'UINT8', 'UINT16', 'UINT32', 'UINT64']);
const FLOAT_TYPES: ReadonlySet<V2Datatype> = new Set(['FP16', 'FP32', 'FP64']);

/** Class names as a JSON array of strings or a comma-separated list; undefined when empty. */
export function parseClassNames(text: string | undefined): string[] | undefined {
  const trimmed = text?.trim();
  if (!trimmed) return undefined;
  if (trimmed.startsWith('[')) {
    const parsed: unknown = JSON.parse(trimmed);
    if (!Array.isArray(parsed) || !parsed.every((name) => typeof name === 'string')) {
      throw new Error('class names given as JSON must be an array of strings');
    }
    return parsed.length ? parsed : undefined;
  }
  const names = trimmed.split(',').map((name) => name.trim());
  return names.length ? names : undefined;
}

/** What the model predicts, read from its outputs: class labels and/or scores, or plain values. */
export type PredictionOutputs =
  | { readonly kind: 'classifier'; readonly label?: string; readonly scores?: string; readonly classNames: readonly string[] }
  | { readonly kind: 'regressor'; readonly values: string };

const perRow = (spec: TensorSpec) => spec.shape.length === 1 || (spec.shape.length === 2 && spec.shape[1] === 1);

/**
 * A classifier has an integer label output with one value per row (onnx-ml classifiers, sklearn
 * exports), or a per-class float output [N, C] when class names are known; a model with float
 * outputs and neither is a regressor. Undefined: nothing to observe (e.g. only string outputs).
 */
export function predictionOutputs(signature: ModelSignature, classNames: readonly string[] | undefined): PredictionOutputs | undefined {
  const label = signature.outputs.find((spec) => INTEGER_TYPES.has(spec.datatype) && perRow(spec));
  const scores = signature.outputs.find((spec) => FLOAT_TYPES.has(spec.datatype) && spec.shape.length === 2 && spec.shape[1] !== 1);
  if (label || (scores && classNames)) {
    return { kind: 'classifier', ...(label ? { label: label.name } : {}), ...(scores ? { scores: scores.name } : {}), classNames: classNames ?? [] };
  }
  const values = signature.outputs.find((spec) => FLOAT_TYPES.has(spec.datatype));
  return values ? { kind: 'regressor', values: values.name } : undefined;
}

function numberReader(tensor: HostTensor): (index: number) => number {
  const data = tensor.data as NumericArray;
  if (tensor.datatype === 'FP16') return (i) => halfBitsToFloat((data as Uint16Array)[i] as number);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return (i) => Number(data[i]);
  return (i) => (data as Float32Array)[i] as number;
}

/**
 * Counts what the model predicted, once per model run (per batch, off the per-request path): class
 * counts and the top score for classifiers, the output values for regressors.
 */
export class PredictionMetrics {
  private readonly classCounts = new Float64Array(CLASS_LIMIT + 1);
  private readonly classSeries: Array<Counter.Internal | undefined> = [];
  private readonly classes?: Counter<'class'>;
  private readonly score?: RowHistogram;
  private readonly value?: RowHistogram;

  constructor(private readonly outputs: PredictionOutputs, registry: Registry) {
    const registers = [registry];
    if (outputs.kind === 'regressor') {
      this.value = new RowHistogram({ name: 'prediction_value', help: 'Output values of a regression model', buckets: VALUE_BUCKETS, registers });
      return;
    }
    this.classes = new Counter({ name: 'prediction_class_total', help: 'Predicted rows by class', labelNames: ['class'], registers });
    if (outputs.scores) {
      this.score = new RowHistogram({ name: 'prediction_score', help: 'Highest class score of each predicted row', buckets: SCORE_BUCKETS, registers });
    }
  }

  observe(outputs: NamedTensors): void {
    if (this.outputs.kind === 'regressor') {
      const tensor = outputs[this.outputs.values];
      if (!tensor) return;
      const read = numberReader(tensor);
      for (let i = 0; i < tensor.data.length; i++) this.value?.add(read(i));
      return;
    }
    const labels = this.outputs.label ? outputs[this.outputs.label] : undefined;
    const scores = this.outputs.scores ? outputs[this.outputs.scores] : undefined;
    const rows = labels?.data.length ?? scores?.shape[0] ?? 0;
    const width = scores ? (scores.shape[1] ?? 0) : 0;
    const readLabel = labels ? numberReader(labels) : undefined;
    const readScore = scores && width > 0 ? numberReader(scores) : undefined;
    const counts = this.classCounts;
    counts.fill(0);
    for (let row = 0; row < rows; row++) {
      let best = -1;
      let top = -Infinity;
      if (readScore) {
        for (let column = 0, i = row * width; column < width; column++, i++) {
          const score = readScore(i);
          if (score > top) {
            top = score;
            best = column;
          }
        }
        if (best >= 0) this.score?.add(top);
      }
      const label = readLabel ? readLabel(row) : best;
      const slot = Number.isInteger(label) && label >= 0 && label < CLASS_LIMIT ? label : CLASS_LIMIT;
      counts[slot] = (counts[slot] as number) + 1;
    }
    for (let slot = 0; slot <= CLASS_LIMIT; slot++) {
      const count = counts[slot] as number;
      if (count > 0) this.classSeriesAt(slot).inc(count);
    }
  }

  private classSeriesAt(slot: number): Counter.Internal {
    let series = this.classSeries[slot];
    if (!series) {
      const names = this.outputs.kind === 'classifier' ? this.outputs.classNames : [];
      const name = slot === CLASS_LIMIT ? OTHER_CLASS : (names[slot] ?? String(slot));
      series = (this.classes as Counter<'class'>).labels({ class: name });
      this.classSeries[slot] = series;
    }
    return series;
  }
}
