import type { Node } from 'node-red';

/** The telegram-bot config node as telegram-notify sees it. */
export interface TelegramBotNode extends Node {
  /** why the bot is off ('' when it runs) */
  offReason: string;
}
