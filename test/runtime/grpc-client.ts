import { credentials, loadPackageDefinition, Metadata, type ChannelCredentials, type Client, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { REPO_ROOT } from './helpers.ts';

const definition = loadSync(`${REPO_ROOT}runtime/protocol/grpc_predict_v2.proto`, {
  keepCase: true, longs: String, enums: String, defaults: true, arrays: true, oneofs: true,
});
/** protobufjs's (proto-loader's) codec of ModelInfer's messages, from the same .proto. */
export interface ModelInferCodec {
  requestSerialize(value: unknown): Buffer;
  requestDeserialize(bytes: Buffer): Record<string, unknown>;
  responseSerialize(value: unknown): Buffer;
  responseDeserialize(bytes: Buffer): Record<string, unknown>;
}
export const modelInferSerializers = (definition['inference.GRPCInferenceService'] as unknown as Record<string, ModelInferCodec>).ModelInfer as ModelInferCodec;
const Service = (loadPackageDefinition(definition).inference as Record<string, ServiceClientConstructor>).GRPCInferenceService as ServiceClientConstructor;

type Callback = (error: ServiceError | null, response: Record<string, unknown>) => void;
type UnaryMethod = (request: unknown, metadata: Metadata, callback: Callback) => void;

/** A @grpc/grpc-js client of inference.GRPCInferenceService built from the runtime's own .proto file. */
export class GrpcTestClient {
  private readonly client: Client;

  /** `options`: channel options, e.g. grpc.ssl_target_name_override to check a certificate against a DNS name. */
  constructor(address: string, channelCredentials: ChannelCredentials = credentials.createInsecure(), options: Record<string, string | number> = {}) {
    this.client = new Service(address, channelCredentials, options);
  }

  /** `headers`: more request metadata (a traceparent). */
  call(method: string, request: Record<string, unknown> = {}, token?: string, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
    const metadata = new Metadata();
    if (token) metadata.set('authorization', `Bearer ${token}`);
    for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
    const unary = (this.client as unknown as Record<string, UnaryMethod>)[method] as UnaryMethod;
    return new Promise((resolve, reject) => unary.call(this.client, request, metadata, (error, response) => (error ? reject(error) : resolve(response))));
  }

  /** The call's gRPC status code and details: 0 and '' when it succeeded. */
  async status(method: string, request: Record<string, unknown> = {}): Promise<{ code: number; details: string }> {
    return this.call(method, request).then(() => ({ code: 0, details: '' }), (error: ServiceError) => ({ code: error.code, details: error.details }));
  }

  /** Waits (bounded) until the server accepts calls: it binds while startRuntime is still loading the model. */
  async waitUntilServing(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const { code } = await this.status('ServerLive');
      if (code === 0 || attempt >= 100) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  close(): void {
    this.client.close();
  }
}

/** A ModelInfer request for the wide-mlp model in raw contents, `rows` rows of seeded features. */
export function wideInfer(rows: number, features: Float32Array, id: string): Record<string, unknown> {
  return {
    model_name: 'wide',
    id,
    inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, 64] }],
    outputs: [{ name: 'label' }],
    raw_input_contents: [Buffer.from(features.buffer, features.byteOffset, rows * 64 * 4)],
  };
}
