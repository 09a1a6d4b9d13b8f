import { Histogram, type Registry } from 'prom-client';

/**
 * A prom-client histogram without labels, filled row by row into plain arrays. prom-client's
 * observe() validates and hashes labels on every call (about 180 ns), which per predicted row costs
 * a tenth of a small model's run; here a row costs a bucket search and two additions, and the
 * scrape renders the same histogram series.
 */
interface RowValue {
  labels: Record<string, number | string>;
  sharedLabels: Record<string, string>;
  value: number;
  metricName: string;
}

export class RowHistogram extends Histogram {
  private readonly bounds: readonly number[];
  private readonly counts: Float64Array | undefined;
  private sum = 0;
  private count = 0;

  private readonly series: string;
  private readonly help: string;

  constructor(configuration: { name: string; help: string; buckets: readonly number[]; registers: Registry[] }) {
    super({ ...configuration, buckets: [...configuration.buckets] });
    this.series = configuration.name;
    this.help = configuration.help;
    this.bounds = [...configuration.buckets].sort((a, b) => a - b);
    this.counts = new Float64Array(this.bounds.length + 1);
  }

  add(value: number): void {
    if (Number.isNaN(value)) return;
    let bucket = 0;
    while (bucket < this.bounds.length && value > (this.bounds[bucket] as number)) bucket++;
    const counts = this.counts as Float64Array;
    counts[bucket] = (counts[bucket] as number) + 1;
    this.sum += value;
    this.count++;
  }

  /**
   * What prom-client's Registry renders a histogram from (and Histogram.get() builds on); not in its
   * typings, so the unit test holds this output to a native histogram's, series for series.
   */
  getForPromString(): Promise<{ name: string; help: string; type: string; values: RowValue[]; aggregator: string }> {
    const values: RowValue[] = [];
    const row = (labels: Record<string, number | string>, value: number, suffix: string): RowValue =>
      ({ labels, sharedLabels: {}, value, metricName: `${this.series}_${suffix}` });
    let cumulative = 0;
    this.bounds.forEach((le, bucket) => {
      cumulative += (this.counts as Float64Array)[bucket] as number;
      values.push(row({ le }, cumulative, 'bucket'));
    });
    values.push(row({ le: '+Inf' }, this.count, 'bucket'), row({}, this.sum, 'sum'), row({}, this.count, 'count'));
    return Promise.resolve({ name: this.series, help: this.help, type: 'histogram', values, aggregator: 'sum' });
  }

  override reset(): void {
    super.reset();
    // prom-client's constructor calls reset() before this class's fields exist.
    this.counts?.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}
