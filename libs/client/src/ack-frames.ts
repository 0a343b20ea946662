/**
 * Acknowledgements as `ack` frames within the gateway's limits: at most 1000 ids per frame
 * (protocol) and at most `maxFrameBytes` per frame (the gateway closes a connection with 1009 for
 * a frame over WS_MAX_PAYLOAD_BYTES, 16 KiB by default, about 400 UUIDs).
 */
import { MAX_ACK_IDS, type AckFrame } from '@herald/types';

/** Most ids one `ack` frame may carry (the protocol's MAX_ACK_IDS). */
export const MAX_IDS_PER_ACK = MAX_ACK_IDS;

const encoder = new TextEncoder();

/** `{"type":"ack","ids":[]}` and the comma between two ids. */
const FRAME_OVERHEAD = encoder.encode(JSON.stringify({ type: 'ack', ids: [] } satisfies AckFrame)).length;

/**
 * The serialized frames that acknowledge `ids`, in order. An id too long to fit in any frame is
 * left out (it cannot be acknowledged within the limit; the message will come again).
 */
export function ackFrames(ids: Iterable<string>, maxFrameBytes: number): string[] {
  const frames: string[] = [];
  let batch: string[] = [];
  let bytes = FRAME_OVERHEAD;
  const flush = () => {
    if (batch.length > 0) frames.push(JSON.stringify({ type: 'ack', ids: batch } satisfies AckFrame));
    batch = [];
    bytes = FRAME_OVERHEAD;
  };
  for (const id of ids) {
    const size = encoder.encode(JSON.stringify(id)).length + 1;
    if (FRAME_OVERHEAD + size > maxFrameBytes) continue;
    if (batch.length === MAX_IDS_PER_ACK || bytes + size > maxFrameBytes) flush();
    batch.push(id);
    bytes += size;
  }
  flush();
  return frames;
}
