/**
 * The batch publisher's wire format: its hand-made PublishRequest reads back through the client
 * library's own protobuf definitions, and a PublishResponse is counted. Publishing to real
 * emulators: libs/stack/src/batch-publisher.spec.ts.
 */
import { google } from '@google-cloud/pubsub/build/protos/protos';
import { countMessageIds, encodePublishRequest, type OutgoingMessage } from '../src';

const MESSAGES: OutgoingMessage[] = [
  { data: '{"eventId":"e1"}' },
  { data: `{"eventId":"e2","userId":"${'ü'.repeat(200)}"}`, attributes: { kind: 'opened' } },
  { data: '', attributes: { kind: 'expired', 'x-ä': 'ö' } },
];

describe('encodePublishRequest / countMessageIds', () => {
  test('the library decodes the request to the same topic, data and attributes', () => {
    const request = google.pubsub.v1.PublishRequest.decode(encodePublishRequest('projects/p/topics/exposures', MESSAGES));
    expect(request.topic).toBe('projects/p/topics/exposures');
    expect(request.messages.map((m) => Buffer.from(m.data as Uint8Array).toString())).toEqual(MESSAGES.map((m) => m.data));
    expect(request.messages.map((m) => ({ ...m.attributes }))).toEqual(MESSAGES.map((m) => m.attributes ?? {}));
  });

  test('data given as bytes goes as those bytes (a view of a larger buffer: only its own)', () => {
    const whole = Buffer.from(`xx{"eventId":"e3","userId":"${'ü'.repeat(50)}"}yy`);
    const view = whole.subarray(2, whole.length - 2);
    const messages: OutgoingMessage[] = [...MESSAGES, { data: view, attributes: { events: '1' } }];
    const request = google.pubsub.v1.PublishRequest.decode(encodePublishRequest('projects/p/topics/exposures', messages));
    expect(request.messages.map((m) => Buffer.from(m.data as Uint8Array).toString())).toEqual(messages.map((m) => m.data.toString()));
    expect({ ...request.messages[3].attributes }).toEqual({ events: '1' });
    // The same bytes as the same text given as a string.
    const asText = encodePublishRequest('projects/p/topics/exposures', [...MESSAGES, { data: view.toString(), attributes: { events: '1' } }]);
    expect(encodePublishRequest('projects/p/topics/exposures', messages).equals(asText)).toBe(true);
  });

  test('written into a larger buffer given to it, the request is its start and nothing of the rest', () => {
    const expected = encodePublishRequest('projects/p/topics/exposures', MESSAGES);
    const given = Buffer.alloc(expected.length + 100, 0xff); // what an earlier, larger request left
    const request = encodePublishRequest('projects/p/topics/exposures', MESSAGES, (bytes) => {
      expect(bytes).toBe(expected.length);
      return given;
    });
    expect(request.equals(expected)).toBe(true);
    expect(request.buffer).toBe(given.buffer);
    expect(google.pubsub.v1.PublishRequest.decode(request).messages).toHaveLength(MESSAGES.length);
  });

  test('counts the ids of a PublishResponse and refuses anything else', () => {
    const response = google.pubsub.v1.PublishResponse.encode({ messageIds: ['1', '22', 'x'.repeat(300)] }).finish();
    expect(countMessageIds(Buffer.from(response))).toBe(3);
    expect(countMessageIds(Buffer.alloc(0))).toBe(0);
    expect(countMessageIds(Buffer.from([0x0a, 0x05, 0x31]))).toBeNull(); // cut short
    expect(countMessageIds(Buffer.from([0x12, 0x01, 0x31]))).toBeNull(); // another field
  });
});
