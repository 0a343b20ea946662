import type { Command } from '../command';
import { categoriesCommand } from './categories';
import { recallCommand, updateCommand } from './change';
import { exposuresCommand } from './exposures';
import { inboxCommand } from './inbox';
import { presenceCommand } from './presence';
import { messageCommand } from './message';
import { sendCommand } from './send';
import { tailCommand } from './tail';
import { tokenCommand } from './token';
import { webhooksCommand } from './webhooks';
import { vapidKeysCommand } from './vapid-keys';

/** Every command, in the order `herald --help` lists them. */
export const COMMANDS: readonly Command[] = [
  tokenCommand,
  sendCommand,
  messageCommand,
  updateCommand,
  recallCommand,
  tailCommand,
  inboxCommand,
  categoriesCommand,
  presenceCommand,
  exposuresCommand,
  webhooksCommand,
  vapidKeysCommand,
];
