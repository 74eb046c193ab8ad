/**
 * The nodes' help, as the editor shows it: the built runtime (tests/helpers/runtime.ts; run
 * `npm run build` first), logged in as admin through /login, Debian's Chromium via playwright-core.
 *
 * For every node type of this package (taken from /admin/nodes, so a new node is covered too) and
 * for both languages (en-US and ru: the browser's language is the editor's language, and the editor
 * asks /admin/nodes for the help in it), the help sidebar must show Node-RED's help structure:
 *  - h3 headings in the editor's language, among them Inputs and Outputs (Входы / Выходы);
 *  - dl.message-properties made of dt/dd pairs, the dt's type in span.property-type;
 *  - ol.node-ports with one li per output when the node has more than one output;
 *  - no markdown left unconverted (`: name (type) :` lines, `###`, `**`);
 *  - nothing wider than the help panel at the default sidebar width (inline code does not wrap in
 *    the editor, so long code must be a pre block), and no pre line so long that it wraps mid-word.
 * A cheaper check first: the HTML of /admin/nodes (Accept-Language en-US / ru) embeds each help as
 * HTML (`<script type="text/html" data-help-name>`), with the same markup.
 */
import * as fs from 'fs';
import * as path from 'path';
import { chromium, Browser } from 'playwright-core';
import { startGatepost, GatepostHandle, ROOT } from '../helpers/runtime';

jest.setTimeout(180_000);

const CHROMIUM = '/usr/bin/chromium';
const PASSWORD = 'node-help-admin-secret';
const MODULE: string = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).name;

const LANGS = {
  'en-US': { inputs: 'Inputs', outputs: 'Outputs', headings: ['Inputs', 'Outputs', 'Details', 'References'] },
  ru: { inputs: 'Входы', outputs: 'Выходы', headings: ['Входы', 'Выходы', 'Подробности', 'Ссылки'] },
} as const;
type Lang = keyof typeof LANGS;

/** a markdown property line that Node-RED did not convert, `: name (type) : …`, anywhere in the text
 * (in a paragraph the line breaks of the source are spaces) */
const RAW_PROPERTY = /:\s*[\w.]+(?:\s*\|\s*[\w.]+)*\s*\((?:string|object|boolean|number|Buffer|array|any)\b[^()]*\)[^:\n]{0,30}:/;
const RAW_MARKDOWN = /(^|\n)\s*#{2,4}\s|\*\*\S/;

let rt: GatepostHandle;
let browser: Browser | undefined;
/** node types of this package, from the runtime's node list */
let types: string[] = [];

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (apt-get install chromium)`);
  rt = await startGatepost({ env: { GATEPOST_ADMIN_PASSWORD: PASSWORD } });
  const res = await fetch(`${rt.url}/admin/nodes`, { headers: { ...rt.basicAuth('admin', PASSWORD), Accept: 'application/json' } });
  expect(res.status).toBe(200);
  const sets = (await res.json()) as Array<{ module: string; types: string[] }>;
  types = sets
    .filter((s) => s.module === MODULE)
    .flatMap((s) => s.types)
    .sort();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

afterAll(async () => {
  await browser?.close();
  if (rt) {
    await rt.stop();
    rt.cleanup();
  }
});

test('the package has the node types this test is written for', () => {
  // every type below must be checked; a new node type shows up here and is then checked as well
  expect(types).toEqual(['camera', 'e-poselok-config', 'e-poselok-sync', 'frigate-lpr', 'gatepost-gate', 'plate-check', 'rtsp-motion', 'sarapul-relay', 'sokol-door', 'temp-pass-store']);
});

describe.each(Object.keys(LANGS) as Lang[])('help in %s', (lang) => {
  const want = LANGS[lang];

  test('/admin/nodes embeds every help as HTML with the help markup', async () => {
    const res = await fetch(`${rt.url}/admin/nodes`, { headers: { ...rt.basicAuth('admin', PASSWORD), Accept: 'text/html', 'Accept-Language': lang } });
    expect(res.status).toBe(200);
    const html = await res.text();
    const problems: string[] = [];
    for (const type of types) {
      const blocks = [...html.matchAll(/<script type="([^"]*)" data-help-name="([^"]*)">([\s\S]*?)<\/script>/g)].filter((m) => m[2] === type);
      if (blocks.length !== 1) {
        problems.push(`${type}: ${blocks.length} help blocks`);
        continue;
      }
      const [, scriptType, , body] = blocks[0];
      if (scriptType !== 'text/html') problems.push(`${type}: help is ${scriptType}`);
      const h3 = [...body.matchAll(/<h3>([^<]*)<\/h3>/g)].map((m) => m[1].trim());
      if (!h3.includes(want.inputs) || !h3.includes(want.outputs)) problems.push(`${type}: h3 ${JSON.stringify(h3)}`);
      const dts = (body.match(/<dt[ >]/g) ?? []).length;
      const dds = (body.match(/<dd[ >]/g) ?? []).length;
      if (!/<dl class="message-properties">/.test(body) || dts === 0 || dts !== dds) problems.push(`${type}: ${dts} dt, ${dds} dd`);
      if (!/<dt[^>]*>[^<]*<span class="property-type">/.test(body)) problems.push(`${type}: no dt with span.property-type`);
      if (RAW_PROPERTY.test(body) || RAW_MARKDOWN.test(body)) problems.push(`${type}: raw markdown`);
    }
    expect(problems).toEqual([]);
  });

  test('the editor help sidebar shows each node help in the help structure, nothing overflowing', async () => {
    const ctx = await browser!.newContext({ viewport: { width: 1280, height: 800 }, locale: lang });
    try {
      const page = await ctx.newPage();
      page.setDefaultTimeout(30_000);
      await page.goto(`${rt.url}/login`);
      await page.fill('input[name=username]', 'admin');
      await page.fill('input[name=password]', PASSWORD);
      await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('button[type=submit]')]);
      await page.goto(`${rt.url}/admin/`);
      await page.waitForSelector('#red-ui-workspace-chart .red-ui-flow-node', { timeout: 60_000 });
      expect(await page.evaluate(() => (window as any).RED.i18n.lang())).toBe(lang);

      const problems: string[] = [];
      const seen: Record<string, { h3: string[]; pairs: number; ports: number }> = {};
      for (const type of types) {
        const r = await page.evaluate((type) => {
          const RED = (window as any).RED;
          RED.sidebar.help.show(type);
          const help = document.querySelector('.red-ui-sidebar-help-stack .red-ui-help') as HTMLElement | null;
          if (!help) return null;
          const panel = help.closest('.red-ui-panel') as HTMLElement;
          const def = RED.nodes.getType(type);
          // every line box of every element and text, against the right edge of the help's content
          const content = (help.querySelector('.red-ui-help') as HTMLElement | null) ?? help;
          const right = Math.min(content.getBoundingClientRect().right, panel.getBoundingClientRect().right);
          const scrollable = (n: Node): boolean => {
            const pre = n.parentElement?.closest('pre');
            return !!pre && /auto|scroll/.test(getComputedStyle(pre).overflowX);
          };
          const wide: string[] = [];
          const walker = document.createTreeWalker(content, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
          for (let n = walker.nextNode(); n; n = walker.nextNode()) {
            if (scrollable(n)) continue;
            let rects: DOMRectList;
            if (n.nodeType === Node.TEXT_NODE) {
              const range = document.createRange();
              range.selectNodeContents(n);
              rects = range.getClientRects();
            } else rects = (n as Element).getClientRects();
            const over = Math.max(0, ...Array.from(rects).map((r) => r.right - right));
            if (over > 0.5) wide.push(`${n.nodeType === Node.TEXT_NODE ? 'text' : (n as Element).tagName.toLowerCase()} "${(n.textContent ?? '').trim().slice(0, 40)}" +${over.toFixed(1)}px`);
          }
          const pres = Array.from(help.querySelectorAll('pre'))
            .filter((p) => p.scrollWidth > p.clientWidth && !/auto|scroll/.test(getComputedStyle(p).overflowX))
            .map((p) => (p.textContent ?? '').slice(0, 40));
          // a pre wraps where its lines are too long for the panel (break-all: mid-word); each line must fit
          const wrapped = Array.from(help.querySelectorAll('pre'))
            .filter((p) => {
              const cs = getComputedStyle(p);
              const rows = Math.round((p.clientHeight - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom)) / parseFloat(cs.lineHeight));
              return rows > (p.textContent ?? '').replace(/\n$/, '').split('\n').length;
            })
            .map((p) => (p.textContent ?? '').split('\n').reduce((a, b) => (b.length > a.length ? b : a), ''));
          const dls = Array.from(help.querySelectorAll('dl.message-properties')).map((dl) =>
            Array.from(dl.children)
              .map((c) => c.tagName.toLowerCase())
              .join(' '),
          );
          return {
            outputs: Number(def?.outputs ?? 0),
            h3: Array.from(help.querySelectorAll('h3')).map((h) => (h.textContent ?? '').trim()),
            dls,
            typed: help.querySelectorAll('dl.message-properties > dt > span.property-type').length,
            dts: help.querySelectorAll('dl.message-properties > dt').length,
            ports: help.querySelectorAll('ol.node-ports > li').length,
            portDls: help.querySelectorAll('ol.node-ports > li > dl.message-properties').length,
            text: help.innerText,
            panelWidth: panel.clientWidth,
            overflow: panel.scrollWidth - panel.clientWidth,
            wide,
            pres,
            wrapped,
          };
        }, type);
        if (!r) {
          problems.push(`${type}: no help shown`);
          continue;
        }
        const p = (s: string): void => void problems.push(`${type}: ${s}`);
        if (r.panelWidth < 200 || r.panelWidth > 400) p(`help panel ${r.panelWidth}px wide, expected the default sidebar`);
        if (!r.h3.includes(want.inputs) || !r.h3.includes(want.outputs)) p(`h3 ${JSON.stringify(r.h3)} lack ${want.inputs} / ${want.outputs}`);
        const foreign = r.h3.filter((h) => !(want.headings as readonly string[]).includes(h));
        if (foreign.length) p(`h3 not in ${lang}: ${JSON.stringify(foreign)}`);
        if (r.dls.length === 0) p('no dl.message-properties');
        for (const seq of r.dls) if (!/^(dt dd)( dt dd)*$/.test(seq)) p(`dl is "${seq}", not dt/dd pairs`);
        if (r.typed === 0 || r.typed !== r.dts) p(`${r.typed} of ${r.dts} dt have a span.property-type`);
        if (r.outputs > 1 && (r.ports !== r.outputs || r.portDls !== r.outputs)) p(`${r.outputs} outputs, ol.node-ports has ${r.ports} li (${r.portDls} with a dl)`);
        if (RAW_PROPERTY.test(r.text)) p(`raw property line: ${r.text.match(RAW_PROPERTY)![0].trim().slice(0, 60)}`);
        if (RAW_MARKDOWN.test(r.text)) p(`raw markdown: ${r.text.match(RAW_MARKDOWN)![0].trim()}`);
        if (r.overflow > 0) p(`help scrolls sideways by ${r.overflow}px`);
        if (r.wide.length) p(`wider than the panel: ${r.wide.slice(0, 4).join('; ')}`);
        if (r.pres.length) p(`pre overflowing without a scrollbar: ${r.pres.join('; ')}`);
        if (r.wrapped.length) p(`pre lines wrapped (too long for the panel): ${r.wrapped.map((l) => JSON.stringify(l)).join('; ')}`);
        seen[type] = { h3: r.h3, pairs: r.dts, ports: r.ports };
      }
      expect(problems).toEqual([]);
      expect(Object.keys(seen).sort()).toEqual(types);
    } finally {
      await ctx.close();
    }
  });
});
