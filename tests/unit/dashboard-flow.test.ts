/**
 * The guard dashboard's flow (flows/dashboard.json) and its sources (dashboard/*):
 *  - the committed flow is what scripts/build-dashboard-flow.js generates from the sources;
 *  - the flow's Dashboard 2.0 structure is sound (ui-base, pages, groups, templates, references);
 *  - every widget's script is what Dashboard 2.0's ui-template accepts (one `export default {}` with
 *    supported options only; it re-generates the code with escodegen) and its template compiles with
 *    Vue's compiler; attribute names survive the browser's HTML parser (lowercase);
 *  - every i18n key the widgets use exists in Russian and English.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parse as parseJs } from 'acorn';
import { compile } from '@vue/compiler-dom';
import { CREDENTIAL_KINDS, DECISION_OUTCOMES, DECISION_SOURCES } from '../../src/core/contracts';

const ROOT = path.resolve(__dirname, '..', '..');
const builder = require(path.join(ROOT, 'scripts', 'build-dashboard-flow.js'));
const { GATEPOST_STRINGS } = require(path.join(ROOT, 'dashboard', 'i18n.js'));

type Node = Record<string, any>;
const flow: Node[] = JSON.parse(fs.readFileSync(path.join(ROOT, 'flows', 'dashboard.json'), 'utf8'));
const byId = new Map(flow.map((n) => [n.id, n]));
const templates = flow.filter((n) => n.type === 'ui-template');
const vueTemplates = templates.filter((n) => n.templateScope !== 'site:style');

function parts(format: string): { template: string; script: string } {
  const t = /<template>([\s\S]*)<\/template>\s*<script>/.exec(format);
  const s = /<script>([\s\S]*?)<\/script>/.exec(format);
  return { template: t ? t[1] : '', script: s ? s[1] : '' };
}

describe('flows/dashboard.json', () => {
  test('is up to date with dashboard/* (run node scripts/build-dashboard-flow.js)', () => {
    const committed = fs.readFileSync(path.join(ROOT, 'flows', 'dashboard.json'), 'utf8');
    expect(committed).toBe(builder.render(builder.buildDashboardFlow()));
  });

  test('node ids are unique and stable', () => {
    expect(new Set(flow.map((n) => n.id)).size).toBe(flow.length);
    expect(byId.get(builder.nid('ui-base'))?.type).toBe('ui-base');
    expect(flow.every((n) => /^[0-9a-f]{16}$/.test(n.id))).toBe(true);
  });

  test('one tab, one ui-base at /dashboard titled gatepost, one theme', () => {
    const tabs = flow.filter((n) => n.type === 'tab');
    expect(tabs).toHaveLength(1);
    const bases = flow.filter((n) => n.type === 'ui-base');
    expect(bases).toHaveLength(1);
    expect(bases[0]).toMatchObject({ name: 'gatepost', path: '/dashboard' });
    expect(flow.filter((n) => n.type === 'ui-theme')).toHaveLength(1);
    // only flow nodes carry z, and they are on the dashboard tab
    for (const n of flow.filter((x) => 'z' in x)) expect(n.z).toBe(tabs[0].id);
  });

  test('pages «Пост», «Журнал», «Система», «Журнал системы», «Люди» in this order, with groups and widgets', () => {
    const pages = flow.filter((n) => n.type === 'ui-page').sort((a, b) => a.order - b.order);
    // the first four in this order; the features' pages follow (e.g. «Доступ»)
    expect(pages.slice(0, 4).map((p) => p.name)).toEqual(['Пост', 'Журнал', 'Система', 'Журнал системы']);
    expect(pages.slice(0, 4).map((p) => p.path)).toEqual(['/post', '/history', '/system', '/syslog']);
    expect(pages.map((p) => p.path)).toContain('/access');
    expect(pages.map((p) => p.path)).toContain('/people');
    expect(pages.map((p) => p.path)).toContain('/cameras');
    for (const p of pages) {
      expect(byId.get(p.ui)?.type).toBe('ui-base');
      expect(byId.get(p.theme)?.type).toBe('ui-theme');
      const groups = flow.filter((n) => n.type === 'ui-group' && n.page === p.id);
      expect(groups.length).toBeGreaterThan(0);
      for (const g of groups) {
        const widgets = templates.filter((t) => t.group === g.id);
        expect(widgets).toHaveLength(1);
        expect(widgets[0].templateScope).toBe('local');
      }
    }
    const postGroups = flow.filter((n) => n.type === 'ui-group' && n.page === pages[0].id).sort((a, b) => a.order - b.order);
    // the old screen's shape: search on the left, temporary passes on the right, gates below
    expect(postGroups.map((g) => g.className)).toEqual(['gp-group-post-search', 'gp-group-post-feed', 'gp-group-post-passes', 'gp-group-post-gates', 'gp-group-post-eposelok']);
    expect(postGroups.slice(0, 3).reduce((s, g) => s + Number(g.width), 0)).toBe(12);
  });

  test('every template references an existing group (widgets) or the ui-base (site-wide)', () => {
    for (const t of templates) {
      if (t.templateScope === 'local') expect(byId.get(t.group)?.type).toBe('ui-group');
      else {
        expect(['widget:ui', 'site:style']).toContain(t.templateScope);
        expect(byId.get(t.ui)?.type).toBe('ui-base');
      }
    }
    // shared client code exists exactly once, as a template on every page
    const shared = templates.filter((t) => /createGatepost\(window, GATEPOST_STRINGS, GATEPOST_STREAM_EVENTS\)/.test(t.format));
    expect(shared).toHaveLength(1);
    expect(shared[0].templateScope).toBe('widget:ui');
    for (const t of vueTemplates.filter((x) => x !== shared[0])) {
      expect(t.format).not.toMatch(/function createGatepost|GATEPOST_STRINGS\s*=/);
    }
  });
});

describe('ui-template sources as Dashboard 2.0 reads them', () => {
  const SUPPORTED = new Set(['name', 'data', 'computed', 'methods', 'watch', 'mounted', 'unmounted']);

  test.each(vueTemplates.map((t) => [t.name, t] as [string, Node]))('%s', (_name, t) => {
    const { template, script } = parts(t.format);
    expect(template.trim()).not.toBe('');
    expect(script.trim()).not.toBe('');
    const ast: any = parseJs(script, { ecmaVersion: 'latest', sourceType: 'module' });
    const isComponent = ast.body.length === 1 && ast.body[0].type === 'ExportDefaultDeclaration';
    if (isComponent) {
      const decl = ast.body[0].declaration;
      expect(decl.type).toBe('ObjectExpression');
      const keys = decl.properties.map((p: any) => p.key.name);
      for (const k of keys) expect(SUPPORTED.has(k)).toBe(true);
      // methods, computed and watch must be object literals of functions (each is eval'd alone)
      for (const p of decl.properties) {
        if (['methods', 'computed', 'watch'].includes(p.key.name)) {
          expect(p.value.type).toBe('ObjectExpression');
          for (const m of p.value.properties) expect(m.value.type).toBe('FunctionExpression');
        }
      }
      // every widget waits for the shared code and has its own i18n hook
      expect(script).toMatch(/gatepost-ready/);
    } else {
      // the shared template: plain statements, run when it mounts; no import/export
      expect(ast.body.some((s: any) => /Export|Import/.test(s.type))).toBe(false);
    }
    const errors: string[] = [];
    compile(template, { onError: (e) => errors.push(e.message), hoistStatic: false });
    expect(errors).toEqual([]);
    // the browser's HTML parser lowercases attribute names: camelCase bindings would break
    const camel = [...template.matchAll(/\s((?:v-bind:|v-on:|:|@)?[a-zA-Z][\w.-]*)=/g)].map((m) => m[1]).filter((a) => /[A-Z]/.test(a));
    expect(camel).toEqual([]);
    // self-closing custom elements are not HTML: the parser would swallow their siblings
    expect(template).not.toMatch(/<[a-zA-Z-]+[^>]*\/>/);
  });

  test('the shared script defines window.gatepost once and announces it', () => {
    const shared = templates.find((t) => t.name === 'gatepost: shared')!;
    const { script } = parts(shared.format);
    expect(script).toMatch(/if \(!window\.gatepost\)/);
    expect(script).toMatch(/dispatchEvent\(new Event\('gatepost-ready'\)\)/);
  });

  test('every widget root and every action button has a data-testid', () => {
    for (const t of vueTemplates) {
      const { template } = parts(t.format);
      const buttons = [...template.matchAll(/<button\b[^>]*>/g)].map((m) => m[0]);
      for (const b of buttons) expect(b).toMatch(/data-testid=|:data-testid=/);
    }
  });
});

describe('i18n', () => {
  const ru = GATEPOST_STRINGS.ru as Record<string, string>;
  const en = GATEPOST_STRINGS.en as Record<string, string>;

  test('Russian and English have the same keys, none empty, same placeholders', () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(ru).sort());
    for (const k of Object.keys(ru)) {
      expect(ru[k].trim()).not.toBe('');
      expect(en[k].trim()).not.toBe('');
      const ph = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort();
      expect([k, ph(en[k])]).toEqual([k, ph(ru[k])]);
    }
  });

  test('every key the widgets use exists', () => {
    const used = new Set<string>();
    for (const f of fs.readdirSync(path.join(ROOT, 'dashboard')).filter((x) => x.endsWith('.vue'))) {
      const src = fs.readFileSync(path.join(ROOT, 'dashboard', f), 'utf8');
      for (const m of src.matchAll(/\bt\('([a-zA-Z0-9.-]+[a-zA-Z0-9])'/g)) used.add(m[1]);
      // dynamic keys: t('prefix.' + x) — every value the code can produce
      for (const m of src.matchAll(/\bt\('([a-zA-Z0-9-]+\.)' \+/g)) used.add(m[1] + '*');
    }
    const dynamic: Record<string, string[]> = {
      'source.': [...DECISION_SOURCES],
      'decision.': [...DECISION_OUTCOMES],
      'kind.': [...CREDENTIAL_KINDS],
      'gates.state.': ['closed', 'open', 'held', 'fault'],
      'gates.': ['open', 'hold', 'release'],
      'passes.': ['today', 'day1', 'day3', 'custom'],
      'nav.': ['post', 'history', 'system'],
      'act.kind.': ['decision', 'user', 'mqtt', 'system', 'flow'],
      'act.cmd.': ['open', 'hold', 'release', 'close', 'restart-close', 'restart-hold', 'alarm'],
    };
    const missing: string[] = [];
    for (const k of used) {
      const keys = k.endsWith('*') ? (dynamic[k.slice(0, -1)] ?? ['?']).map((v) => k.slice(0, -1) + v) : [k];
      for (const key of keys) if (!(key in ru) || !(key in en)) missing.push(key);
    }
    expect(missing).toEqual([]);
    expect(used.size).toBeGreaterThan(50);
  });
});
