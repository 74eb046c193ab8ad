/**
 * `telegram-notify`: any flow sends a text or an image to the verified Telegram chats subscribed
 * to a tag (an alarm type such as 'camera-motion' or the flow's own tag), through the alarm
 * service's durable outbox (flood control, retries, nothing lost while the internet is down).
 *
 * Input: msg.payload — a string (the text), or a Buffer (a JPEG; msg.caption is its text);
 * msg.tag overrides an empty tag of the node. Output: the message with msg.queued = number of chats
 * it was queued for. The status tells the bot's state (off without a token).
 */
import type { Node, NodeAPI } from 'node-red';
import { hubFor } from '../common/hub';
import { textProp } from '../common/env';
import { fail, translator } from '../common/node-base';
import { alarmsOf } from '../../src/services/alarm-service';
import { isAlertTag } from '../../src/core/alarms';
import type { TelegramBotNode } from '../telegram-bot/bot-node';

interface NotifyDef {
  id: string;
  name?: string;
  bot?: string;
  tag?: string;
  severity?: string;
}

export = function (RED: NodeAPI): void {
  const t = translator(RED);
  function TelegramNotify(this: Node, config: NotifyDef) {
    RED.nodes.createNode(this, config as any);
    const node = this;
    const hub = hubFor(RED);
    const botNode = config.bot ? (RED.nodes.getNode(config.bot) as TelegramBotNode | null) : null;
    const tag = textProp(config.tag);
    const severity = config.severity === 'warning' || config.severity === 'critical' ? config.severity : 'info';
    // messages are delivered by whichever bot the site runs (the hub's transport): its state is what counts
    const show = () => {
      if (!botNode) return node.status({ fill: 'red', shape: 'ring', text: t('telegram-notify.status.noBot', 'no telegram-bot selected') });
      const s = alarmsOf(hub).botState();
      if (s.state === 'running') node.status({ fill: 'green', shape: 'dot', text: s.username ? `@${s.username}` : t('telegram-notify.status.running', 'connected') });
      else if (s.state === 'error') node.status({ fill: 'red', shape: 'ring', text: (s.error ?? 'error').slice(0, 32) });
      else if (s.state === 'starting') node.status({ fill: 'yellow', shape: 'ring', text: t('telegram-notify.status.starting', 'connecting…') });
      else node.status({ fill: 'grey', shape: 'ring', text: botNode.offReason || t('telegram-bot.off.noToken', 'no bot token: Telegram is off') });
    };
    if (tag !== undefined && !isAlertTag(tag)) node.error(`telegram-notify: ${t('telegram-notify.errors.badTag', 'invalid tag')} "${tag}"`);
    show();
    const timer = setInterval(show, 5000);
    timer.unref();

    node.on('input', (msg: any, send: (m: any) => void, done: (err?: Error) => void) => {
      const useTag = tag ?? (typeof msg.tag === 'string' ? msg.tag.trim() : '');
      if (!useTag || !isAlertTag(useTag) || useTag === '*') return fail(node, done, new Error(`${t('telegram-notify.errors.badTag', 'invalid tag')} "${useTag}"`));
      const p = msg.payload;
      let text: string;
      let image: Buffer | null = null;
      if (Buffer.isBuffer(p)) {
        image = p;
        text = msg.caption === undefined ? '' : String(msg.caption);
        if (p.length < 4 || p[0] !== 0xff || p[1] !== 0xd8) return fail(node, done, new Error(t('telegram-notify.errors.notJpeg', 'msg.payload Buffer is not a JPEG image')));
        if (p.length > 10 * 1024 * 1024) return fail(node, done, new Error(t('telegram-notify.errors.tooBig', 'image larger than 10 MB')));
      } else if (typeof p === 'string' || typeof p === 'number' || typeof p === 'boolean') {
        text = String(p);
      } else if (p && typeof p === 'object') {
        text = JSON.stringify(p);
      } else return fail(node, done, new Error(t('telegram-notify.errors.empty', 'msg.payload is empty')));
      if (!text.trim() && !image) return fail(node, done, new Error(t('telegram-notify.errors.empty', 'msg.payload is empty')));
      alarmsOf(hub)
        .notify(useTag, text, image, severity)
        .then((n) => {
          msg.queued = n;
          show();
          send(msg);
          done();
        })
        .catch((err) => fail(node, done, err));
    });
    node.on('close', () => clearInterval(timer));
  }
  RED.nodes.registerType('telegram-notify', TelegramNotify as any);
};
