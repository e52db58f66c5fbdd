/** Converting between Fetch API `Request`/`Response` and the handler's transport-free shapes. */
import type { ApiRequest, ApiResponse } from './types.ts';

export async function fromFetchRequest(request: Request): Promise<ApiRequest> {
  const url = new URL(request.url);
  const out: ApiRequest = {
    method: request.method,
    path: url.pathname,
    query: url.searchParams,
    headers: request.headers,
  };
  if (request.body !== null && request.method !== 'GET' && request.method !== 'HEAD') {
    const body = new Uint8Array(await request.arrayBuffer());
    if (body.byteLength > 0) out.body = body;
  }
  return out;
}

/** A Fetch `Response`; a watch becomes a pull-based stream, so a slow reader applies backpressure. */
export function toFetchResponse(r: ApiResponse): Response {
  const stream = r.stream;
  if (stream) {
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        // msw and the interceptors resolve the response only at its first chunk; a watch may have nothing to
        // say for a long time, and the client must have its response (status, headers) at once.
        controller.enqueue(new Uint8Array(0));
      },
      async pull(controller) {
        const chunk = await stream.next();
        if (chunk === undefined) controller.close();
        else controller.enqueue(encoder.encode(chunk));
      },
      cancel() {
        stream.cancel();
      },
    });
    return new Response(body, { status: r.status, headers: r.headers });
  }
  const noBody = r.status === 204 || r.status === 304;
  return new Response(noBody ? null : (r.body ?? ''), { status: r.status, headers: r.headers });
}
