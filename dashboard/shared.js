/* gatepost dashboard: the client code every widget shares (exactly once per browser tab).
 *
 * scripts/build-dashboard-flow.js puts this file (after i18n.js) into the ui-template
 * "gatepost: shared" (scope: every page). Its script runs when that template mounts and creates
 * `window.gatepost`, then fires the window event `gatepost-ready`. Widgets do:
 *
 *   mounted() { if (window.gatepost) this.init(); else window.addEventListener('gatepost-ready', () => this.init(), { once: true }) }
 *
 * What it offers:
 *  - i18n: gatepost.t(lang, key, params), gatepost.lang, gatepost.setLang('ru' | 'en') (kept in localStorage)
 *  - REST: gatepost.api(path, { method, body }) → parsed JSON; same-origin cookie; a 401 goes to /login;
 *    a failure throws an Error with .status and the server's message
 *  - live updates: ONE EventSource on /api/stream for the whole tab; gatepost.on(name, fn) → off().
 *    names: the stream's events (src/core/live-events.json: event, gate-state, alarm, …),
 *    plus 'lang', 'live' (true/false: stream connected) and 'resync' (the stream came back after a
 *    break: reload what you show, something may have been missed)
 *  - formatting in the post's time zone (from /api/system): time, dateTime, date, validity, durations,
 *    plates shown with Cyrillic letters, bytes
 *  - toast(message, kind): a short notice at the bottom of the screen (aria-live)
 *  - restore(name, defaults) / keep(vm, name, fields): a widget's state across its own re-mounts
 *    (Dashboard 2.0 re-mounts a page's widgets when its socket comes back after a server restart:
 *    a fresh widget showed nothing until its first load answered, and lost what the guard was typing)
 *
 * Plain ES2019 on purpose: Dashboard 2.0 re-generates template scripts with escodegen.
 * Also loaded by the unit tests under Node (module.exports at the end).
 */
function createGatepost(win, strings, streamEvents) {
  var LANG_KEY = 'gatepost.lang';
  // the stream's event names: src/core/live-events.json, put beside this file by scripts/build-dashboard-flow.js
  var STREAM_EVENTS = streamEvents || [];
  var listeners = {};
  var storage = null;
  try {
    storage = win.localStorage || null;
  } catch (e) {
    storage = null;
  }

  var gp = {
    version: 1,
    lang: 'ru',
    live: false,
    user: null,
    system: null,
    timeZone: undefined,
    strings: strings,
  };

  var saved = null;
  try {
    saved = storage ? storage.getItem(LANG_KEY) : null;
  } catch (e) {
    saved = null;
  }
  if (saved === 'ru' || saved === 'en') gp.lang = saved;

  // ---------- state kept across re-mounts ----------
  // data() { return window.gatepost ? window.gatepost.restore('feed', defaults) : defaults } starts from
  // the last instance's values; gatepost.keep(this, 'feed', ['items', …]) (in init) saves those
  // fields whenever they change.
  var kept = {};
  gp.restore = function (name, defaults) {
    var k = kept[name];
    if (k) for (var f in k) defaults[f] = k[f];
    return defaults;
  };
  gp.keep = function (vm, name, fields) {
    var k = (kept[name] = kept[name] || {});
    fields.forEach(function (f) {
      k[f] = vm[f];
      vm.$watch(
        f,
        function (v) {
          k[f] = v;
        },
        { deep: true },
      );
    });
  };

  // ---------- events ----------
  gp.on = function (name, fn) {
    (listeners[name] = listeners[name] || []).push(fn);
    return function off() {
      var list = listeners[name] || [];
      var i = list.indexOf(fn);
      if (i >= 0) list.splice(i, 1);
    };
  };
  gp.emit = function (name, data) {
    var list = (listeners[name] || []).slice();
    for (var i = 0; i < list.length; i++) {
      try {
        list[i](data);
      } catch (err) {
        if (win.console) win.console.error('gatepost: a "' + name + '" listener failed', err);
      }
    }
  };

  // ---------- i18n ----------
  gp.t = function (lang, key, params) {
    var table = strings[lang] || strings.ru;
    var s = table[key];
    if (s === undefined) s = strings.ru[key];
    if (s === undefined) return key;
    if (params) {
      s = s.replace(/\{(\w+)\}/g, function (m, name) {
        var v = params[name];
        return v === undefined || v === null ? '' : String(v);
      });
    }
    return s;
  };
  gp.setLang = function (lang) {
    if (lang !== 'ru' && lang !== 'en') return;
    gp.lang = lang;
    try {
      if (storage) storage.setItem(LANG_KEY, lang);
    } catch (e) {
      /* private mode: the choice lasts for this tab only */
    }
    if (win.document && win.document.documentElement) win.document.documentElement.lang = lang;
    gp.showOffline();
    gp.emit('lang', lang);
  };

  // ---------- REST ----------
  gp.loginUrl = function () {
    var loc = win.location || { pathname: '/dashboard', search: '' };
    return '/login?next=' + encodeURIComponent((loc.pathname || '/dashboard') + (loc.search || ''));
  };
  gp.api = function (path, opts) {
    opts = opts || {};
    var init = { method: opts.method || 'GET', credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (opts.body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(opts.body);
    }
    return win.fetch(path, init).then(
      function (res) {
        if (res.status === 401) {
          win.location.assign(gp.loginUrl());
          var e401 = new Error(gp.t(gp.lang, 'err.http', { status: 401 }));
          e401.status = 401;
          throw e401;
        }
        var type = (res.headers && res.headers.get('content-type')) || '';
        var body = type.indexOf('json') >= 0 ? res.json() : res.text();
        return body.then(function (data) {
          if (!res.ok) {
            var msg = data && typeof data === 'object' && data.error ? String(data.error) : gp.t(gp.lang, 'err.http', { status: res.status });
            var err = new Error(msg);
            err.status = res.status;
            err.body = data;
            throw err;
          }
          return data;
        });
      },
      function () {
        var err = new Error(gp.t(gp.lang, 'err.network'));
        err.status = 0;
        throw err;
      },
    );
  };
  /** '?a=1&b=x' from an object, leaving out empty values */
  gp.query = function (params) {
    var parts = [];
    Object.keys(params).forEach(function (k) {
      var v = params[k];
      if (v === undefined || v === null || v === '') return;
      parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(String(v)));
    });
    return parts.length ? '?' + parts.join('&') : '';
  };

  // ---------- live stream ----------
  // ONE EventSource per tab. When it breaks (the server stopped, the network went away) the page keeps
  // what it shows, greyed, under a banner with the time of that data (gp.offlineSince); the server
  // is asked once a second whether it is back (/api/me — a lapsed session goes to the login page),
  // and the stream is opened again at once: a page is live again about a second after the server is.
  var source = null;
  var retryTimer = null;
  var everOpened = false;
  var RETRY_MS = 1000;
  gp.offlineSince = null;
  function setLive(v) {
    if (gp.live === v) return;
    gp.live = v;
    if (!v && everOpened && !gp.offlineSince) gp.offlineSince = Date.now();
    if (v) gp.offlineSince = null;
    gp.showOffline();
    gp.emit('live', v);
  }
  function retryLater() {
    if (retryTimer) return;
    retryTimer = win.setTimeout(function () {
      retryTimer = null;
      gp.api('/api/me').then(
        function () {
          gp.connect();
        },
        function (err) {
          if (err && err.status === 401) return; // on the way to the login page
          retryLater();
        },
      );
    }, RETRY_MS);
  }
  gp.connect = function () {
    if (!win.EventSource || source) return;
    var es = new win.EventSource('/api/stream', { withCredentials: true });
    source = es;
    es.onopen = function () {
      var again = everOpened;
      everOpened = true;
      setLive(true);
      if (again) gp.emit('resync');
    };
    es.onerror = function () {
      // the browser's own retry waits seconds and says nothing: take over
      es.close();
      if (source === es) source = null;
      setLive(false);
      retryLater();
    };
    STREAM_EVENTS.forEach(function (name) {
      es.addEventListener(name, function (ev) {
        var data = null;
        try {
          data = JSON.parse(ev.data);
        } catch (e) {
          return;
        }
        gp.emit(name, data);
      });
    });
  };
  /** the page-wide «no connection» state: the html class greys the widgets; the banner says since when */
  var offlineBanner = null;
  gp.showOffline = function () {
    var doc = win.document;
    if (!doc || !doc.body) return;
    var off = !gp.live && !!gp.offlineSince;
    if (doc.documentElement && doc.documentElement.classList) doc.documentElement.classList.toggle('gp-offline', off);
    if (!off) {
      if (offlineBanner && offlineBanner.parentNode) offlineBanner.parentNode.removeChild(offlineBanner);
      return;
    }
    if (!offlineBanner) {
      offlineBanner = doc.createElement('div');
      offlineBanner.className = 'gp-offline-banner';
      offlineBanner.setAttribute('role', 'alert');
      offlineBanner.setAttribute('data-testid', 'gp-offline-banner');
    }
    offlineBanner.textContent = gp.t(gp.lang, 'top.offlineBanner', { time: gp.time(gp.lang, gp.offlineSince) });
    if (!offlineBanner.isConnected) doc.body.appendChild(offlineBanner);
  };

  // ---------- formatting ----------
  var fmtCache = {};
  function locale(lang) {
    return lang === 'en' ? 'en-GB' : 'ru-RU';
  }
  function formatter(lang, kind) {
    var key = lang + '|' + kind + '|' + (gp.timeZone || '');
    if (fmtCache[key]) return fmtCache[key];
    var o = { timeZone: gp.timeZone, hourCycle: 'h23' };
    if (kind === 'time') {
      o.hour = '2-digit';
      o.minute = '2-digit';
      o.second = '2-digit';
    } else if (kind === 'hm') {
      o.hour = '2-digit';
      o.minute = '2-digit';
    } else if (kind === 'date') {
      o.day = '2-digit';
      o.month = '2-digit';
      o.year = 'numeric';
    } else if (kind === 'daymonth') {
      o.day = '2-digit';
      o.month = '2-digit';
    } else if (kind === 'iso') {
      o.year = 'numeric';
      o.month = '2-digit';
      o.day = '2-digit';
    }
    var f;
    try {
      f = new Intl.DateTimeFormat(kind === 'iso' ? 'en-CA' : locale(lang), o);
    } catch (e) {
      delete o.timeZone;
      f = new Intl.DateTimeFormat(kind === 'iso' ? 'en-CA' : locale(lang), o);
    }
    fmtCache[key] = f;
    return f;
  }
  function valid(ts) {
    return typeof ts === 'number' && isFinite(ts);
  }
  gp.time = function (lang, ts) {
    return valid(ts) ? formatter(lang, 'time').format(ts) : '';
  };
  gp.hm = function (lang, ts) {
    return valid(ts) ? formatter(lang, 'hm').format(ts) : '';
  };
  gp.date = function (lang, ts) {
    return valid(ts) ? formatter(lang, 'date').format(ts) : '';
  };
  /** YYYY-MM-DD of ts in the post's time zone (for <input type=date>) */
  gp.isoDate = function (ts) {
    return valid(ts) ? formatter('en', 'iso').format(ts) : '';
  };
  /** 'дд.мм.гггг' (also дд/мм/гггг, дд.мм.гг, гггг-мм-дд) typed by a guard → 'YYYY-MM-DD', or '' */
  gp.parseDate = function (text) {
    var s = String(text || '').trim();
    var m = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(s);
    var y, mo, d;
    if (m) {
      y = +m[1];
      mo = +m[2];
      d = +m[3];
    } else {
      m = /^(\d{1,2})[./\-\s](\d{1,2})[./\-\s](\d{2}|\d{4})$/.exec(s);
      if (!m) return '';
      d = +m[1];
      mo = +m[2];
      y = m[3].length === 2 ? 2000 + +m[3] : +m[3];
    }
    var dt = new Date(Date.UTC(y, mo - 1, d));
    if (dt.getUTCFullYear() !== y || dt.getUTCMonth() !== mo - 1 || dt.getUTCDate() !== d) return '';
    return y + '-' + (mo < 10 ? '0' : '') + mo + '-' + (d < 10 ? '0' : '') + d;
  };
  /** 'YYYY-MM-DD' → 'дд.мм.гггг' (the site's format on both screens) */
  gp.showDate = function (iso) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(iso || ''));
    return m ? m[3] + '.' + m[2] + '.' + m[1] : '';
  };
  gp.sameDay = function (a, b) {
    return gp.isoDate(a) === gp.isoDate(b);
  };
  /** '14:03:12' today, '21.11 14:03' another day */
  gp.dateTime = function (lang, ts, now) {
    if (!valid(ts)) return '';
    now = now || Date.now();
    if (gp.sameDay(ts, now)) return formatter(lang, 'time').format(ts);
    return formatter(lang, 'daymonth').format(ts) + ' ' + formatter(lang, 'hm').format(ts);
  };
  /** when a pass ends: 'до 23:59' today, 'до 25.11 23:59' later, 'постоянный' when it does not */
  gp.validity = function (lang, validTo, now) {
    if (!valid(validTo)) return gp.t(lang, 'search.permanent');
    now = now || Date.now();
    var when = gp.sameDay(validTo, now)
      ? formatter(lang, 'hm').format(validTo)
      : formatter(lang, 'daymonth').format(validTo) + ' ' + formatter(lang, 'hm').format(validTo);
    return gp.t(lang, 'search.until', { date: when });
  };
  gp.duration = function (lang, seconds) {
    var s = Math.max(0, Math.floor(seconds || 0));
    var d = Math.floor(s / 86400);
    var h = Math.floor((s % 86400) / 3600);
    var m = Math.floor((s % 3600) / 60);
    if (d > 0) return gp.t(lang, 'dur.d', { n: d }) + ' ' + gp.t(lang, 'dur.h', { n: h });
    if (h > 0) return gp.t(lang, 'dur.h', { n: h }) + ' ' + gp.t(lang, 'dur.m', { n: m });
    if (m > 0) return gp.t(lang, 'dur.m', { n: m });
    return gp.t(lang, 'dur.s', { n: s % 60 });
  };
  gp.ago = function (lang, ts, now) {
    if (!valid(ts)) return '';
    var s = ((now || Date.now()) - ts) / 1000;
    if (s < 45) return gp.t(lang, 'rel.justNow');
    return gp.t(lang, 'rel.ago', { d: gp.duration(lang, s) });
  };
  // ---------- decision reasons ----------
  // Reasons are recorded in English (src/core/decision.ts, plate-checker, lpr-input); the Russian
  // screen shows them in Russian. Unknown texts are shown as they are.
  var HOW_RU = { exact: 'точно', 'ignore-region': 'без региона', digits: 'по цифрам' };
  function howRu(how) {
    var m = /^edit-distance (\d+)$/.exec(how);
    return m ? 'с ошибкой в ' + m[1] + ' симв.' : HOW_RU[how] || how;
  }
  // an exact match says nothing to a guard: only the inexact ones are spelled out
  function how(h) {
    return h === 'exact' ? '' : ' (' + howRu(h) + ')';
  }
  // a technical tail (timeouts, sockets) in words, when it is a known kind
  function detail(t) {
    if (!t) return '';
    var d = gp.deviceError('ru', 'E-Poselok ' + t);
    return d.known ? ' (' + d.text + ')' : ': ' + t;
  }
  var REASONS_RU = [
    [/^E-Poselok list ?(\S*) \((.+)\)$/, function (m) { return 'список E-Poselok' + (m[1] ? ' ' + gp.listName(m[1]) : '') + how(m[2]); }],
    [/^temporary pass by digits (\d+) \((.+)\)$/, function (m) { return 'временный пропуск по цифрам ' + m[1]; }],
    [/^temporary pass \((.+)\)$/, function (m) { return 'временный пропуск' + how(m[1]); }],
    [/^E-Poselok online check allowed$/, function () { return 'E-Poselok разрешил (онлайн-проверка)'; }],
    [/^no pass \(E-Poselok online check denied\)$/, function () { return 'пропуска нет (E-Poselok отказал)'; }],
    [/^no pass \(no online check configured\)$/, function () { return 'пропуска нет (онлайн-проверка не настроена)'; }],
    [/^no local pass; online check skipped(?:: (.*))?$/, function (m) { return 'пропуска нет; онлайн-проверка пропущена' + detail(m[1]); }],
    [/^no local pass; E-Poselok unavailable(?:: (.*))?$/, function (m) { return 'пропуска нет; E-Poselok недоступен' + detail(m[1]); }],
    [/^repeat read within (\d+) s$/, function (m) { return 'повторное чтение за ' + m[1] + ' с'; }],
    [/^fallback: (.*)$/, function (m) { return 'резервный путь, пока сервер был недоступен: ' + m[1]; }],
    [/^unknown camera "(.*)"$/, function (m) { return 'неизвестная камера «' + m[1] + '»'; }],
    [/^empty input$/, function () { return 'пустое сообщение'; }],
    [/^binary input/, function () { return 'двоичные данные вместо номера'; }],
    [/^input over (\d+) KB$/, function (m) { return 'сообщение больше ' + m[1] + ' КБ'; }],
    [/^invalid JSON/, function () { return 'неверный JSON'; }],
    [/^wrong type/, function () { return 'неверный тип данных'; }],
    [/^not a plate: (.*)$/, function (m) { return 'не номер: ' + m[1]; }],
    // an iVMS-4200 access log row (src/services/access-log-service.ts): 'ivms <source> #<serialNo>' + notes
    [/^ivms \S+ #(\d+)(.*)$/, function (m) {
      return 'журнал доступа, запись ' + m[1] + (/no time in the row/.test(m[2]) ? ' (без времени: время приёма)' : '') + (/direction "(.*)" not mapped/.test(m[2]) ? ' (направление «' + /direction "(.*)" not mapped/.exec(m[2])[1] + '» не сопоставлено)' : '');
    }],
  ];
  /** E-Poselok's list ids ('AllowedList1') as a guard says them: '1' */
  gp.listName = function (name) {
    var m = /^AllowedList(\d+)$/i.exec(String(name || ''));
    return m ? m[1] : String(name || '');
  };
  gp.reason = function (lang, reason) {
    var r = reason == null ? '' : String(reason);
    if (lang !== 'ru' || !r) return r;
    for (var i = 0; i < REASONS_RU.length; i++) {
      var m = REASONS_RU[i][0].exec(r);
      if (m) return REASONS_RU[i][1](m);
    }
    return r;
  };
  // ---------- errors in words ----------
  // The API and the devices answer in English (logs, integrators); the guard reads words. Known
  // texts are put in the screen's language; the technical text stays available behind a tap.
  var ERRORS_RU = [
    [/^digits must be exactly 3 digits/, 'по цифрам выдаётся только на три цифры (например 123)'],
    [/is not a plate/, 'это не номер: введите номер целиком (А123ВС77) или три цифры'],
    [/^a temporary pass needs a plate or digits$/, 'введите номер или три цифры'],
    [/^give either a plate or digits/, 'введите либо номер, либо цифры'],
    [/^(from|to) is not a valid time$/, 'неверная дата (дд.мм.гггг)'],
    [/^the validity window ends before it starts$/, 'дата окончания раньше даты начала'],
    [/^the validity window is already over$/, 'этот срок уже прошёл'],
    [/^the validity window is longer than (\d+) days$/, 'срок больше {1} суток'],
    [/^days must be a whole number/, 'неверное число суток'],
    [/^the new end is before/, 'новый срок раньше начала или уже прошёл'],
    [/(house|note) is longer than (\d+) characters$/, 'слишком длинный текст (не больше {2} знаков)'],
    [/^unknown gate/, 'таких ворот нет'],
    [/^the editor is for the admin only$/, 'редактор — только для администратора'],
  ];
  function fill(tpl, m) {
    return tpl.replace(/\{(\d)\}/g, function (x, i) {
      return m[+i] || '';
    });
  }
  /** a server's error message in the screen's language (unknown ones as they are) */
  gp.errorText = function (lang, message) {
    var msg = message == null ? '' : String(message);
    if (lang !== 'ru') return msg;
    for (var i = 0; i < ERRORS_RU.length; i++) {
      var m = ERRORS_RU[i][0].exec(msg);
      if (m) return fill(ERRORS_RU[i][1], m);
    }
    var d = gp.deviceError(lang, msg);
    return d.known ? d.text : msg;
  };
  /** A device's error (relay, intercom, E-Poselok) as words a guard understands:
   *  { text: 'неверный пароль реле', tech: the original text, known: true|false } */
  gp.deviceError = function (lang, message) {
    var msg = message == null ? '' : String(message);
    // the device is named first ('CL-Gate GET …', 'Sokol PUT …/relay'): look at the head of the text
    var head = msg.split(/[:\s]/)[0];
    var dev = /sokol|intercom|door/i.test(head) ? 'intercom' : /CL-Gate|relay|реле/i.test(head) ? 'relay' : /e-?poselok/i.test(head) ? 'eposelok' : /sokol|intercom/i.test(msg) ? 'intercom' : /CL-Gate|relay/i.test(msg) ? 'relay' : /e-?poselok/i.test(msg) ? 'eposelok' : 'device';
    var kind = null;
    if (/token|credential|password|unauthori[sz]ed|forbidden|HTTP 40[13]\b/i.test(msg)) kind = 'auth';
    else if (/timeout|timed out|ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|socket hang up|network|unreachable/i.test(msg)) kind = 'down';
    else if (/HTTP 5\d\d/.test(msg)) kind = 'fail';
    else if (/HTTP \d{3}|invalid|protocol|unexpected/i.test(msg)) kind = 'answer';
    if (!kind) return { text: msg, tech: msg, known: false };
    return { text: gp.t(lang, 'dev.' + kind + '.' + dev), tech: msg, known: true };
  };

  gp.bytes = function (n) {
    if (!(n >= 0)) return '';
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i++;
    }
    return (i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i];
  };

  // ---------- plates ----------
  var LAT = 'ABEKMHOPCTYX';
  var CYR = 'АВЕКМНОРСТУХ';
  var L = '[' + LAT + ']';
  // the Russian layouts, on the canonical (Latin look-alike) form
  var LAYOUTS = [
    new RegExp('^' + L + '\\d{3}' + L + '{2}\\d{2,3}$'), // standard
    new RegExp('^' + L + '{2}\\d{3}\\d{2,3}$'), // taxi
    new RegExp('^' + L + '{2}\\d{4}\\d{2,3}$'), // trailer
    new RegExp('^\\d{4}' + L + '{2}\\d{2,3}$'), // moto
    new RegExp('^' + L + '\\d{4}\\d{2,3}$'), // police
  ];
  /** A canonical plate as the guard reads it: Cyrillic letters ('А123ВС77'), as the server's `display`.
   * Anything that is not a Russian layout (foreign plates) is shown as it is. */
  gp.plate = function (canonical) {
    if (!canonical) return '';
    var s = String(canonical).toUpperCase();
    var russian = LAYOUTS.some(function (re) {
      return re.test(s);
    });
    if (!russian) return s;
    return s
      .split('')
      .map(function (c) {
        var k = LAT.indexOf(c);
        return k >= 0 ? CYR.charAt(k) : c;
      })
      .join('');
  };
  /** digits only (a guard typing '123') */
  gp.isDigits = function (s) {
    return /^\d{1,4}$/.test(String(s || '').trim());
  };

  // ---------- misc ----------
  gp.debounce = function (fn, ms) {
    var timer = null;
    var d = function () {
      var args = arguments;
      var self = this;
      if (timer) win.clearTimeout(timer);
      timer = win.setTimeout(function () {
        timer = null;
        fn.apply(self, args);
      }, ms);
    };
    d.cancel = function () {
      if (timer) win.clearTimeout(timer);
      timer = null;
    };
    return d;
  };

  // ---------- toasts ----------
  // Short notices never cover the gate buttons: the box goes to the first corner of the screen
  // where it overlaps no gate tile (bottom right, top right, bottom left, top left).
  var toastBox = null;
  var SPOTS = ['br', 'tr', 'bl', 'tl'];
  function overlaps(a, b) {
    return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  }
  gp.placeToasts = function () {
    var doc = win.document;
    if (!toastBox || !toastBox.isConnected || !doc.querySelectorAll) return;
    var keep = Array.prototype.slice.call(doc.querySelectorAll('.gp-gate, [data-gp-keep-clear]')).map(function (el) {
      return el.getBoundingClientRect();
    });
    for (var i = 0; i < SPOTS.length; i++) {
      toastBox.setAttribute('data-spot', SPOTS[i]);
      var r = toastBox.getBoundingClientRect();
      if (!keep.some(function (k) {
        return overlaps(r, k);
      })) return;
    }
    // nowhere free (a phone scrolled to the tiles): the top, above them, and only briefly
    toastBox.setAttribute('data-spot', 'tl');
  };
  gp.toast = function (message, kind) {
    var doc = win.document;
    if (!doc || !doc.body) return;
    if (!toastBox || !toastBox.isConnected) {
      toastBox = doc.createElement('div');
      toastBox.className = 'gp-toasts';
      toastBox.setAttribute('aria-live', 'polite');
      toastBox.setAttribute('data-testid', 'gp-toasts');
      doc.body.appendChild(toastBox);
    }
    var el = doc.createElement('div');
    el.className = 'gp-toast gp-toast--' + (kind || 'info');
    el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    el.setAttribute('data-testid', 'gp-toast');
    el.textContent = message;
    toastBox.appendChild(el);
    gp.placeToasts();
    win.setTimeout(
      function () {
        if (el.parentNode) el.parentNode.removeChild(el);
      },
      kind === 'error' ? 8000 : 4000,
    );
  };

  // ---------- attention: sound ----------
  // A refused car or a gate fault beeps (Web Audio, no file). On by default; the choice is kept per
  // device (localStorage). Browsers only let a page sound after a tap: the first tap unlocks it.
  var SOUND_KEY = 'gatepost.sound';
  var audio = null;
  gp.sound = true;
  try {
    if (storage && storage.getItem(SOUND_KEY) === 'off') gp.sound = false;
  } catch (e) {
    /* default on */
  }
  /** how many alert sounds were started (what a test can see of a sound) */
  gp.beeps = 0;
  gp.setSound = function (on) {
    gp.sound = !!on;
    try {
      if (storage) storage.setItem(SOUND_KEY, gp.sound ? 'on' : 'off');
    } catch (e) {
      /* this tab only */
    }
    gp.emit('sound', gp.sound);
  };
  function audioCtx() {
    if (audio) return audio;
    var AC = win.AudioContext || win.webkitAudioContext;
    if (!AC) return null;
    try {
      audio = new AC();
    } catch (e) {
      audio = null;
    }
    return audio;
  }
  gp.unlockSound = function () {
    var ctx = audioCtx();
    if (ctx && ctx.state === 'suspended' && ctx.resume) ctx.resume().catch(function () {});
  };
  /** kind 'refused': two short low tones; 'fault': three high ones */
  gp.beep = function (kind) {
    if (!gp.sound) return false;
    gp.beeps++;
    var ctx = audioCtx();
    if (!ctx) return true;
    try {
      var n = kind === 'fault' ? 3 : 2;
      var f = kind === 'fault' ? 1320 : 660;
      for (var i = 0; i < n; i++) {
        var t0 = ctx.currentTime + i * 0.22;
        var o = ctx.createOscillator();
        var g = ctx.createGain();
        o.type = 'square';
        o.frequency.value = f;
        g.gain.setValueAtTime(0.0001, t0);
        g.gain.exponentialRampToValueAtTime(0.25, t0 + 0.01);
        g.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.16);
        o.connect(g);
        g.connect(ctx.destination);
        o.start(t0);
        o.stop(t0 + 0.18);
      }
    } catch (e) {
      /* no sound device: the highlight stays */
    }
    return true;
  };

  /** First data: who is logged in and the system facts (time zone, demo). */
  gp.start = function () {
    if (win.document && win.document.documentElement) win.document.documentElement.lang = gp.lang;
    if (win.addEventListener) {
      win.addEventListener('pointerdown', gp.unlockSound, { passive: true });
      win.addEventListener('keydown', gp.unlockSound);
      win.addEventListener('resize', gp.placeToasts);
    }
    gp.connect();
    gp.api('/api/me').then(
      function (me) {
        gp.user = me && me.username ? me.username : null;
        gp.admin = !!(me && me.admin);
        gp.emit('user', gp.user);
      },
      function () {},
    );
    gp.refreshSystem().catch(function () {});
  };
  gp.refreshSystem = function () {
    return gp.api('/api/system').then(
      function (sys) {
        gp.system = sys;
        var tzChanged = !!(sys && sys.timezone && sys.timezone !== gp.timeZone);
        if (tzChanged) {
          gp.timeZone = sys.timezone;
          fmtCache = {};
        }
        gp.emit('system', sys);
        // widgets that rendered times before the site's time zone was known render them again
        if (tzChanged) gp.emit('resync');
        return sys;
      },
      function (err) {
        gp.emit('system-error', err);
        throw err;
      },
    );
  };

  return gp;
}
if (typeof module !== 'undefined' && module.exports) module.exports = { createGatepost: createGatepost };
