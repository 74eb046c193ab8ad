#!/usr/bin/env node
/**
 * Generates flows/dashboard.json — the Dashboard 2.0 tab of the shipped flows — from the sources
 * under dashboard/:
 *   dashboard/*.vue      one ui-template each (the <template>/<script>/<style> the node holds)
 *   dashboard/i18n.js    \ concatenated into the ui-template "gatepost: shared" (scope: every page),
 *   dashboard/shared.js  / which creates window.gatepost once per browser tab, with the live
 *                          stream's event names of src/core/live-events.json (the one list)
 *   dashboard/gatepost.css  the ui-template "gatepost: styles" (scope: CSS on all pages)
 *
 *   node scripts/build-dashboard-flow.js          write flows/dashboard.json
 *   node scripts/build-dashboard-flow.js --check  exit 1 when flows/dashboard.json is out of date
 *
 * Node ids are derived from stable keys, so regenerating gives the same ids (and an installed
 * flow keeps its identity across upgrades). Editor positions (x, y) are laid out here too.
 */
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const root = path.resolve(__dirname, '..');
const dashDir = path.join(root, 'dashboard');
const outFile = path.join(root, 'flows', 'dashboard.json');

/** A stable 16-hex-digit Node-RED id for a key. */
function nid(key) {
  return crypto.createHash('sha1').update('gatepost-dashboard:' + key).digest('hex').slice(0, 16);
}

const BREAKPOINTS = [
  { name: 'Default', px: '0', cols: '3' },
  { name: 'Tablet', px: '576', cols: '6' },
  { name: 'Desktop', px: '1024', cols: '12' },
];

/** Pages, their groups (width in grid columns of 12) and the widget of each group. */
const PAGES = [
  {
    key: 'post',
    name: 'Пост',
    path: '/post',
    icon: 'boom-gate',
    groups: [
      { key: 'post-search', name: 'Поиск пропуска', width: 4, widget: 'post-search.vue' },
      { key: 'post-feed', name: 'Проезды', width: 4, widget: 'post-feed.vue' },
      { key: 'post-passes', name: 'Временные пропуска', width: 4, widget: 'post-passes.vue' },
      { key: 'post-gates', name: 'Шлагбаумы и двери', width: 8, widget: 'post-gates.vue' },
      { key: 'post-eposelok', name: 'E-Poselok', width: 4, widget: 'post-eposelok.vue' },
    ],
  },
  {
    key: 'history',
    name: 'Журнал',
    path: '/history',
    icon: 'history',
    groups: [
      { key: 'history-events', name: 'Журнал проездов', width: 12, widget: 'history-events.vue' },
      { key: 'history-actions', name: 'Действия с воротами', width: 12, widget: 'history-actions.vue' },
    ],
  },
  {
    key: 'system',
    name: 'Система',
    path: '/system',
    icon: 'cog',
    groups: [
      { key: 'system-status', name: 'Система', width: 12, widget: 'system-status.vue' },
      { key: 'system-doctor', name: 'Проверка (gatepost doctor)', width: 12, widget: 'system-doctor.vue' },
      { key: 'system-alerts', name: 'Оповещения', width: 12, widget: 'system-alerts.vue' },
    ],
  },
  {
    key: 'syslog',
    name: 'Журнал системы',
    path: '/syslog',
    icon: 'text-box-search-outline',
    groups: [{ key: 'system-log', name: 'Журнал системы', width: 12, widget: 'system-log.vue' }],
  },
  {
    key: 'access',
    name: 'Доступ',
    path: '/access',
    icon: 'door',
    groups: [
      { key: 'access-feed', name: 'Журнал доступа', width: 12, widget: 'access-feed.vue' },
      { key: 'access-presence', name: 'Кто где', width: 12, widget: 'access-presence.vue' },
      { key: 'access-worktime', name: 'Рабочее время', width: 12, widget: 'access-worktime.vue' },
    ],
  },
  {
    key: 'people',
    name: 'Люди',
    path: '/people',
    icon: 'account-group',
    groups: [
      { key: 'people', name: 'Люди', width: 12, widget: 'people.vue' },
      { key: 'people-qr', name: 'Гостевые QR-пропуска', width: 12, widget: 'people-qr.vue' },
    ],
  },
  {
    key: 'cameras',
    name: 'Камеры',
    path: '/cameras',
    icon: 'cctv',
    groups: [
      { key: 'cameras-tiles', name: 'Камеры', width: 12, widget: 'cameras-tiles.vue' },
      { key: 'cameras-ftp', name: 'Выгрузка на FTP', width: 12, widget: 'cameras-ftp.vue' },
    ],
  },
];

function read(name) {
  return fs.readFileSync(path.join(dashDir, name), 'utf8').replace(/\r\n/g, '\n');
}

/** The shared client code: i18n strings, then the gatepost object, created once per tab. */
function sharedTemplate() {
  return [
    '<template>',
    '  <!-- gatepost: shared client code (i18n ru/en, /api fetch helpers, the /api/stream EventSource).',
    '       Generated from dashboard/i18n.js and dashboard/shared.js by scripts/build-dashboard-flow.js. -->',
    '  <span data-testid="gp-shared" hidden></span>',
    '</template>',
    '',
    '<script>',
    read('i18n.js').trim(),
    '',
    read('shared.js').trim(),
    '',
    'var GATEPOST_STREAM_EVENTS = ' + JSON.stringify(JSON.parse(fs.readFileSync(path.join(root, 'src', 'core', 'live-events.json'), 'utf8'))) + ';',
    'if (!window.gatepost) {',
    '  window.gatepost = createGatepost(window, GATEPOST_STRINGS, GATEPOST_STREAM_EVENTS);',
    '  window.gatepost.start();',
    "  window.dispatchEvent(new Event('gatepost-ready'));",
    '}',
    '</script>',
    '',
  ].join('\n');
}

function buildDashboardFlow() {
  const tabId = nid('tab');
  const baseId = nid('ui-base');
  const themeId = nid('ui-theme');
  const nodes = [];

  nodes.push({
    id: tabId,
    type: 'tab',
    label: 'Дашборд / Dashboard',
    disabled: false,
    info:
      'The guard dashboard (Dashboard 2.0 at /dashboard): pages «Пост», «Журнал», «Система».\n\n' +
      'Every widget is a ui-template (a Vue component) that calls /api with fetch and follows /api/stream ' +
      '(Server-Sent Events). Shared client code (i18n, fetch helpers, the event stream) is in the template ' +
      '"gatepost: shared"; shared CSS in "gatepost: styles".\n\n' +
      'Generated from dashboard/*.vue by scripts/build-dashboard-flow.js — edit here to adapt a site, ' +
      'or edit the sources and regenerate.',
    env: [],
  });

  nodes.push({
    id: baseId,
    type: 'ui-base',
    name: 'gatepost',
    path: '/dashboard',
    appIcon: '',
    includeClientData: true,
    acceptsClientConfig: ['ui-notification', 'ui-control'],
    showPathInSidebar: false,
    headerContent: 'none',
    navigationStyle: 'none',
    titleBarStyle: 'fixed',
    // the widgets say it themselves, in the screen's language (a banner with the time of the data
    // shown, greyed widgets, gate buttons disabled): no English "Connection Lost" on top
    showReconnectNotification: false,
    notificationDisplayTime: 1,
    showDisconnectNotification: false,
    allowInstall: false,
  });

  nodes.push({
    id: themeId,
    type: 'ui-theme',
    name: 'gatepost',
    colors: {
      surface: '#1f2937',
      primary: '#1d4ed8',
      bgPage: '#e5e7eb',
      groupBg: '#ffffff',
      groupOutline: '#d1d5db',
    },
    sizes: {
      density: 'default',
      pagePadding: '8px',
      groupGap: '8px',
      groupBorderRadius: '8px',
      widgetGap: '8px',
    },
  });

  const templates = [];
  PAGES.forEach((page, pi) => {
    const pageId = nid('page:' + page.key);
    nodes.push({
      id: pageId,
      type: 'ui-page',
      name: page.name,
      ui: baseId,
      path: page.path,
      icon: page.icon,
      layout: 'grid',
      theme: themeId,
      breakpoints: BREAKPOINTS,
      order: pi + 1,
      className: 'gp-page-' + page.key,
      visible: 'true',
      disabled: 'false',
    });
    page.groups.forEach((g, gi) => {
      const groupId = nid('group:' + g.key);
      nodes.push({
        id: groupId,
        type: 'ui-group',
        name: g.name,
        page: pageId,
        width: String(g.width),
        height: '1',
        order: gi + 1,
        showTitle: false,
        className: 'gp-group-' + g.key,
        visible: 'true',
        disabled: 'false',
        groupType: 'default',
      });
      templates.push({ key: g.key, name: 'gatepost: ' + g.widget.replace(/\.vue$/, ''), scope: 'local', group: groupId, format: read(g.widget) });
    });
  });

  const site = [
    { key: 'styles', name: 'gatepost: styles', scope: 'site:style', format: read('gatepost.css') },
    { key: 'shared', name: 'gatepost: shared', scope: 'widget:ui', format: sharedTemplate() },
    { key: 'topbar', name: 'gatepost: top bar', scope: 'widget:ui', format: read('topbar.vue') },
  ];

  [...site, ...templates].forEach((t, i) => {
    nodes.push({
      id: nid('template:' + t.key),
      type: 'ui-template',
      z: tabId,
      group: t.scope === 'local' ? t.group : '',
      page: '',
      ui: t.scope === 'local' ? '' : baseId,
      name: t.name,
      order: t.scope === 'local' ? 1 : 0,
      width: '0',
      height: '0',
      head: '',
      format: t.format,
      storeOutMessages: true,
      passthru: true,
      resendOnRefresh: true,
      templateScope: t.scope,
      className: '',
      x: 190 + 260 * Math.floor(i / 6),
      y: 60 + 60 * (i % 6),
      wires: [[]],
    });
  });

  return nodes;
}

function render(nodes) {
  return JSON.stringify(nodes, null, 2) + '\n';
}

if (require.main === module) {
  const text = render(buildDashboardFlow());
  if (process.argv.includes('--check')) {
    const current = fs.existsSync(outFile) ? fs.readFileSync(outFile, 'utf8') : '';
    if (current !== text) {
      console.error('flows/dashboard.json is out of date: run node scripts/build-dashboard-flow.js');
      process.exit(1);
    }
    console.log('flows/dashboard.json is up to date');
  } else {
    fs.mkdirSync(path.dirname(outFile), { recursive: true });
    fs.writeFileSync(outFile, text);
    console.log(`wrote ${path.relative(root, outFile)} (${JSON.parse(text).length} nodes)`);
  }
}

module.exports = { buildDashboardFlow, render, nid, PAGES, outFile };
