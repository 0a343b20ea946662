import type * as grpc from '@grpc/grpc-js';
import { parseProjectName } from './names';
import type { Broker } from './state';
import type { PublishRequest, Topic } from './types';
import { unary } from './unary';

/** google.pubsub.v1.Publisher: topic admin + Publish. List calls return everything in one page. */
export function publisherService(broker: Broker): grpc.UntypedServiceImplementation {
  return {
    CreateTopic: unary((req: Topic) => broker.createTopic(req)),
    GetTopic: unary((req: { topic: string }) => broker.getTopic(req.topic)),
    DeleteTopic: unary((req: { topic: string }) => {
      broker.deleteTopic(req.topic);
      return {};
    }),
    ListTopics: unary((req: { project: string }) => ({
      topics: broker.listTopics(parseProjectName(req.project)),
      nextPageToken: '',
    })),
    ListTopicSubscriptions: unary((req: { topic: string }) => ({
      subscriptions: broker.listTopicSubscriptions(req.topic),
      nextPageToken: '',
    })),
    Publish: unary((req: PublishRequest) => ({ messageIds: broker.publish(req.topic, req.messages) })),
  };
}
