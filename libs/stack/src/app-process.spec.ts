/**
 * The node flags an app runs with in production, read from the root Dockerfile
 * (productionNodeFlags): the benchmarks and tools/build's start-time run the apps with them.
 */
import { productionNodeFlags } from './app-process';

it("runs each app with its image's node flags: NODE_OPTIONS and the CMD's flags", () => {
  expect(productionNodeFlags('gateway')).toEqual(['--max-semi-space-size=16', '--single-threaded-gc']);
  expect(productionNodeFlags('ingest')).toEqual(['--max-semi-space-size=16']);
  expect(productionNodeFlags('exposure-consumer')).toEqual(['--max-semi-space-size=64', '--single-threaded-gc']);
  const stage = 'FROM runtime AS ingest\nENV NODE_OPTIONS=--a=1\nCMD ["node", "--enable-source-maps", "--b", "--c=2", "dist/apps/ingest/main.js"]\n';
  expect(productionNodeFlags('ingest', stage)).toEqual(['--a=1', '--b', '--c=2']);
  expect(() => productionNodeFlags('gateway', stage)).toThrow('no "FROM runtime AS gateway" stage');
});
