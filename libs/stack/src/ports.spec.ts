import { createServer, type Server } from 'node:net';
import { freePort, portFree, reservePorts, stablePort, stablePortRange, tcpAccepts } from './ports';

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

test('a free port is free and refuses connections; once listened on, it is taken and accepts', async () => {
  const port = await freePort();
  expect(await portFree(port)).toBe(true);
  expect(await tcpAccepts('127.0.0.1', port)).toBe(false);
  const server = await listen(port);
  try {
    expect(await portFree(port)).toBe(false);
    expect(await tcpAccepts('127.0.0.1', port)).toBe(true);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  expect(await portFree(port)).toBe(true);
});

test('never hands out the same port twice in one process, even before the first asker binds it', async () => {
  const ports = [];
  for (let i = 0; i < 200; i++) ports.push(await freePort());
  expect(new Set(ports).size).toBe(ports.length);
});

test('stablePort never hands out a reserved port: a stack given fixed ports picks its own servers around them', async () => {
  const [low, high] = stablePortRange();
  const at = (port: number) => (port - low + 0.5) / (high - low);
  let [reserved, other] = [0, 0];
  for (let p = low + 17; !other; p += 101) if (await portFree(p)) [reserved, other] = reserved ? [reserved, p] : [p, 0];
  reservePorts([reserved]);
  const random = jest.spyOn(Math, 'random').mockReturnValueOnce(at(reserved)).mockReturnValueOnce(at(other));
  try {
    expect(await stablePort()).toBe(other);
  } finally {
    random.mockRestore();
  }
});
