/**
 * A private `redis-server` for one test run, on a free port, keeping nothing on disk. Never the
 * machine's own Redis.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './ports';
import { stopProcess } from './process';

export interface RedisServer {
  port: number;
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startRedisServer(extraArgs: string[] = []): Promise<RedisServer> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...extraArgs],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const ready = await new Promise<boolean>((resolve, reject) => {
      let out = '';
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('Ready to accept connections')) resolve(true);
        if (out.includes('Address already in use')) resolve(false);
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('error', (err) =>
        reject(new Error(`cannot start redis-server (${err.message}); install it: apt-get install -y redis-server`)),
      );
      child.once('exit', () => resolve(false));
    });
    if (ready) {
      child.stdout!.removeAllListeners('data');
      child.stdout!.resume();
      child.stderr!.resume();
      return {
        port,
        url: `redis://127.0.0.1:${port}`,
        process: child,
        stop: async () => void (await stopProcess(child)),
      };
    }
    child.kill('SIGKILL');
    if (attempt >= 5) throw new Error('redis-server did not start after 6 attempts');
  }
}
