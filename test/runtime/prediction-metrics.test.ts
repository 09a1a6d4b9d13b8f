import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sampleSum } from '../support/prometheus-text.ts';
import { modelPath, postJson, readValidationSamples, startTestRuntime, type V2InferResponse } from './helpers.ts';
import { ensurePython, runPython } from './python.ts';

type Runtime = Awaited<ReturnType<typeof startTestRuntime>>;

const metricsOf = async (runtime: Runtime): Promise<string> => (await fetch(`${runtime.url}/metrics`)).text();

async function infer(runtime: Runtime, model: string, input: Record<string, unknown>): Promise<V2InferResponse> {
  const response = await postJson<V2InferResponse>(`${runtime.url}/v2/models/${model}/infer`, { inputs: [input] });
  expect(response.status, JSON.stringify(response.body)).to.equal(200);
  return response.body;
}

/** Sends the held-out fraud rows in requests of uneven sizes; returns the labels and top scores the runtime answered. */
async function predictFraud(runtime: Runtime, model: string): Promise<{ labels: number[]; topScores: number[] }> {
  const samples = await readValidationSamples('fraud');
  const labels: number[] = [];
  const topScores: number[] = [];
  let row = 0;
  const requests = [1, 3, 20, 100, 200, 700].map((rows) => {
    const data = Array.from(samples.subarray(row * 30, (row += rows) * 30));
    return infer(runtime, model, { name: 'features', datatype: 'FP32', shape: [rows, 30], data });
  });
  for (const body of await Promise.all(requests)) {
    const out = Object.fromEntries(body.outputs.map((output) => [output.name, output.data as number[]]));
    labels.push(...(out.label as number[]));
    const probabilities = out.probabilities as number[];
    for (let i = 0; i < probabilities.length; i += 2) topScores.push(Math.max(probabilities[i] as number, probabilities[i + 1] as number));
  }
  return { labels, topScores };
}

describe('prediction metrics: what the model predicts, counted per model run', function () {
  this.timeout(900_000);
  let dir: string;

  before(async () => {
    const python = await ensurePython();
    dir = await mkdtemp(join(tmpdir(), 'modelship-predictions-'));
    await runPython(python, ['test/runtime/build_prediction_models.py', dir, modelPath('fraud-fp32.onnx')]);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('counts classes named by the model metadata, equal to the labels returned, and the top score of each row', async () => {
    const runtime = await startTestRuntime({ modelUri: join(dir, 'fraud-named.onnx'), modelName: 'fraud', maxBatchSize: '64' });
    try {
      const { labels, topScores } = await predictFraud(runtime, 'fraud');
      expect(labels).to.have.length(1024);
      const frauds = labels.filter((label) => label === 1).length;
      expect(frauds, 'the validation rows hold some fraud').to.be.greaterThan(0);
      const text = await metricsOf(runtime);
      expect(sampleSum(text, 'prediction_class_total', { class: 'legit', model: 'fraud' })).to.equal(1024 - frauds);
      expect(sampleSum(text, 'prediction_class_total', { class: 'fraud' })).to.equal(frauds);
      expect(sampleSum(text, 'prediction_class_total', { class: '0' })).to.equal(0);
      expect(sampleSum(text, 'prediction_score_count')).to.equal(1024);
      expect(sampleSum(text, 'prediction_score_sum')).to.be.closeTo(topScores.reduce((a, b) => a + b, 0), 1e-3);
      expect(sampleSum(text, 'prediction_score_bucket', { le: '0.5' }), 'a top score of two classes is at least 0.5')
        .to.equal(topScores.filter((score) => score <= 0.5).length);
    } finally {
      await runtime.close();
    }
  });

  it('takes class names from MODELSHIP_CLASS_NAMES over the metadata, and numbers classes when none are named', async () => {
    const named = await startTestRuntime({ modelUri: join(dir, 'fraud-named.onnx'), modelName: 'fraud', classNames: '["ok", "suspect"]' });
    const plain = await startTestRuntime({ modelUri: modelPath('wide-mlp-fp32.onnx'), modelName: 'wide' });
    try {
      const { labels } = await predictFraud(named, 'fraud');
      const text = await metricsOf(named);
      expect(sampleSum(text, 'prediction_class_total', { class: 'suspect' })).to.equal(labels.filter((label) => label === 1).length);
      expect(sampleSum(text, 'prediction_class_total', { class: 'legit' })).to.equal(0);

      const samples = await readValidationSamples('wide-mlp');
      const body = await infer(plain, 'wide', { name: 'features', datatype: 'FP32', shape: [64, 64], data: Array.from(samples.subarray(0, 64 * 64)) });
      const wideLabels = body.outputs.find((output) => output.name === 'label')?.data as number[];
      const wideText = await metricsOf(plain);
      for (const label of new Set(wideLabels)) {
        expect(sampleSum(wideText, 'prediction_class_total', { class: String(label) }), `class ${label}`)
          .to.equal(wideLabels.filter((other) => other === label).length);
      }
      expect(sampleSum(wideText, 'prediction_class_total')).to.equal(64);
    } finally {
      await Promise.all([named.close(), plain.close()]);
    }
  });

  it(`folds labels outside 0..31 into class "other", and counts batches as the rows they hold`, async () => {
    const runtime = await startTestRuntime({ modelUri: join(dir, 'labels.onnx'), modelName: 'labels', maxBatchSize: '64' });
    try {
      const sent = [[0, 1, 1, 5], [31, 32, 40], [-3, 1]];
      await Promise.all(sent.map((data) => infer(runtime, 'labels', { name: 'x', datatype: 'INT64', shape: [data.length], data })));
      const text = await metricsOf(runtime);
      expect(sampleSum(text, 'prediction_class_total', { class: '1' })).to.equal(3);
      expect(sampleSum(text, 'prediction_class_total', { class: '31' })).to.equal(1);
      expect(sampleSum(text, 'prediction_class_total', { class: 'other' })).to.equal(3);
      expect(sampleSum(text, 'prediction_class_total')).to.equal(9);
      expect(text).not.to.contain('prediction_score');
    } finally {
      await runtime.close();
    }
  });

  it('a score-only model is a classifier by argmax once classes are named, and a regressor otherwise', async () => {
    const named = await startTestRuntime({ modelUri: join(dir, 'scores.onnx'), modelName: 'scores', classNames: 'cat, dog, bird' });
    const unnamed = await startTestRuntime({ modelUri: join(dir, 'scores.onnx'), modelName: 'scores' });
    try {
      const input = { name: 'x', datatype: 'FP32', shape: [3, 3], data: [0.7, 0.2, 0.1, 0.1, 0.3, 0.6, 0.2, 0.5, 0.3] };
      await infer(named, 'scores', input);
      await infer(unnamed, 'scores', input);
      const text = await metricsOf(named);
      expect(['cat', 'dog', 'bird'].map((name) => sampleSum(text, 'prediction_class_total', { class: name }))).to.deep.equal([1, 1, 1]);
      expect(sampleSum(text, 'prediction_score_sum')).to.be.closeTo(0.7 + 0.6 + 0.5, 1e-6);
      const unnamedText = await metricsOf(unnamed);
      expect(unnamedText).not.to.contain('prediction_class_total');
      expect(sampleSum(unnamedText, 'prediction_value_count')).to.equal(9);
    } finally {
      await Promise.all([named.close(), unnamed.close()]);
    }
  });

  it('observes every output value of a regressor in a histogram', async () => {
    const runtime = await startTestRuntime({ modelUri: join(dir, 'regressor.onnx'), modelName: 'price' });
    try {
      await infer(runtime, 'price', { name: 'x', datatype: 'FP32', shape: [4, 1], data: [-5, 0.5, 3, 250] });
      const text = await metricsOf(runtime);
      expect(sampleSum(text, 'prediction_value_count', { model: 'price' })).to.equal(4);
      expect(sampleSum(text, 'prediction_value_sum')).to.equal(248.5);
      expect(sampleSum(text, 'prediction_value_bucket', { le: '1' })).to.equal(2);
      expect(sampleSum(text, 'prediction_value_bucket', { le: '1000' })).to.equal(4);
      expect(text).not.to.contain('prediction_class_total');
    } finally {
      await runtime.close();
    }
  });
});
