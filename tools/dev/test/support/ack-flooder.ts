/**
 * An ack flooder, run as its own process so that its sending does not share the test's event
 * loop (which measures latency): `node --import tsx ack-flooder.ts <ws url> <token> <sockets>
 * <frames per second> <ms> <reconnect pause ms>`. Each socket sends ack frames of 400 made-up ids (200, each twice) at
 * the given rate and reconnects whenever the gateway closes it or refuses it. Prints `flooding` once the first
 * socket is open, and one JSON line at the end:
 * `{"frames","connections","closes":{code:count},"refused":{status:count}}`.
 */
import WebSocket from 'ws';

const [url, token, sockets, framesPerSecond, durationMs, reconnectMs] = process.argv.slice(2);
const IDS_PER_FRAME = 400;
/** Frames sent per tick of a socket's timer. */
const FRAMES_PER_TICK = 4;

const until = Date.now() + Number(durationMs);
const stats = { frames: 0, connections: 0, closes: {} as Record<string, number>, refused: {} as Record<string, number> };

/** One ack frame: 200 made-up ids of a real id's length, each twice. */
function floodFrame(seed: number): string {
  const ids: string[] = [];
  for (let i = 0; ids.length < IDS_PER_FRAME; i++) {
    const id = `bogus-${seed}-${i.toString(36).padStart(14, '0')}`;
    ids.push(id, id);
  }
  return JSON.stringify({ type: 'ack', ids });
}

/** One connection: floods until closed (or the end); resolves with the close code, or `http <status>` when refused. */
function floodOnce(frames: string[]): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    let timer: ReturnType<typeof setInterval> | undefined;
    let sent = 0;
    ws.on('error', () => undefined);
    ws.on('unexpected-response', (request, response) => {
      response.resume();
      request.destroy();
      resolve(`http ${response.statusCode}`);
    });
    ws.on('open', () => {
      if (stats.connections++ === 0) process.stdout.write('flooding\n');
      timer = setInterval(
        () => {
          if (Date.now() >= until) return ws.close();
          for (let i = 0; i < FRAMES_PER_TICK && ws.readyState === WebSocket.OPEN; i++) {
            ws.send(frames[sent++ % frames.length]);
            stats.frames++;
          }
        },
        1000 / (Number(framesPerSecond) / FRAMES_PER_TICK),
      );
    });
    ws.on('close', (code) => {
      clearInterval(timer);
      resolve(String(code));
    });
  });
}

async function floodSocket(seed: number): Promise<void> {
  const frames = [floodFrame(seed), floodFrame(seed + 1)];
  while (Date.now() < until) {
    const end = await floodOnce(frames);
    if (Date.now() >= until) break;
    if (end.startsWith('http ')) stats.refused[end.slice(5)] = (stats.refused[end.slice(5)] ?? 0) + 1;
    else stats.closes[end] = (stats.closes[end] ?? 0) + 1;
    await new Promise((r) => setTimeout(r, Number(reconnectMs))); // a flooder's reconnect pace, not a condition
  }
}

const sockets_ = Array.from({ length: Number(sockets) }, (_, i) => floodSocket(i * 2));
if (sockets_.length === 0) process.stdout.write('flooding\n');
// The flood lasts durationMs (its length is the point), and ends once every socket has too.
void Promise.all([...sockets_, new Promise((r) => setTimeout(r, Number(durationMs)))]).then(() => {
  process.stdout.write(`${JSON.stringify(stats)}\n`);
});
