/**
 * Redis memory of category messages (docs/BENCHMARKS.md, issue 16): a category of `--members`
 * users and `--messages` messages sent to it, measured with `INFO memory` (used_memory) and
 * `MEMORY USAGE`, for the design Herald runs (each message stored once in the category's log; a
 * read position per member) and for the one it replaced (each message's id appended to every
 * member's offline list, as the fan-out job's `deliver` script did: RPUSH, the cap, EXPIRE; its
 * notifications cost no memory once delivered). Both on the rig's redis-server, one after the other.
 */
import { keys, newMessage, publishToCategory, replaceUserCategories } from '@herald/redis';
import { Rig, userIdsFor } from '../rig';
import { columns, type Row, type Scenario } from '../scenario';

/** Writes in flight at once while setting up members and writing offline lists. */
const CHUNK = 2000;
const TTL_SECONDS = 3600;

export const categoryMemory: Scenario = {
  name: 'category-memory',
  description:
    'Redis bytes of a category of N members and M messages: stored once in the category log (Herald) against an id in every member\'s offline list (the replaced fan-out)',
  flags: {
    members: { kind: 'int', default: '100000', min: 1, max: 1_000_000, description: 'members of the category' },
    messages: { kind: 'int', default: '10', min: 1, max: 1000, description: 'messages sent to the category' },
  },
  columns: columns(
    'design', 'members', 'messages', ['bytesPerMessage', 'bytes/message', 0], ['bytesPerMemberMessage', 'bytes/(member × message)', 1],
    ['bytesPerMember', 'bytes/member (membership)', 1], ['totalMB', 'total MB', 2], 'notes',
  ),
  run: (ctx) =>
    Rig.run(ctx, async (rig, runTag) => {
      const { flags, progress } = ctx;
      const [memberCount, messageCount] = [flags.int('members'), flags.int('messages')];
      const redis = rig.commands;
      const category = `mem-${runTag}`;
      const members = userIdsFor(`mem-${runTag}-u`, memberCount);
      const used = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
      /** MEMORY USAGE of every key, summed (SAMPLES 0: every element counted). */
      const usage = async (names: string[]) =>
        (await rig.inChunks(names, CHUNK, async (name) => Number((await redis.memory('USAGE', name, 'SAMPLES', 0)) ?? 0))).reduce((a, b) => a + b, 0);

      const empty = await used();
      progress(`making ${memberCount} users members of ${category}`);
      await rig.inChunks(members, CHUNK, (u) => replaceUserCategories(redis, u, [category]));
      const joined = await used();
      const membership =
        (await usage(members.flatMap((u) => [keys.userCategories(u), keys.categoryPositions(u)]))) + (await usage([keys.categoryMembers(category)]));
      const positions = await usage(members.map(keys.categoryPositions));

      progress(`sending ${messageCount} messages to the category's log`);
      const messages = Array.from({ length: messageCount }, (_, i) => newMessage({ payload: { i }, ttlMs: TTL_SECONDS * 1000, category }));
      for (const m of messages) await publishToCategory(redis, m, category, { cap: 1000, lifetimeSeconds: TTL_SECONDS });
      const logged = await used();
      const bodies = await usage(messages.map((m) => keys.message(m.id)));
      const log = await usage([keys.categoryLog(category)]);

      progress(`appending each id to ${memberCount} offline lists (the replaced design)`);
      for (const m of messages) {
        await rig.inChunks(members, CHUNK, async (u) => {
          await redis.rpush(keys.inbox(u), m.id);
          await redis.expire(keys.inbox(u), TTL_SECONDS);
        });
      }
      const listed = await used();
      const lists = await usage(members.map(keys.inbox));

      const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
      const rows: Row[] = [
        {
          design: 'log (stored once)',
          members: memberCount,
          messages: messageCount,
          bytesPerMessage: (log + bodies) / messageCount,
          bytesPerMemberMessage: (log + bodies) / messageCount / memberCount,
          bytesPerMember: membership / memberCount,
          totalMB: (log + bodies + membership) / 1e6,
          notes: `log ${log} B, bodies ${bodies} B; read positions ${(positions / memberCount).toFixed(0)} B/member of the membership; INFO used_memory +${mb(joined - empty)} MB joining, +${mb(logged - joined)} MB sending`,
        },
        {
          design: 'offline lists (replaced)',
          members: memberCount,
          messages: messageCount,
          bytesPerMessage: (lists + bodies) / messageCount,
          bytesPerMemberMessage: (lists + bodies) / messageCount / memberCount,
          bytesPerMember: (membership - positions) / memberCount,
          totalMB: (lists + bodies + membership - positions) / 1e6,
          notes: `offline lists ${lists} B in all; INFO used_memory +${mb(listed - logged)} MB`,
        },
      ];
      return rows;
    }),
};
