import { readFileSync } from 'node:fs';
import { createServer, constants } from 'node:http2';
import { Server, ServerCredentials, type ServiceDefinition } from '@grpc/grpc-js';

/**
 * The gRPC floor: a ModelInfer that reads the request and answers a fixed, already encoded response
 * (no decoding, no model). GRPC_FLOOR_MODE=http2 serves it on plain node:http2 (gRPC framing and
 * trailers written here); grpc-js serves it with @grpc/grpc-js and pass-through (de)serializers.
 *   GRPC_FLOOR_MODE=http2|grpc-js GRPC_FLOOR_RESPONSE_FILE=path GRPC_FLOOR_PORT=port node --import tsx bench/runtime/grpc-floor-server.ts
 */
const message = readFileSync(process.env.GRPC_FLOOR_RESPONSE_FILE ?? '');
const port = Number(process.env.GRPC_FLOOR_PORT ?? 0);
const mode = process.env.GRPC_FLOOR_MODE ?? 'http2';
const METHOD = '/inference.GRPCInferenceService/ModelInfer';
const LIVE = '/inference.GRPCInferenceService/ServerLive';

if (mode === 'http2') {
  const framed = Buffer.alloc(5 + message.length);
  framed.writeUInt32BE(message.length, 1);
  message.copy(framed, 5);
  const empty = Buffer.alloc(5);
  const server = createServer();
  server.on('stream', (stream, headers) => {
    const path = headers[constants.HTTP2_HEADER_PATH];
    stream.on('data', () => {});
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(path === METHOD ? framed : empty);
    });
  });
  server.listen(port, '127.0.0.1', () => console.log('ready'));
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
} else {
  const passThrough = (value: Buffer) => value;
  const method = (path: string) => ({
    path, requestStream: false, responseStream: false,
    requestSerialize: passThrough, requestDeserialize: passThrough, responseSerialize: passThrough, responseDeserialize: passThrough,
  });
  const service = { ModelInfer: method(METHOD), ServerLive: method(LIVE) } as unknown as ServiceDefinition;
  const server = new Server();
  server.addService(service, {
    ModelInfer: (_call: unknown, callback: (error: null, value: Buffer) => void) => callback(null, message),
    ServerLive: (_call: unknown, callback: (error: null, value: Buffer) => void) => callback(null, Buffer.alloc(0)),
  });
  server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), () => console.log('ready'));
  process.once('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
}
