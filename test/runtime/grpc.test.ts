import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sampleSum } from '../support/prometheus-text.ts';
import { modelPath, startTestRuntime } from './helpers.ts';
import { ensurePython, runPython } from './python.ts';

type Runtime = Awaited<ReturnType<typeof startTestRuntime>>;
type Report = Record<string, unknown>;

describe('compatibility: the real Python client tritonclient[grpc] against the gRPC service', function () {
  this.timeout(900_000);
  const token = 'grpc-secret';
  let dir: string;
  let report: Report;
  let fraud: Runtime;

  before(async () => {
    const python = await ensurePython();
    dir = await mkdtemp(join(tmpdir(), 'modelship-grpc-'));
    const trimmed = join(dir, 'identity-no-fp16.onnx');
    await runPython(python, ['test/runtime/triton_grpc_check.py', 'trim', modelPath('all-types-identity.onnx'), trimmed]);
    // One process serves one model, so each model (and the token-guarded one) gets a runtime.
    fraud = await startTestRuntime({ modelUri: modelPath('fraud-fp32.onnx'), modelName: 'fraud', maxBatchSize: '32' });
    const others = await Promise.all([
      startTestRuntime({ modelUri: modelPath('all-types-identity.onnx'), modelName: 'identity' }),
      startTestRuntime({ modelUri: trimmed, modelName: 'identity' }),
      startTestRuntime({ modelUri: modelPath('fraud-fp32.onnx'), modelName: 'fraud', authToken: token }),
    ]);
    const [identity, typed, guarded] = others as [Runtime, Runtime, Runtime];
    try {
      report = JSON.parse(await runPython(python, [
        'test/runtime/triton_grpc_check.py', fraud.grpcAddress, fraud.url.replace('http://', ''), modelPath('fraud-fp32.onnx'),
        identity.grpcAddress, typed.grpcAddress, guarded.grpcAddress, token,
      ])) as Report;
    } finally {
      await Promise.all(others.map((runtime) => runtime.close()));
    }
  });
  after(async () => {
    await fraud?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers health and metadata like the REST API', () => {
    expect(report).to.deep.include({ server_live: true, server_ready: true, model_ready: true, model_version_ready: true });
    expect(report.server_metadata).to.deep.include({ name: 'modelship-runtime' });
    expect(report.model_metadata).to.deep.include({
      name: 'fraud', versions: ['1'], platform: 'onnxruntime_onnx',
      inputs: [{ name: 'features', datatype: 'FP32', shape: ['-1', '30'] }],
    });
  });

  it('infers with raw contents, equal to onnxruntime and to the REST API of the same runtime, alone and batched', () => {
    expect(report).to.deep.include({
      raw_id: 'py-grpc', raw_outputs: ['label', 'probabilities'], raw_labels_match: true,
      rest_grpc_probabilities_equal: true, rest_grpc_labels_equal: true,
    });
    expect(report.raw_max_abs_diff).to.be.below(1e-5);
    expect(report.async_max_abs_diff).to.be.below(1e-5);
  });

  it('round-trips every datatype, as raw contents and (all but FP16) as typed contents answered in kind', () => {
    expect(report.all_types_raw_mismatched).to.deep.equal([]);
    expect(report.all_types_typed_mismatched).to.deep.equal([]);
    expect(report).to.deep.include({ typed_id: 'typed', typed_raw_output_count: 0 });
    expect(report.typed_outputs).to.have.length(12);
    expect(report.typed_fp16_error).to.deep.equal({
      status: 'INVALID_ARGUMENT', message: 'input "in_FP16": FP16 has no typed contents; send it in raw_input_contents',
    });
  });

  it('reports bad requests with the gRPC status and the REST message', () => {
    expect(report.bad_shape_error).to.deep.include({ status: 'StatusCode.INVALID_ARGUMENT' });
    expect((report.bad_shape_error as { message: string }).message).to.match(/shape \[1,29\] does not match the model's \[-1,30\]/);
    expect(report.wrong_datatype_error).to.deep.include({ status: 'StatusCode.INVALID_ARGUMENT' });
    expect((report.wrong_datatype_error as { message: string }).message).to.match(/datatype FP64 does not match the model's FP32/);
    expect(report.unknown_model_error).to.deep.include({ status: 'StatusCode.NOT_FOUND' });
    expect((report.unknown_model_error as { message: string }).message).to.match(/unknown model "no-such-model": this runtime serves model "fraud" version "1"/);
    expect(report.unknown_model_infer_error).to.deep.include({ status: 'StatusCode.NOT_FOUND' });
    expect(report.unknown_version_error).to.deep.include({ status: 'StatusCode.NOT_FOUND' });
  });

  it('requires the bearer token in the authorization metadata, except for health', () => {
    expect(report.auth_live_without_token).to.equal(true);
    expect(report.auth_missing_error).to.deep.include({ status: 'StatusCode.UNAUTHENTICATED' });
    expect((report.auth_missing_error as { message: string }).message).to.match(/missing bearer token/);
    expect(report.auth_wrong_error).to.deep.include({ status: 'StatusCode.UNAUTHENTICATED', message: 'invalid bearer token' });
    expect(report.auth_with_token_max_abs_diff).to.be.below(1e-5);
  });

  it('counts gRPC requests in the same metrics, labelled protocol="grpc"', async () => {
    const text = await (await fetch(`${fraud.url}/metrics`)).text();
    // 1 raw + 16 async requests succeeded; bad shape, wrong datatype and unknown model failed.
    expect(sampleSum(text, 'prediction_requests_total', { protocol: 'grpc', code: '200' })).to.equal(17);
    expect(sampleSum(text, 'prediction_requests_total', { protocol: 'grpc', code: '400' })).to.equal(2);
    expect(sampleSum(text, 'prediction_requests_total', { protocol: 'grpc', code: '404' })).to.equal(1);
    expect(sampleSum(text, 'prediction_requests_total', { protocol: 'http', code: '200' })).to.equal(1);
    expect(sampleSum(text, 'prediction_class_total')).to.be.at.least(6 + 16 + 6);
  });
});
