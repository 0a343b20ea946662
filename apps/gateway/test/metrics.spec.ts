/** The gateway's metrics that are counted off the delivery path and added up when read. */
import { Registry } from 'prom-client';
import { createGatewayMetrics } from '../src/metrics';

it('counts pushed frames by via as they are read: every frame once, however often it is scraped', async () => {
  const registry = new Registry();
  const metrics = createGatewayMetrics(registry);
  const read = async () => {
    const text = await registry.getSingleMetricAsString('herald_gateway_messages_pushed_total');
    return Object.fromEntries([...text.matchAll(/via="(\w+)"\} (\d+)/g)].map(([, via, n]) => [via, Number(n)]));
  };
  for (let i = 0; i < 3; i++) metrics.pushed('live');
  metrics.pushed('offline');
  expect(await read()).toEqual({ live: 3, offline: 1 });
  expect(await read()).toEqual({ live: 3, offline: 1 });
  metrics.pushed('live');
  expect(await read()).toEqual({ live: 4, offline: 1 });
});
