import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../../runtime/config.ts';
import { RUNTIME_DEFAULT_GRPC_PORT, RUNTIME_DEFAULT_PORT } from '../../../runtime/contract.ts';

describe('unit: runtime config from MODELSHIP_* env', () => {
  it('applies documented defaults', () => {
    const config = loadConfig({ MODELSHIP_MODEL_URI: 'https://models.example/fraud-fp32.onnx?sig=1' });
    expect(config.model).to.include({ name: 'fraud-fp32', version: '1', uri: 'https://models.example/fraud-fp32.onnx?sig=1' });
    expect(config.port).to.equal(RUNTIME_DEFAULT_PORT);
    expect(config.grpcPort).to.equal(RUNTIME_DEFAULT_GRPC_PORT);
    expect(config.session).to.deep.equal({ providers: ['cpu'], deviceId: 0, intraOpThreads: 0, interOpThreads: 0, inferenceThread: 'auto' });
    expect(config.batching).to.deep.equal({ maxBatchSize: 64, maxQueueDelayMs: 2, preferredBatchSizes: [], maxQueueSize: 1024, maxConcurrentRuns: 1 });
    expect(config).to.include({ revision: '', shutdownGraceMs: 20000, logLevel: 'info', maxBodyBytes: 64 * 1024 * 1024 });
    expect(config).to.include({ headersTimeoutMs: 10_000, requestTimeoutMs: 60_000 });
    expect(config.rateLimit, 'no rate limit unless asked').to.deep.equal({ requestsPerSecond: 0, burst: 0, totalRequestsPerSecond: 0 });
  });

  it('parses lists, digests and numbers', () => {
    const config = loadConfig({
      MODELSHIP_MODEL_URI: '/m/model.onnx',
      MODELSHIP_MODEL_SHA256: `sha256:${'AB'.repeat(32)}`,
      MODELSHIP_EXECUTION_PROVIDERS: ' CUDA, tensorrt ,cpu',
      MODELSHIP_PREFERRED_BATCH_SIZES: '32,8',
      MODELSHIP_MAX_BATCH_SIZE: '32',
    });
    expect(config.model.sha256).to.equal('ab'.repeat(32));
    expect(config.session.providers).to.deep.equal(['cuda', 'tensorrt', 'cpu']);
    expect(config.batching.preferredBatchSizes).to.deep.equal([8, 32]);
  });

  it('verifies a signature only when a method is set; the signature defaults to <model uri>.sig', () => {
    expect(loadConfig({ MODELSHIP_MODEL_URI: 'm.onnx' }).model.signature).to.equal(undefined);
    const signed = loadConfig({ MODELSHIP_MODEL_URI: 'https://h/m.onnx', MODELSHIP_MODEL_SIGNATURE_METHOD: 'certificate', MODELSHIP_MODEL_SIGNATURE_TRUST_FILE: '/etc/ca.pem' });
    expect(signed.model.signature).to.deep.equal({ method: 'certificate', uri: 'https://h/m.onnx.sig', trustFile: '/etc/ca.pem' });
  });

  it('reads class names as a comma-separated list or a JSON array (the operator sends JSON)', () => {
    expect(loadConfig({ MODELSHIP_MODEL_URI: 'm.onnx', MODELSHIP_CLASS_NAMES: ' cat, dog ' }).classNames).to.deep.equal(['cat', 'dog']);
    expect(loadConfig({ MODELSHIP_MODEL_URI: 'm.onnx', MODELSHIP_CLASS_NAMES: '["a, b", "c"]' }).classNames).to.deep.equal(['a, b', 'c']);
    expect(loadConfig({ MODELSHIP_MODEL_URI: 'm.onnx' })).not.to.have.property('classNames');
    expect(loadConfig({ MODELSHIP_MODEL_URI: 'm.onnx', MODELSHIP_GRPC_PORT: '0' }).grpcPort).to.equal(0);
  });

  const invalid: Array<[Record<string, string>, RegExp]> = [
    [{ MODELSHIP_MODEL_URI: 'm.onnx', MODELSHIP_CLASS_NAMES: '["a", 1]' }, /MODELSHIP_CLASS_NAMES is invalid: .*array of strings/],
    [{ MODELSHIP_MODEL_URI: 'm.onnx', MODELSHIP_CLASS_NAMES: '["a"' }, /MODELSHIP_CLASS_NAMES is invalid/],
    [{ MODELSHIP_MODEL_URI: 'm.onnx', MODELSHIP_GRPC_PORT: '70000' }, /MODELSHIP_GRPC_PORT=70000 is invalid/],
    [{}, /MODELSHIP_MODEL_URI is required/],
    [{ MODELSHIP_MODEL_URI: 'm.onnx', MODELSHIP_PORT: '80a' }, /MODELSHIP_PORT=80a is invalid/],
    [{ MODELSHIP_MODEL_URI: 'm.onnx', MODELSHIP_MAX_BATCH_SIZE: '0' }, /MODELSHIP_MAX_BATCH_SIZE=0 is invalid/],
    [{ MODELSHIP_MODEL_URI: 'm.onnx', MODELSHIP_EXECUTION_PROVIDERS: 'rocm' }, /unknown provider "rocm"/],
    [{ MODELSHIP_MODEL_URI: 'm.onnx', MODELSHIP_MODEL_SHA256: 'abc' }, /64 hex digits/],
    [{ MODELSHIP_MODEL_URI: 'm.onnx', MODELSHIP_PREFERRED_BATCH_SIZES: '128' }, /PREFERRED_BATCH_SIZES entry "128"/],
    [{ MODELSHIP_MODEL_URI: 'm.onnx', MODELSHIP_LOG_LEVEL: 'loud' }, /MODELSHIP_LOG_LEVEL=loud/],
    [{ MODELSHIP_MODEL_URI: 'm.onnx', MODELSHIP_RATE_LIMIT_RPS: '-1' }, /MODELSHIP_RATE_LIMIT_RPS=-1 is invalid/],
    [{ MODELSHIP_MODEL_URI: 'm.onnx', MODELSHIP_MODEL_SIGNATURE_METHOD: 'sigstore' }, /MODELSHIP_MODEL_SIGNATURE_METHOD=sigstore is invalid: expected one of none, key, certificate/],
    [{ MODELSHIP_MODEL_URI: 'm.onnx', MODELSHIP_MODEL_SIGNATURE_METHOD: 'key' }, /MODELSHIP_MODEL_SIGNATURE_TRUST_FILE is required with MODELSHIP_MODEL_SIGNATURE_METHOD=key/],
    [{ MODELSHIP_MODEL_URI: 'm.onnx', MODELSHIP_MODEL_SIGNATURE_URI: 'm.onnx.sig' }, /MODELSHIP_MODEL_SIGNATURE_URI is set but MODELSHIP_MODEL_SIGNATURE_METHOD is none/],
  ];
  for (const [env, message] of invalid) {
    it(`rejects ${JSON.stringify(env)}`, () => {
      expect(() => loadConfig(env)).to.throw(ConfigError, message);
    });
  }
});
