import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { PubSub, type Message } from '@google-cloud/pubsub';
import { LOOPBACK, stablePort, tcpAccepts } from './ports';
import {
  ensureSubscription,
  ensureTopic,
  GOOGLE_EMULATOR_JVM_OPTS,
  GOOGLE_EMULATOR_OPTS_ENV,
  googlePubSubEmulatorInstalled,
  listensOn,
  pubsubClientOptions,
  selectPubSubKind,
  startPubSub,
  type PubSubKind,
} from './pubsub';
import { waitFor } from './wait';

process.env.METADATA_SERVER_DETECTION = 'none';

describe('selectPubSubKind', () => {
  test('HERALD_PUBSUB_EMULATOR forces a backend, rejects junk, and defaults by installation', () => {
    expect(selectPubSubKind({ HERALD_PUBSUB_EMULATOR: 'herald' })).toBe('herald');
    expect(selectPubSubKind({ HERALD_PUBSUB_EMULATOR: 'google' })).toBe('google');
    expect(() => selectPubSubKind({ HERALD_PUBSUB_EMULATOR: 'gcp' })).toThrow(/must be "google" or "herald"/);
    expect(selectPubSubKind({})).toBe(googlePubSubEmulatorInstalled() ? 'google' : 'herald');
  });

  test('pubsubClientOptions pins the endpoint explicitly, in emulator mode', () => {
    expect(pubsubClientOptions('127.0.0.1:1234', 'proj')).toEqual({
      projectId: 'proj',
      apiEndpoint: '127.0.0.1:1234',
      emulatorMode: true,
    });
  });
});

const kinds: PubSubKind[] = googlePubSubEmulatorInstalled() ? ['herald', 'google'] : ['herald'];

describe.each(kinds)('startPubSub({ kind: %s })', (kind) => {
  test('serves the real client, ensure* are idempotent, stop() frees the port', async () => {
    const pubsub = await startPubSub({ kind, projectId: 'helper-test' });
    const client = new PubSub(pubsubClientOptions(pubsub.emulatorHost, pubsub.projectId));
    try {
      expect(pubsub.kind).toBe(kind);
      const topic = await ensureTopic(client, 'helper-topic');
      await ensureTopic(client, 'helper-topic');
      await ensureSubscription(client, 'helper-topic', 'helper-sub', 10);
      const subscription = await ensureSubscription(client, 'helper-topic', 'helper-sub', 30);
      const [metadata] = await subscription.getMetadata();
      expect(metadata.ackDeadlineSeconds).toBe(10); // the existing subscription was kept

      const id = await topic.publishMessage({ data: Buffer.from('hello') });
      const received: Message[] = [];
      subscription.on('message', (m: Message) => {
        received.push(m);
        m.ack();
      });
      await waitFor(() => received.length > 0, { timeoutMs: 10_000, what: 'message' });
      expect(received[0].id).toBe(id);
      expect(received[0].data.toString()).toBe('hello');
      await subscription.close();
    } finally {
      await client.close();
      await pubsub.stop();
    }
    const [host, port] = pubsub.emulatorHost.split(':');
    expect(await tcpAccepts(host, Number(port))).toBe(false);
  }, 90_000);
});

if (googlePubSubEmulatorInstalled()) {
  describe("Google's emulator", () => {
    /**
     * Starts Google's emulator with `takenPort` as the first port picked (stablePort after it):
     * the ports picked, and where it came up (checked to accept connections), stopped after.
     */
    async function startAfterTaken(takenPort: number): Promise<{ picked: number[]; emulatorHost: string }> {
      const picked: number[] = [];
      const pickPort = async () => {
        const port = picked.length === 0 ? takenPort : await stablePort();
        picked.push(port);
        return port;
      };
      const pubsub = await startPubSub({ kind: 'google', projectId: 'port-test', pickPort });
      try {
        const [host, port] = pubsub.emulatorHost.split(':');
        expect(await tcpAccepts(host, Number(port))).toBe(true);
        return { picked, emulatorHost: pubsub.emulatorHost };
      } finally {
        await pubsub.stop();
      }
    }

    /** The command line of the JVM serving `emulatorHost` (the launcher execs it, so it holds the port). */
    function jvmCommandLine(emulatorHost: string): string[] {
      const port = `--port=${emulatorHost.split(':')[1]}`;
      for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
        let args: string[];
        try {
          args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        } catch {
          continue; // gone meanwhile
        }
        if (args.includes(port) && args.some((arg) => arg.endsWith('java'))) return args;
      }
      throw new Error(`no JVM with ${port}`);
    }

    test('runs its JVM with C1 only, unless CLOUD_PUBSUB_EMULATOR_OPTS says otherwise', async () => {
      const saved = process.env[GOOGLE_EMULATOR_OPTS_ENV];
      try {
        delete process.env[GOOGLE_EMULATOR_OPTS_ENV];
        const light = await startPubSub({ kind: 'google', projectId: 'jvm-test' });
        try {
          expect(jvmCommandLine(light.emulatorHost)).toContain(GOOGLE_EMULATOR_JVM_OPTS);
        } finally {
          await light.stop();
        }
        process.env[GOOGLE_EMULATOR_OPTS_ENV] = '-XX:+UseSerialGC';
        const chosen = await startPubSub({ kind: 'google', projectId: 'jvm-test' });
        try {
          const args = jvmCommandLine(chosen.emulatorHost);
          expect(args).toContain('-XX:+UseSerialGC');
          expect(args).not.toContain(GOOGLE_EMULATOR_JVM_OPTS);
        } finally {
          await chosen.stop();
        }
      } finally {
        if (saved === undefined) delete process.env[GOOGLE_EMULATOR_OPTS_ENV];
        else process.env[GOOGLE_EMULATOR_OPTS_ENV] = saved;
      }
    }, 90_000);

    test('starts on another port when the one picked is taken before it binds', async () => {
      // A port taken by someone else between the pick and the JVM's bind (seen in CI).
      // It drops whoever connects: the start's probes must not find an emulator there.
      const taken = createServer((socket) => socket.destroy());
      await new Promise<void>((resolve) => taken.listen(0, LOOPBACK, resolve));
      try {
        const { picked, emulatorHost } = await startAfterTaken((taken.address() as AddressInfo).port);
        expect(picked).toHaveLength(2);
        expect(emulatorHost).toBe(`${LOOPBACK}:${picked[1]}`);
      } finally {
        await new Promise((resolve) => taken.close(resolve));
      }
    }, 90_000);

    test("is not mistaken for another gRPC server that holds the port picked: it waits for the emulator's own line", async () => {
      // Herald's emulator answers the same probe RPC; the JVM then fails to bind that port.
      const other = await startPubSub({ kind: 'herald', projectId: 'port-test' });
      try {
        const { picked, emulatorHost } = await startAfterTaken(Number(other.emulatorHost.split(':')[1]));
        expect(picked).toHaveLength(2);
        expect(emulatorHost).toBe(`${LOOPBACK}:${picked[1]}`);
      } finally {
        await other.stop();
      }
    }, 90_000);
  });
}

test("listensOn: Google's emulator's started line, for that port only", () => {
  const output = '[pubsub] This is the Google Pub/Sub fake.\n[pubsub] INFO: Server started, listening on 27974\n';
  expect(listensOn(output, 27974)).toBe(true);
  expect(listensOn(output, 2797)).toBe(false);
  expect(listensOn('[pubsub] This is the Google Pub/Sub fake.\n', 27974)).toBe(false);
});
