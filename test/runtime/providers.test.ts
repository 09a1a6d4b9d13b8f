import { expect } from 'chai';
import { getJson, modelPath, startTestRuntime } from './helpers.ts';

const WARN = 40;

describe('runtime: execution providers', () => {
  it('no GPU here: [cuda, cpu] falls back to CPU with one clear warning, reported in metadata and metrics', async () => {
    const runtime = await startTestRuntime({
      modelUri: modelPath('fraud-fp32.onnx'), modelName: 'fraud', executionProviders: 'cuda,cpu', deviceId: '0', intraOpThreads: '1', interOpThreads: '1',
    });
    try {
      const warnings = runtime.logs.at(WARN);
      expect(warnings, JSON.stringify(runtime.logs.lines)).to.have.length(1);
      expect(warnings[0]?.msg).to.match(/^execution provider cuda \(.+\) unavailable; falling back to cpu$/);
      const { body } = await getJson<{ parameters: { execution_provider: string } }>(`${runtime.url}/v2/models/fraud`);
      expect(body.parameters.execution_provider).to.equal('cpu');
      const metrics = await (await fetch(`${runtime.url}/metrics`)).text();
      expect(metrics).to.match(/^runtime_execution_provider_info\{[^}]*provider="cpu"[^}]*\} 1$/m);
    } finally {
      await runtime.close();
    }
  });

  it('no GPU here: [tensorrt, cuda] (cpu not listed) still ends on CPU with one warning naming both', async () => {
    const runtime = await startTestRuntime({ modelUri: modelPath('fraud-fp32.onnx'), executionProviders: 'tensorrt,cuda' });
    try {
      const warnings = runtime.logs.at(WARN);
      expect(warnings).to.have.length(1);
      expect(warnings[0]?.msg).to.match(/^execution provider tensorrt \(.+\), cuda \(.+\) unavailable; falling back to cpu$/);
    } finally {
      await runtime.close();
    }
  });

  it('cpu only: no warning', async () => {
    const runtime = await startTestRuntime({ modelUri: modelPath('fraud-fp32.onnx'), executionProviders: 'cpu' });
    try {
      expect(runtime.logs.at(WARN)).to.deep.equal([]);
    } finally {
      await runtime.close();
    }
  });
});

describe('runtime: metrics', () => {
  it('exposes the documented series in base units with model, version and revision labels', async () => {
    const runtime = await startTestRuntime({ modelUri: modelPath('fraud-fp32.onnx'), modelName: 'fraud', modelVersion: '2', revision: 'rev-7' });
    try {
      const infer = `${runtime.url}/v2/models/fraud/infer`;
      await fetch(infer, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: Array(30).fill(0) }] }) });
      await fetch(infer, { method: 'POST', body: '{' });
      const metrics = await (await fetch(`${runtime.url}/metrics`)).text();
      const labels = 'model="fraud",version="2",revision="rev-7"';
      for (const series of [
        `prediction_latency_seconds_count{${labels}} 1`,
        `prediction_requests_total{code="200",protocol="http",${labels}} 1`,
        `prediction_requests_total{code="400",protocol="http",${labels}} 1`,
        `inference_batch_size_count{${labels}} 1`,
        `inference_duration_seconds_count{${labels}} 1`,
        `inference_queue_depth{${labels}} 0`,
        `runtime_execution_provider_info{provider="cpu",${labels}} 1`,
      ]) expect(metrics).to.include(series);
      expect(metrics).to.match(/^model_load_duration_seconds\{[^}]*\} \d/m);
      expect(metrics).to.match(/^process_cpu_seconds_total\{/m);
      expect(metrics).to.match(/^process_resident_memory_bytes\{/m);
    } finally {
      await runtime.close();
    }
  });

  it('logs one line per request with id, model, latency and status, never tensor data', async () => {
    const runtime = await startTestRuntime({ modelUri: modelPath('fraud-fp32.onnx'), modelName: 'fraud' });
    try {
      await fetch(`${runtime.url}/v2/models/fraud/infer`, {
        method: 'POST', body: JSON.stringify({ id: 'log-me', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: Array(30).fill(0.123456) }] }),
      });
      const line = runtime.logs.lines.find((l) => l.reqId === 'log-me');
      expect(line).to.include({ msg: 'infer', status: 200, model: 'fraud', version: '1' });
      expect(line?.latencyMs).to.be.a('number');
      expect(JSON.stringify(runtime.logs.lines)).not.to.include('0.123456');
    } finally {
      await runtime.close();
    }
  });
});
