/**
 * Broker unit tests: delivery is synchronous, so flow control, nack, detach and
 * lease expiry can be checked exactly, with an injected clock instead of waits.
 */
import { EmulatorError, ErrorReason } from '../src/errors';
import type { ConsumerOptions } from '../src/consumer';
import { Broker } from '../src/state';
import type { ReceivedMessage } from '../src/types';

const TOPIC = 'projects/p/topics/events';
const SUB = 'projects/p/subscriptions/events-sub';

describe('Broker', () => {
  let clock: number;
  let broker: Broker;

  beforeEach(() => {
    clock = 1_000_000;
    broker = new Broker(() => clock);
    broker.createTopic({ name: TOPIC });
    broker.createSubscription({ name: SUB, topic: TOPIC, ackDeadlineSeconds: 10 });
  });
  afterEach(() => broker.close(new EmulatorError(ErrorReason.ShuttingDown, 'test over')));

  const publish = (...data: string[]) => broker.publish(TOPIC, data.map((d) => ({ data: Buffer.from(d) })));

  function streamConsumer(overrides: Partial<ConsumerOptions> = {}) {
    const batches: ReceivedMessage[][] = [];
    const consumer = broker.attach(SUB, {
      ackDeadlineSeconds: 10,
      maxOutstandingMessages: 0,
      maxOutstandingBytes: 0,
      oneShot: false,
      deliver: (batch) => batches.push(batch),
      ...overrides,
    });
    const received = () => batches.flat();
    const dataOf = (ms: ReceivedMessage[]) => ms.map((m) => m.message.data.toString());
    return { consumer, batches, received, dataOf };
  }

  test('flow control: never more than maxOutstandingMessages leased to a stream; acks free room', () => {
    const { received, dataOf } = streamConsumer({ maxOutstandingMessages: 2 });
    publish('a', 'b', 'c', 'd', 'e');
    expect(dataOf(received())).toEqual(['a', 'b']);

    broker.acknowledge(SUB, [received()[0].ackId]);
    expect(dataOf(received())).toEqual(['a', 'b', 'c']);

    broker.acknowledge(SUB, received().slice(1).map((m) => m.ackId));
    expect(dataOf(received())).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  test('flow control by bytes admits one oversized message but no more', () => {
    const { received } = streamConsumer({ maxOutstandingBytes: 3 });
    publish('0123456789', 'x');
    expect(received()).toHaveLength(1);
    broker.acknowledge(SUB, [received()[0].ackId]);
    expect(received()).toHaveLength(2);
  });

  test('nack (deadline 0) redelivers at once with a new ack id; stale ack ids are ignored', () => {
    const { received, dataOf } = streamConsumer();
    publish('a');
    const [first] = received();
    broker.modifyAckDeadline(SUB, [first.ackId], 0);
    expect(dataOf(received())).toEqual(['a', 'a']);
    const second = received()[1];
    expect(second.ackId).not.toBe(first.ackId);
    expect(second.message.messageId).toBe(first.message.messageId);

    broker.acknowledge(SUB, [first.ackId]); // stale: must not ack the new lease
    clock += 10_000;
    broker.sweep();
    expect(received()).toHaveLength(3);
  });

  test('leases expire on the sweep after their deadline, and modifyAckDeadline extends them', () => {
    const pulled = broker.pullNow(SUB, 10);
    expect(pulled).toHaveLength(0);
    publish('a', 'b');
    const [a, b] = broker.pullNow(SUB, 10);
    broker.modifyAckDeadline(SUB, [b.ackId], 30);

    clock += 9_999;
    broker.sweep();
    expect(broker.pullNow(SUB, 10)).toHaveLength(0);

    clock += 1;
    broker.sweep();
    const again = broker.pullNow(SUB, 10);
    expect(again.map((m) => m.message.messageId)).toEqual([a.message.messageId]);
    broker.acknowledge(SUB, [again[0].ackId]);

    clock += 20_000;
    broker.sweep();
    expect(broker.pullNow(SUB, 10).map((m) => m.message.messageId)).toEqual([b.message.messageId]);
  });

  test('detaching a stream keeps its leases: late acks count, the rest come back at the deadline', () => {
    const first = streamConsumer();
    publish('a', 'b');
    expect(first.received()).toHaveLength(2);

    const second = streamConsumer();
    broker.detach(SUB, first.consumer);
    expect(second.received()).toHaveLength(0);
    const [a] = first.received();
    broker.acknowledge(SUB, [a.ackId]);
    clock += 10_001;
    broker.sweep();
    expect(second.dataOf(second.received())).toEqual(['b']);
  });

  test('fan-out only to subscriptions that exist at publish time', () => {
    publish('before');
    broker.createSubscription({ name: `${SUB}-late`, topic: TOPIC, ackDeadlineSeconds: 10 });
    publish('after');
    expect(broker.pullNow(SUB, 10).map((m) => m.message.data.toString())).toEqual(['before', 'after']);
    expect(broker.pullNow(`${SUB}-late`, 10).map((m) => m.message.data.toString())).toEqual(['after']);
  });

  test('validation errors carry stable reasons and gRPC codes', () => {
    expect(() => broker.createTopic({ name: 'projects/p/topics/ab' })).toThrow(
      expect.objectContaining({ reason: 'INVALID_NAME', code: 3 }),
    );
    expect(() => broker.createTopic({ name: TOPIC })).toThrow(
      expect.objectContaining({ reason: 'TOPIC_ALREADY_EXISTS', code: 6 }),
    );
    expect(() => broker.publish(TOPIC, [{ data: Buffer.alloc(0) }])).toThrow(
      expect.objectContaining({ reason: 'INVALID_ARGUMENT', code: 3 }),
    );
    const tooMany = Array.from({ length: 1001 }, () => ({ data: Buffer.from('x') }));
    expect(() => broker.publish(TOPIC, tooMany)).toThrow(expect.objectContaining({ reason: 'INVALID_ARGUMENT', code: 3 }));
    expect(broker.publish(TOPIC, tooMany.slice(1))).toHaveLength(1000);
    expect(() =>
      broker.createSubscription({ name: `${SUB}-x`, topic: TOPIC, ackDeadlineSeconds: 5 }),
    ).toThrow(expect.objectContaining({ reason: 'INVALID_ARGUMENT', code: 3 }));
    expect(() => broker.pullNow('projects/p/subscriptions/nope', 1)).toThrow(
      expect.objectContaining({ reason: 'SUBSCRIPTION_NOT_FOUND', code: 5 }),
    );
  });

  test('deleting a topic detaches its subscriptions instead of deleting them', () => {
    broker.deleteTopic(TOPIC);
    expect(broker.getSubscription(SUB).topic).toBe('_deleted-topic_');
  });
});
