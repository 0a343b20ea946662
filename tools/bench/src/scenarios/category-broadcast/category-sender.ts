/** A category message through ingest's `POST /v1/messages`, as a producer sends one. */

/** Send `payload` to every member of `category`; resolves with the message id once ingest answers 202. */
export async function postCategoryMessage(ingestUrl: string, token: string, category: string, payload: unknown): Promise<string> {
  const res = await fetch(`${ingestUrl}/v1/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    // A short TTL: the bench's bodies and inbox entries need not outlive it for long.
    body: JSON.stringify({ category, payload, ttlSeconds: 600 }),
  });
  const text = await res.text();
  if (res.status !== 202) throw new Error(`POST /v1/messages answered ${res.status}: ${text.slice(0, 300)}`);
  return (JSON.parse(text) as { id: string }).id;
}
