/**
 * The runner without processes: a scenario of our own through `runCli` (rounds, medians, the
 * table, the result file, flags), and the pure helpers the scenarios share.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { runCli } from '../src/cli';
import { clientsFor, loopbackAddress, MAX_SOCKETS_PER_CLIENT, planConnections } from '../src/fleet';
import { Flags } from '../src/flags';
import { cpuFields, othersSeconds } from '../src/procs';
import { addRatios, PRODUCER_BEHIND_MS, withProducerLag } from '../src/push';
import { medianRows, type BenchResult } from '../src/report';
import { appOutputTo, parseOverrides } from '../src/rig';
import type { Row, Scenario } from '../src/scenario';
import { socketioAck, socketioUrl, unwrapSocketio } from '../src/workers/socketio-frames';
import { nextStep, RETRY } from '../src/workers/connect-retry';

/** Round r returns rate 10·r and `ok` false in round 2 only. */
const fake: Scenario = {
  name: 'fake',
  description: 'a scenario of the test',
  flags: { size: { kind: 'int', default: '3', min: 1, description: 'a number' } },
  columns: [{ key: 'case' }, { key: 'rate', label: 'msg/s', digits: 1 }, { key: 'ok' }, { key: 'skip' }],
  async run(ctx) {
    ctx.progress(`round ${ctx.round} of ${ctx.rounds}`);
    ctx.parameter('seen', ctx.flags.int('size'));
    return [
      { case: 'a', rate: 10 * ctx.round, ok: ctx.round !== 2, skip: null },
      { case: 'b', rate: 1234.5, ok: true, skip: null },
    ];
  },
};

describe('the runner', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'herald-bench-runner-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function run(argv: string[]) {
    let [stdout, stderr] = ['', ''];
    const outcome = await runCli(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), resultsDir: dir, scenarios: [fake] });
    return { ...outcome, stdout, stderr };
  }

  it('runs every round, prints the medians as a table and writes every round to the result file', async () => {
    const { exitCode, stdout, stderr, file } = await run(['fake', '--rounds', '3', '--size=7']);
    expect(exitCode).toBe(0);
    expect(stderr).toContain('[fake 3/3]');
    expect(stderr).toContain('medians of 3 rounds');
    expect(stdout).toBe(
      ['case    msg/s  ok   skip', '----  -------  ---  ----', 'a        20.0  NO   -', 'b     1,234.5  yes  -', ''].join('\n'),
    );
    expect(file).toMatch(/fake-\d{8}T\d{6}Z\.json$/);
    const written = JSON.parse(readFileSync(file!, 'utf8')) as BenchResult;
    expect(written.parameters).toEqual({ size: 7, rounds: 3, seen: 7 });
    expect(written.rounds.map((round) => round[0].rate)).toEqual([10, 20, 30]);
    expect(written.rows[0]).toEqual({ case: 'a', rate: 20, ok: false, skip: null });
  });

  it('lists the scenarios without one, and refuses an unknown scenario or a bad flag with the flag named', async () => {
    expect((await run([])).stdout).toContain('--size (default 3): a number');
    expect((await run(['nope'])).exitCode).toBe(2);
    const bad = await run(['fake', '--size', '0']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('--size takes whole numbers from 1');
  });

  it('takes per case the median of numbers, joins differing text, and holds a boolean only if every round did', () => {
    const rounds = [[{ v: 1, t: 'x', b: true }], [{ v: 4, t: 'y', b: true }], [{ v: 2, t: 'x', b: false }], [{ v: 3, t: 'x', b: true }]];
    expect(medianRows(rounds)).toEqual([{ v: 2.5, t: 'x/y', b: false }]);
    expect(() => medianRows([[{ v: 1 }], []])).toThrow('round 2 returned 0 rows');
  });

  it('parses flags as --name value and --name=value, with defaults, lists and choices', () => {
    const specs = {
      n: { kind: 'int', default: '1', description: '' },
      l: { kind: 'ints', default: '1,2', description: '' },
      w: { kind: 'words', default: 'a', choices: ['a', 'b'], description: '' },
    } as const;
    const flags = Flags.parse(specs, ['--n=50_000', '--w', 'b,a']);
    expect([flags.int('n'), flags.ints('l'), flags.words('w')]).toEqual([50_000, [1, 2], ['b', 'a']]);
    expect(() => Flags.parse({}, ['--nope', '1'])).toThrow('unknown flag --nope');
    expect(() => Flags.parse(specs, ['--w', 'c'])).toThrow('--w takes a, b');
  });
});

describe('what the scenarios share', () => {
  it('spreads connections evenly over servers, and over addresses within the per-address bound', () => {
    const plan = planConnections(2001, 2, 500);
    expect(plan.perServer).toEqual([1001, 1000]);
    expect(plan.addresses).toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    const perPair = new Map<string, number>();
    for (const [server, address] of plan.connections) perPair.set(`${server}/${address}`, (perPair.get(`${server}/${address}`) ?? 0) + 1);
    expect(Math.max(...perPair.values())).toBeLessThanOrEqual(500);
  });

  it('numbers loopback addresses from 127.0.0.2, never ending in .0 or .255, and gives no client process too many sockets', () => {
    expect([loopbackAddress(0), loopbackAddress(252), loopbackAddress(253)]).toEqual(['127.0.0.2', '127.0.0.254', '127.0.1.1']);
    for (let k = 0; k < 2000; k++) expect(loopbackAddress(k)).not.toMatch(/\.(0|255)$/);
    expect([clientsFor(200), clientsFor(100_000), clientsFor(100_000, 1)]).toEqual([2, 10, Math.ceil(100_000 / MAX_SOCKETS_PER_CLIENT)]);
  });

  it("splits CPU time by role, the rest being others'", () => {
    const spent = { wallSeconds: 2, groups: { gateways: 1.234, clients: undefined, ours: 1.5 }, machine: 3 };
    expect(othersSeconds(spent, ['ours'])).toBe(1.5);
    expect(othersSeconds({ ...spent, groups: { gateways: 1, clients: undefined } })).toBe(2);
    expect(cpuFields('cpu', { ...spent, groups: { gateways: 1.234 } })).toEqual({ cpuGatewaysSeconds: 1.23, cpuOtherSeconds: 1.77 });
  });

  it("gives Herald's rows their multiple of the baseline's figure for the same case", () => {
    const rows: Row[] = [
      { target: 'herald', n: 1, ms: 30 },
      { target: 'baseline', n: 1, ms: 10 },
      { target: 'herald', n: 2, ms: 5 },
    ];
    addRatios(rows, { msX: 'ms' }, (herald, baseline) => herald.n === baseline.n);
    expect(rows.map((r) => r.msX)).toEqual([3, null, null]);
    rows.push({ target: 'socketio', n: 2, ms: 2 });
    addRatios(rows, { msX: 'ms' }, (herald, peer) => herald.n === peer.n);
    expect(rows.map((r) => [r.msX, r.msXSio])).toEqual([[3, null], [null, null], [null, 2.5], [null, null]]);
  });

  it('says on the row when the producer could not offer the rate', () => {
    expect(withProducerLag('2 cores shared', PRODUCER_BEHIND_MS)).toBe('2 cores shared');
    expect(withProducerLag('2 cores shared', 4876.4)).toBe('PRODUCER BEHIND by 4.9 s: the rate was not offered; 2 cores shared');
  });

  it('speaks the few Engine.IO v4 / Socket.IO v5 packets the clients need, handing Herald frames to the parser', () => {
    const replies: string[] = [];
    const unwrap = (text: string) => unwrapSocketio(Buffer.from(text), (packet) => replies.push(packet))?.toString() ?? null;
    expect(unwrap('0{"sid":"a","pingInterval":25000}')).toBeNull();
    expect(unwrap('40{"sid":"b"}')).toBeNull();
    expect(unwrap('2')).toBeNull();
    expect(replies).toEqual(['40', '3']);
    expect(unwrap('42["welcome"]')).toBe('{"type":"welcome"}');
    expect(unwrap('42["message",{"type":"message","id":"m1","payload":{"t":1,"s":0}}]')).toBe('{"type":"message","id":"m1","payload":{"t":1,"s":0}}]');
    expect(unwrap('42["other"]')).toBe('42["other"]');
    expect(socketioAck(['m1', 'm2'])).toBe('42["ack",["m1","m2"]]');
    expect(socketioUrl('ws://127.0.0.1:1', 'u 1')).toBe('ws://127.0.0.1:1/socket.io/?EIO=4&transport=websocket&u=u%201');
  });

  it("retries a client's failed connect as the SDK would: 503s waited out, 401/403/404 final, a 408 or a 5xx retried a few times", () => {
    const now = 1_000_000;
    const later = now + 60_000;
    expect(nextStep(503, 1, now, later)).toBe('refused');
    expect(nextStep(503, 1, later, later)).toBe('retry');
    for (const status of [401, 403, 404]) expect(nextStep(status, 1, now, later)).toBe('give-up');
    for (const status of [undefined, 408, 500, 502]) expect(nextStep(status, 1, now, later)).toBe('retry');
    expect(nextStep(408, RETRY.attempts - 1, now, later)).toBe('retry');
    expect(nextStep(408, RETRY.attempts, now, later)).toBe('give-up');
  });

  it('reads HERALD_BENCH_APP_ENV as NAME=value words', () => {
    expect(parseOverrides(' A=1  B=x=y ')).toEqual({ A: '1', B: 'x=y' });
    expect(() => parseOverrides('oops')).toThrow('"oops" is not NAME=value');
  });

  it("writes each app's output lines to a file of its own under HERALD_BENCH_APP_OUTPUT, none when unset", () => {
    expect(appOutputTo(undefined)).toBeUndefined();
    const dir = join(mkdtempSync(join(tmpdir(), 'bench-out-')), 'apps');
    try {
      const first = appOutputTo(dir)!;
      const second = appOutputTo(dir)!;
      first('gateway', 'one');
      second('gateway', 'other');
      first('gateway', 'two');
      const files = readdirSync(dir).sort();
      expect(files).toHaveLength(2);
      expect(files.map((f) => readFileSync(join(dir, f), 'utf8'))).toEqual(['one\ntwo\n', 'other\n']);
      expect(files.every((f) => /^gateway-\d+\.log$/.test(f))).toBe(true);
    } finally {
      rmSync(dirname(dir), { recursive: true, force: true });
    }
  });

  it('imports no scenario from another: what they share lives outside scenarios/', () => {
    const dir = join(__dirname, '..', 'src', 'scenarios');
    const files = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && f !== 'index.ts');
    const scenarioOf = (path: string) => path.split(/[/\\]/)[0].replace(/\.ts$/, '');
    const crossings = files.flatMap((file) =>
      [...readFileSync(join(dir, file), 'utf8').matchAll(/from '(\.[^']*)'/g)]
        .map((m) => relative(dir, resolve(dirname(join(dir, file)), m[1])))
        .filter((target) => !target.startsWith('..') && target !== '' && scenarioOf(target) !== scenarioOf(file))
        .map((target) => `${file} -> ${target}`),
    );
    expect(crossings).toEqual([]);
  });
});
