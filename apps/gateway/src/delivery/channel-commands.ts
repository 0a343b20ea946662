/**
 * The live subscriber's SSUBSCRIBE and SUNSUBSCRIBE commands, gathered per event-loop turn. A
 * connect subscribes its user's channel and the user's last close unsubscribes it; in a reconnect
 * storm hundreds come in one turn, and each was a command and a socket write of its own (6.5 % of
 * the gateway's CPU in a reconnect storm's profile: docs/BENCHMARKS.md, "Subscribes of a turn in
 * one command").
 *
 * On one redis-server the channels asked for in one turn go at the end of the turn
 * (`setImmediate`), one command per run of the same kind, in the order they were asked for: a
 * user's unsubscribe and subscribe in one turn keep their order. If the connection is not ready
 * then (it dropped meanwhile), they wait for `ready` (live-router.ts: ioredis must not be asked to
 * subscribe while it connects). On a Cluster each channel goes alone, at once: a sharded
 * subscribe may only name channels of one slot.
 */
import { Cluster } from 'ioredis';
import type { HeraldRedis } from '@herald/redis';

/** Channels one command names at most. */
const CHANNELS_PER_COMMAND = 1000;

interface Asked {
  subscribe: boolean;
  channel: string;
  resolve(): void;
  reject(err: unknown): void;
}

export class ChannelCommands {
  private asked: Asked[] = [];
  private readonly alone: boolean;

  constructor(
    private readonly sub: HeraldRedis,
    /** Resolves once the connection is ready (rejects if it does not come in time). */
    private readonly ready: () => Promise<void>,
  ) {
    this.alone = sub instanceof Cluster;
  }

  /** Resolves once Redis confirmed the subscription (notifications from then on reach us). */
  subscribe(channel: string): Promise<void> {
    return this.ask(true, channel);
  }

  unsubscribe(channel: string): Promise<void> {
    return this.ask(false, channel);
  }

  private ask(subscribe: boolean, channel: string): Promise<void> {
    if (this.alone) return send(this.sub, subscribe, [channel]);
    return new Promise<void>((resolve, reject) => {
      if (this.asked.push({ subscribe, channel, resolve, reject }) === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const asked = this.asked;
    this.asked = [];
    if (this.sub.status === 'ready') return this.sendRuns(asked);
    this.ready().then(
      () => this.sendRuns(asked),
      (err: unknown) => asked.forEach((a) => a.reject(err)),
    );
  }

  /** One command per run of the same kind, in the order asked. */
  private sendRuns(asked: Asked[]): void {
    for (let from = 0; from < asked.length; ) {
      const kind = asked[from].subscribe;
      let to = from + 1;
      while (to < asked.length && asked[to].subscribe === kind && to - from < CHANNELS_PER_COMMAND) to++;
      const run = asked.slice(from, to);
      send(
        this.sub,
        kind,
        run.map((a) => a.channel),
      ).then(
        () => run.forEach((a) => a.resolve()),
        (err: unknown) => run.forEach((a) => a.reject(err)),
      );
      from = to;
    }
  }
}

function send(sub: HeraldRedis, subscribe: boolean, channels: string[]): Promise<void> {
  return (subscribe ? sub.ssubscribe(...channels) : sub.sunsubscribe(...channels)).then(() => undefined);
}
