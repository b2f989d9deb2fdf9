/**
 * One call to the inference service's API, its JSON answer returned. What goes wrong is said for a user: nothing
 * listening (and how to start the stack), a proxy's non-JSON page (HAProxy's 503 when no replica is ready), or the
 * service's own error code and message.
 */
export async function callService<T>(url: URL, init: RequestInit, what: string): Promise<T> {
  const res = await fetch(url, init).catch((e: Error & { cause?: Error }) => {
    throw new Error(`cannot reach the inference service at ${url.origin} (${e.cause?.message ?? e.message}); start the stack with: npm run ferops -- stack up`);
  });
  const text = await res.text();
  let body: T & { error?: { code: string; message: string } };
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${what} failed (${res.status}) at ${url.origin}: ${text.slice(0, 200).trim() || 'empty answer'}`);
  }
  if (!res.ok) throw new Error(`${what} failed (${res.status}): ${body.error?.code}: ${body.error?.message}`);
  return body;
}
