import { numericInfo, elementCount } from './datatypes.ts';
import { ModelLoadError } from './errors.ts';
import { resolveModelFile } from './fetch.ts';
import { readOnnxMetadata } from './onnx-metadata.ts';
import { verifyModelSignature, type SignatureSettings } from './signing/verify-model.ts';
import { openInProcessSession, openWorkerSession, type ModelRunner } from './runner.ts';
import type { ExecutionProvider, SessionSettings } from './session.ts';
import { sampleShape, type ModelSignature, type TensorSpec } from './signature.ts';
import type { HostTensor, NamedTensors } from './tensor.ts';

export interface ModelSource {
  readonly name: string;
  readonly version: string;
  readonly uri: string;
  readonly sha256?: string;
  readonly cacheDir: string;
  /** When set, the model is served only if its model-signing signature verifies. */
  readonly signature?: SignatureSettings;
  /** Bearer token for an http(s) download. */
  readonly downloadToken?: string;
}

/** A loaded, warmed-up model: the one thing the protocol layer and the batcher talk to. */
export class ServedModel {
  readonly signature: ModelSignature;
  readonly provider: ExecutionProvider;

  constructor(
    readonly name: string,
    readonly version: string,
    private readonly runner: ModelRunner,
  ) {
    this.signature = runner.signature;
    this.provider = runner.provider;
  }

  run(feeds: NamedTensors): Promise<NamedTensors> {
    return this.runner.run(feeds);
  }

  async dispose(): Promise<void> {
    await this.runner.release();
  }
}

export interface LoadedModel {
  readonly model: ServedModel;
  readonly loadSeconds: number;
  /** The ONNX file's metadata_props. */
  readonly metadata: Readonly<Record<string, string>>;
  readonly fallbackWarning?: string;
}

/** A zero-filled input with every dynamic dim set to 1: enough to make onnxruntime allocate and JIT. */
function warmUpTensor(spec: TensorSpec, signature: ModelSignature): HostTensor {
  const shape = sampleShape(spec, signature);
  const count = elementCount(shape);
  const data = spec.datatype === 'BYTES' ? new Array<string>(count).fill('') : numericInfo(spec.datatype).create(count);
  return { datatype: spec.datatype, shape, data };
}

export async function loadModel(source: ModelSource, settings: SessionSettings): Promise<LoadedModel> {
  const started = process.hrtime.bigint();
  const path = await resolveModelFile(source.uri, source.cacheDir, source.sha256, source.downloadToken);
  if (source.signature) await verifyModelSignature(path, source.uri, source.signature);
  const runner = await (settings.inferenceThread === 'worker' ? openWorkerSession : openInProcessSession)(path, settings);
  const { fallbackWarning } = runner;
  const model = new ServedModel(source.name, source.version, runner);
  try {
    await model.run(Object.fromEntries(model.signature.inputs.map((spec) => [spec.name, warmUpTensor(spec, model.signature)])));
  } catch (error) {
    await model.dispose();
    throw new ModelLoadError(`warm-up run of ${path} failed: ${(error as Error).message.split('\n')[0]}`);
  }
  // onnxruntime has parsed the file already; metadata the reader cannot follow is treated as absent.
  const metadata = await readOnnxMetadata(path).catch(() => ({}));
  const loadSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { model, loadSeconds, metadata, ...(fallbackWarning ? { fallbackWarning } : {}) };
}
