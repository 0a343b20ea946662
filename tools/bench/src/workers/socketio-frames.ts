/**
 * The few Engine.IO v4 / Socket.IO v5 packets the bench's clients (workers/clients.ts) speak over a
 * plain `ws` WebSocket to the Socket.IO baseline (workers/socketio-server.ts), instead of
 * socket.io-client: the load generator shares the CPU with what it measures, and this way the
 * frames go through the same parser as Herald's. Text packets only (nothing here is binary):
 * - `0{…}` (Engine.IO open) is answered with `40` (connect to the main namespace); `40{…}` (connected) is dropped;
 * - `2` (ping) is answered with `3` (pong);
 * - `42["welcome"]` becomes Herald's welcome frame, `42["message",{<Herald's message frame>}]` that frame;
 * - acks go out as `42["ack",[<ids>]]`, an event (see socketio-server.ts).
 */
const EVENT_MESSAGE = Buffer.from('42["message",');
const EVENT_WELCOME = Buffer.from('42["welcome"]');
const WELCOME = Buffer.from('{"type":"welcome"}');
const [OPEN, PING, CONNECTED] = [Buffer.from('0'), Buffer.from('2'), Buffer.from('40')];

const startsWith = (data: Buffer, prefix: Buffer) => data.length >= prefix.length && data.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;

/** The baseline's URL for `userId`: the WebSocket transport straight away. */
export const socketioUrl = (base: string, userId: string): string => `${base}/socket.io/?EIO=4&transport=websocket&u=${encodeURIComponent(userId)}`;

/**
 * What a Socket.IO frame carries for Herald's frame parser: the message frame (a view, with a
 * trailing `]`), the welcome, null for the packets handled here (`reply` answers them), or the
 * frame itself when it is none of these (unexpected).
 */
export function unwrapSocketio(data: Buffer, reply: (packet: string) => void): Buffer | null {
  if (startsWith(data, EVENT_MESSAGE)) return data.subarray(EVENT_MESSAGE.length);
  if (data.equals(PING)) return reply('3'), null;
  if (data.equals(EVENT_WELCOME)) return WELCOME;
  if (startsWith(data, CONNECTED)) return null;
  if (startsWith(data, OPEN)) return reply('40'), null;
  return data;
}

/** An `ack` event with message ids (no quotes or backslashes in them). */
export const socketioAck = (ids: readonly string[]): string => `42["ack",["${ids.join('","')}"]]`;
