/**
 * Redis channel names of the baseline server, in one place: the server subscribes to them and
 * the bench publishes on them. Plain (not sharded) pub/sub; a prefix of their own keeps them
 * apart from Herald's channels on the shared bench Redis.
 */
export const baselineChannels = {
  /** One channel per connected user: each message on it is a ready frame for the user's sockets. */
  user: (userId: string) => `baseline:u:${userId}`,
  /** The broadcast channel: each message on it goes to every connected socket. */
  everyone: 'baseline:everyone',
} as const;
