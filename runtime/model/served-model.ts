import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { numericInfo, elementCount } from './datatypes.ts';
import { resolveModelFile } from './fetch.ts';
import { readOnnxMetadata } from './onnx-metadata.ts';
import { openSession, ModelLoadError, type ExecutionProvider, type SessionSettings } from './session.ts';
import { signatureOf, type ModelSignature, type TensorSpec } from './signature.ts';
import { fromOrtTensor, toOrtTensor, type HostTensor, type NamedTensors } from './tensor.ts';

export interface ModelSource {
  readonly name: string;
  readonly version: string;
  readonly uri: string;
  readonly sha256?: string;
  readonly cacheDir: string;
}

/** A loaded, warmed-up model: the one thing the protocol layer and the batcher talk to. */
export class ServedModel {
  constructor(
    readonly name: string,
    readonly version: string,
    readonly signature: ModelSignature,
    readonly provider: ExecutionProvider,
    private readonly session: InferenceSession,
  ) {}

  async run(feeds: NamedTensors): Promise<NamedTensors> {
    const ortFeeds: Record<string, Tensor> = {};
    for (const [name, tensor] of Object.entries(feeds)) ortFeeds[name] = toOrtTensor(tensor);
    const results = await this.session.run(ortFeeds);
    const outputs: NamedTensors = {};
    for (const [name, tensor] of Object.entries(results)) outputs[name] = fromOrtTensor(name, tensor);
    return outputs;
  }

  async dispose(): Promise<void> {
    await this.session.release();
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
function warmUpTensor(spec: TensorSpec): HostTensor {
  const shape = spec.shape.map((dim) => (dim < 0 ? 1 : dim));
  const count = elementCount(shape);
  const data = spec.datatype === 'BYTES' ? new Array<string>(count).fill('') : numericInfo(spec.datatype).create(count);
  return { datatype: spec.datatype, shape, data };
}

export async function loadModel(source: ModelSource, settings: SessionSettings): Promise<LoadedModel> {
  const started = process.hrtime.bigint();
  const path = await resolveModelFile(source.uri, source.cacheDir, source.sha256);
  const { session, provider, fallbackWarning } = await openSession(path, settings);
  let model: ServedModel;
  try {
    model = new ServedModel(source.name, source.version, signatureOf(session), provider, session);
  } catch (error) {
    await session.release();
    throw new ModelLoadError(`invalid model ${path}: ${(error as Error).message}`);
  }
  try {
    await model.run(Object.fromEntries(model.signature.inputs.map((spec) => [spec.name, warmUpTensor(spec)])));
  } catch (error) {
    await model.dispose();
    throw new ModelLoadError(`warm-up run of ${path} failed: ${(error as Error).message.split('\n')[0]}`);
  }
  // onnxruntime has parsed the file already; metadata the reader cannot follow is treated as absent.
  const metadata = await readOnnxMetadata(path).catch(() => ({}));
  const loadSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { model, loadSeconds, metadata, ...(fallbackWarning ? { fallbackWarning } : {}) };
}
