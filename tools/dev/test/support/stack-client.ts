/**
 * Driving a running stack from a test, the way producers and clients do: HTTP to ingest, real
 * WebSocket clients to any gateway, and counters read from each process's /metrics.
 */
import { fetchMetric, signToken, TestClient, type AppProcess, type Stack } from '@herald/testing';

export interface SendOptions {
  ttlSeconds?: number;
  idempotencyKey?: string;
}

export class StackClient {
  private constructor(
    readonly stack: Stack,
    /** The producer's token (scope messages:write). */
    readonly producer: string,
    private readonly admin: string,
  ) {}

  static async create(stack: Stack): Promise<StackClient> {
    return new StackClient(
      stack,
      await signToken('producer', { scope: 'messages:write' }),
      await signToken('admin', { scope: 'categories:write' }),
    );
  }

  wsUrl(gateway = 0): string {
    return `${this.stack.gateways[gateway].url.replace(/^http/, 'ws')}/ws`;
  }

  async connect(userId: string, gateway = 0): Promise<TestClient> {
    const client = await TestClient.connect(this.wsUrl(gateway), await signToken(userId));
    await client.waitForFrame('welcome');
    return client;
  }

  /** POST /v1/messages; resolves with the response status and body. */
  async post(body: object, opts: SendOptions = {}): Promise<{ status: number; body: { id?: string } }> {
    const res = await fetch(`${this.stack.apps.ingest.url}/v1/messages`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${this.producer}`,
        'content-type': 'application/json',
        ...(opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : {}),
      },
      body: JSON.stringify(opts.ttlSeconds ? { ...body, ttlSeconds: opts.ttlSeconds } : body),
    });
    return { status: res.status, body: (await res.json()) as { id?: string } };
  }

  async send(userIds: string[], payload: unknown, opts: SendOptions = {}): Promise<string> {
    const res = await this.post({ userIds, payload }, opts);
    if (res.status !== 202 || !res.body.id) throw new Error(`send answered ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.id;
  }

  async sendToCategory(category: string, payload: unknown): Promise<string> {
    const res = await this.post({ category, payload });
    if (res.status !== 202 || !res.body.id) throw new Error(`send answered ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.id;
  }

  async setCategories(userId: string, categories: string[]): Promise<void> {
    const res = await fetch(`${this.stack.apps.ingest.url}/v1/users/${userId}/categories`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${this.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ categories }),
    });
    if (res.status !== 204) throw new Error(`PUT categories answered ${res.status}`);
  }

  /** A counter from a process's /metrics (`name` or `name{labels}`), summed over its series; 0 when absent. */
  counter(app: AppProcess, series: string): Promise<number> {
    const [name, labels = ''] = series.replace(/}$/, '').split('{');
    return fetchMetric(app.adminUrl, name, labels);
  }

  /** Acks applied by every gateway together. */
  async acksApplied(): Promise<number> {
    const counts = await Promise.all(this.stack.gateways.map((g) => this.counter(g, 'herald_gateway_acks_total')));
    return counts.reduce((a, b) => a + b, 0);
  }
}
