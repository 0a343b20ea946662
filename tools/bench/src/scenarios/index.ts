/** Every scenario `npm run bench` knows, in the order it lists them. Scenarios never import one another. */
import type { Scenario } from '../scenario';
import { apiFloor } from './api-floor';
import { apiPush } from './api-push';
import { categoryBroadcast } from './category-broadcast';
import { categoryMemory } from './category-memory';
import { exposurePipeline } from './exposure-pipeline';
import { exposurePublisher } from './exposure-publisher';
import { idle } from './idle';
import { livePush } from './live-push';
import { reconnectStorm } from './reconnect-storm';

export const SCENARIOS: readonly Scenario[] = [exposurePublisher, exposurePipeline, livePush, apiPush, apiFloor, categoryBroadcast, categoryMemory, idle, reconnectStorm];
