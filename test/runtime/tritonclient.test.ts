import { expect } from 'chai';
import type { RunningRuntime } from '../../runtime/server.ts';
import { modelPath, startTestRuntime } from './helpers.ts';
import { ensurePython, runPython } from './python.ts';

describe('compatibility: the real Python client tritonclient[http] against the runtime', function () {
  this.timeout(900_000);
  let python: string;
  let fraud: RunningRuntime;
  let report: Record<string, unknown>;

  before(async () => {
    python = await ensurePython();
    // One process serves one model: the all-types identity model gets a runtime of its own (in the test).
    fraud = await startTestRuntime({ modelUri: modelPath('fraud-fp32.onnx'), modelName: 'fraud', maxBatchSize: '32' });
  });
  after(() => fraud.close());

  it('metadata, JSON and binary inference, async requests, every datatype, and error reporting', async () => {
    const identity = await startTestRuntime({ modelUri: modelPath('all-types-identity.onnx'), modelName: 'identity' });
    try {
      report = JSON.parse(await runPython(python, [
        'test/runtime/triton_client_check.py', fraud.url.replace('http://', ''), 'fraud', modelPath('fraud-fp32.onnx'),
        'identity', identity.url.replace('http://', ''),
      ])) as Record<string, unknown>;
    } finally {
      await identity.close();
    }
    expect(report).to.deep.include({
      server_live: true, server_ready: true, model_ready: true, model_version_ready: true,
      json_id: 'py-json', binary_id: 'py-binary', binary_outputs: ['label', 'probabilities'],
      all_types_binary_mismatched: [], all_types_json_mismatched: [],
    });
    expect(report.server_metadata).to.deep.include({ name: 'modelship-runtime', extensions: ['binary_tensor_data'] });
    expect(report.model_metadata).to.deep.include({ name: 'fraud', inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 30] }] });
    for (const key of ['json_max_abs_diff', 'binary_max_abs_diff', 'async_max_abs_diff']) expect(report[key], key).to.be.below(1e-5);
    expect(report.bad_shape_error).to.deep.include({ status: '400' });
    expect((report.bad_shape_error as { message: string }).message).to.match(/shape \[1,29\] does not match/);
    expect(report.unknown_model_error).to.deep.include({ status: '404' });
  });
});
