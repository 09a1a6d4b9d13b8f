/** One series of an instant-query answer. */
export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

interface QueryResponse {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] | [number, string] };
}

/** Instant query against Prometheus's HTTP API; rejects when it does not answer or answers an error. */
export async function instantQuery(baseUrl: string, query: string, time: Date, timeoutMs = 10_000): Promise<PromSample[]> {
  const url = new URL('api/v1/query', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ query, time: String(time.getTime() / 1000) }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = (await response.json().catch(() => ({ status: 'error', error: `HTTP ${response.status}` }))) as QueryResponse;
  if (body.status !== 'success' || !body.data) throw new Error(`Prometheus query failed: ${body.error ?? `HTTP ${response.status}`}`);
  const { resultType, result } = body.data;
  if (resultType === 'scalar') {
    const [, value] = result as [number, string];
    return [{ metric: {}, value: Number(value) }];
  }
  return (result as { metric: Record<string, string>; value: [number, string] }[]).map((series) => ({ metric: series.metric, value: Number(series.value[1]) }));
}
