/** Sends messages through ingest's `POST /v1/messages`, as a producer would. */
export class IngestClient {
  constructor(
    private readonly baseUrl: string,
    private readonly producerToken: string,
  ) {}

  /** One message to `userIds`; throws unless ingest answers 202. */
  async send(userIds: readonly string[], payload: unknown): Promise<void> {
    const res = await fetch(`${this.baseUrl}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.producerToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ userIds, payload }),
    });
    if (res.status !== 202) throw new Error(`POST /v1/messages answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    await res.arrayBuffer();
  }
}
