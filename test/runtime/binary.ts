/** Client side of the binary tensor data extension, as tritonclient does it. */
export function binaryRequest(header: unknown, chunks: readonly Uint8Array[]): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  return { body: Buffer.concat([json, ...chunks]), headerLength: json.length };
}

export interface BinaryResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly header: { outputs: Array<{ name: string; datatype: string; shape: number[]; data?: unknown[]; parameters?: { binary_data_size?: number } }>; id?: string; error?: string };
  /** Binary payload per output name. */
  readonly binary: Map<string, Buffer>;
}

export async function postBinary(url: string, header: unknown, chunks: readonly Uint8Array[]): Promise<BinaryResponse> {
  const { body, headerLength } = binaryRequest(header, chunks);
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'inference-header-content-length': String(headerLength), 'content-type': 'application/octet-stream' },
    body,
  });
  return readBinaryResponse(response);
}

/** Splits a response into its JSON header and each output's binary payload. */
export async function readBinaryResponse(response: Response): Promise<BinaryResponse> {
  const raw = Buffer.from(await response.arrayBuffer());
  const length = Number(response.headers.get('inference-header-content-length') ?? raw.length);
  const parsed = JSON.parse(raw.subarray(0, length).toString('utf8')) as BinaryResponse['header'];
  const binary = new Map<string, Buffer>();
  let offset = length;
  for (const output of parsed.outputs ?? []) {
    const size = output.parameters?.binary_data_size;
    if (size === undefined) continue;
    binary.set(output.name, raw.subarray(offset, offset + size));
    offset += size;
  }
  return { status: response.status, headers: response.headers, header: parsed, binary };
}

export function bytesElements(values: readonly string[]): Buffer {
  return Buffer.concat(values.flatMap((value) => {
    const bytes = Buffer.from(value, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32LE(bytes.length);
    return [length, bytes];
  }));
}
