/** Every scenario `npm run bench` knows, in the order it lists them. */
import type { Scenario } from '../scenario';
import { exposurePublisher } from './exposure-publisher';
import { exposurePipeline } from './exposure-pipeline';
import { livePush } from './live-push';
import { categoryBroadcast } from './category-broadcast';
import { idle } from './idle';
import { reconnectStorm } from './reconnect-storm';

export const SCENARIOS: readonly Scenario[] = [exposurePublisher, exposurePipeline, livePush, categoryBroadcast, idle, reconnectStorm];
