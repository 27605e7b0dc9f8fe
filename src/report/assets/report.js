// sendpath report: draws what the C++ side wrote into #sp-data. The data is
// already decimated (see src/report/lod.hpp): for the visible time range the
// page picks the coarsest level whose buckets fit a pixel column, or the raw
// points once few enough are in view. Charts are uPlot; the time-sequence
// graph and the state bands draw their items in uPlot's draw hook.
//
// #sp-status ends up holding JSON (errors, and per chart what it drew) and
// data-ready="1" once every chart has drawn: the browser test reads it.
(function () {
  'use strict';

  const status = { ready: false, errors: [], charts: {} };
  const statusEl = document.getElementById('sp-status');
  function publish() {
    statusEl.textContent = JSON.stringify(status);
    statusEl.dataset.ready = status.ready ? '1' : '0';
    statusEl.dataset.errors = String(status.errors.length);
  }
  window.addEventListener('error', (e) => {
    status.errors.push(String(e.message || e.error || e));
    publish();
  });
  window.addEventListener('unhandledrejection', (e) => {
    status.errors.push('unhandled rejection: ' + String(e.reason));
    publish();
  });

  const COLORS = {
    seg: '#1f4e9c', rtx: '#d62728', ack: '#2ca02c', rwnd: '#c49a00', sack: '#9467bd',
    dup: '#ff7f0e', mark: '#333333',
  };
  const CONG_COLORS = ['#c7e9c0', '#ffe08a', '#9ecae1', '#fdae6b', '#e6550d'];
  const LIMIT_COLORS = ['#e5e5e5', '#74c476', '#6baed6', '#fd8d3c'];
  // cwnd, rwnd, nagle, tso_defer, tsq, pacing, empty, push_one, mtu_probe, error
  const STOP_COLORS = ['#31a354', '#3182bd', '#9e9ac8', '#bcbddc', '#fdd0a2', '#e6550d', '#d9d9d9',
    '#a1d99b', '#fa9fb5', '#000000'];
  const EVENT_COLORS = {
    fast_retransmit: '#d62728', rack: '#9467bd', tlp: '#17becf', rto: '#000000', undo: '#2ca02c',
  };
  const LIMIT_LABELS = {
    none: 'none (application)', busy: 'busy (cwnd)', rwnd_limited: 'rwnd', sndbuf_limited: 'sndbuf',
  };

  // ---- data decoding (see src/report/lod.hpp: packed columns) ----
  function bytes(b64) {
    const s = atob(b64);
    const u = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) u[i] = s.charCodeAt(i);
    return u;
  }
  const cache = new WeakMap();
  // {"s":scale,"n":count,"d":base64 of LEB128 varints of zigzagged deltas
  // (+1; 0 is a gap)} -> Float64Array of the values (NaN for gaps).
  function f64(col) {
    let v = cache.get(col);
    if (v) return v;
    const b = bytes(col.d);
    v = new Float64Array(col.n);
    let pos = 0, prev = 0;
    for (let i = 0; i < col.n; i++) {
      let code = 0, mul = 1, byte;
      do {
        byte = b[pos++];
        code += (byte & 0x7f) * mul;
        mul *= 128;
      } while (byte & 0x80);
      if (code === 0) {
        v[i] = NaN;
        continue;
      }
      code -= 1;
      const d = code % 2 === 0 ? code / 2 : -(code + 1) / 2;
      prev += d;
      v[i] = col.s === 1 ? prev : prev / col.s;
    }
    cache.set(col, v);
    return v;
  }
  const u8cache = new Map();
  function u8(b64) {
    if (b64 == null) return null;
    let v = u8cache.get(b64);
    if (!v) {
      v = bytes(b64);
      u8cache.set(b64, v);
    }
    return v;
  }
  // First index with arr[i] >= x.
  function lowerBound(arr, x) {
    let lo = 0, hi = arr.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (arr[mid] < x) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  // The level of detail for [a, b] over px pixels: raw when at most ~3
  // points per pixel are in view, else the coarsest level whose bucket
  // width fits a pixel.
  function pickLevel(series, tkey, a, b, px) {
    const rawT = f64(series.raw[tkey]);
    const i0 = lowerBound(rawT, a), i1 = lowerBound(rawT, b + 1e-12);
    const need = (b - a) / Math.max(1, px);
    if (i1 - i0 <= 3 * px || !series.levels.length) return { lv: series.raw, raw: true, w: 0 };
    for (const lv of series.levels) {
      if (lv.w <= need) return { lv, raw: false, w: lv.w };
    }
    return { lv: series.raw, raw: true, w: 0 };
  }

  function pickItems(series, a, b, px) {
    const p = pickLevel(series, 't', a, b, px);
    const t = f64(p.lv.t);
    const i0 = lowerBound(t, a - p.w), i1 = lowerBound(t, b + 1e-12);
    const lo = f64(p.lv.lo);
    return { t, lo, hi: p.lv.hi ? f64(p.lv.hi) : lo, k: u8(p.lv.k), i0, i1, raw: p.raw, w: p.w };
  }

  function pickBand(band, a, b, px) {
    const p = pickLevel(band, 't0', a, b, px);
    const t0 = f64(p.lv.t0), t1 = f64(p.lv.t1);
    // Runs are in time order and do not overlap: the first ending after a.
    const i0 = lowerBound(t1, a), i1 = lowerBound(t0, b + 1e-12);
    return { t0, t1, k: u8(p.lv.k), i0, i1, raw: p.raw };
  }

  // uPlot aligned data for a table's columns over [a, b]: raw samples, or
  // per bucket its minimum then its maximum.
  function tableData(table, cols, a, b, px) {
    const p = pickLevel(table, 't', a, b, px);
    const t = f64(p.lv.t);
    const i0 = Math.max(0, lowerBound(t, a - p.w) - 1), i1 = Math.min(t.length, lowerBound(t, b) + 1);
    const n = Math.max(0, i1 - i0);
    const nn = (v) => (Number.isFinite(v) ? v : null);
    if (p.raw) {
      const xs = Array.from(t.subarray(i0, i1));
      const ys = cols.map((c) => {
        const v = f64(table.raw.v[c]);
        const out = new Array(n);
        for (let i = 0; i < n; i++) out[i] = nn(v[i0 + i]);
        return out;
      });
      return [xs, ...ys];
    }
    const xs = new Array(2 * n);
    for (let i = 0; i < n; i++) {
      xs[2 * i] = t[i0 + i];
      xs[2 * i + 1] = t[i0 + i] + p.w * 0.999;
    }
    const ys = cols.map((c) => {
      const lo = f64(p.lv.lo[c]), hi = f64(p.lv.hi[c]);
      const out = new Array(2 * n);
      for (let i = 0; i < n; i++) {
        out[2 * i] = nn(lo[i0 + i]);
        out[2 * i + 1] = nn(hi[i0 + i]);
      }
      return out;
    });
    return [xs, ...ys];
  }

  // ---- formatting ----
  // 3 significant digits at most, trailing zeros dropped: 275 MB, 2.5 MB.
  function fmtBytes(v) {
    const a = Math.abs(v);
    const f = (x, unit) => String(+x.toPrecision(3)) + ' ' + unit;
    if (a >= 1e9) return f(v / 1e9, 'GB');
    if (a >= 1e6) return f(v / 1e6, 'MB');
    if (a >= 1e3) return f(v / 1e3, 'kB');
    return String(Math.round(v));
  }
  // Tick labels with as many decimals as the tick spacing needs.
  function decimalsFor(incr) {
    const s = String(+incr.toPrecision(6));  // 0.25 -> 2, 0.0001 -> 4, 5 -> 0
    const dot = s.indexOf('.');
    if (s.includes('e')) return Math.min(9, Math.max(0, -Math.floor(Math.log10(incr))));
    return dot < 0 ? 0 : Math.min(9, s.length - dot - 1);
  }
  function timeTicks(u, vals, ax, space, incr) {
    const d = decimalsFor(incr);
    return vals.map((v) => (v == null ? '' : v.toFixed(d)));
  }
  function byteTicks(u, vals, ax, space, incr) {
    const top = Math.max(...vals.map((v) => Math.abs(v ?? 0)));
    const [div, unit] = top >= 1e9 ? [1e9, 'GB'] : top >= 1e6 ? [1e6, 'MB'] : top >= 1e3 ? [1e3, 'kB'] : [1, 'B'];
    const d = decimalsFor(incr / div);
    return vals.map((v) => (v == null ? '' : (v / div).toFixed(d) + ' ' + unit));
  }
  function fmtTime(v) {
    return v == null ? '--' : v.toFixed(6) + ' s';
  }
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v; else e.setAttribute(k, v);
    }
    for (const kid of kids) e.append(kid);
    return e;
  }

  // ---- the shared time axis ----
  const dataEl = document.getElementById('sp-data');
  const DATA = JSON.parse(dataEl.textContent);
  // The data lives on in DATA; dropping the element halves the page's
  // memory and keeps a DOM dump (the browser test's) small.
  dataEl.remove();
  status.parse_ms = Math.round(performance.now());
  const runs = DATA.runs || [];
  const fullSpan = Math.max(1e-6, ...runs.map((r) => r.span || 0));
  const view = { a: 0, b: fullSpan };
  const charts = [];  // {u, refresh()}
  let pendingFirstDraw = 0;

  function setView(a, b) {
    if (!(b > a)) return;
    const w = Math.min(b - a, fullSpan);
    a = Math.max(0, Math.min(a, fullSpan - w));
    view.a = a;
    view.b = a + w;
    for (const c of charts) c.refresh();
  }

  function chartWidth(container) {
    return Math.max(480, Math.floor(container.clientWidth || document.body.clientWidth - 40));
  }

  // Interactions common to every chart: drag to zoom (through setView, so
  // every chart follows), wheel to zoom around the pointer, shift-drag to
  // pan, double-click for the whole run.
  function interactions(u) {
    u.over.addEventListener('wheel', (e) => {
      e.preventDefault();
      const x = u.posToVal(e.offsetX, 'x');
      const f = e.deltaY < 0 ? 0.8 : 1.25;
      setView(x - (x - view.a) * f, x + (view.b - x) * f);
    }, { passive: false });
    u.root.addEventListener('mousedown', (e) => {
      if (!e.shiftKey || e.button !== 0) return;
      e.stopPropagation();
      e.preventDefault();
      const x0 = e.clientX, a0 = view.a, b0 = view.b;
      const perPx = (b0 - a0) / u.over.clientWidth;
      const move = (m) => setView(a0 - (m.clientX - x0) * perPx, b0 - (m.clientX - x0) * perPx);
      const up = () => {
        document.removeEventListener('mousemove', move);
        document.removeEventListener('mouseup', up);
      };
      document.addEventListener('mousemove', move);
      document.addEventListener('mouseup', up);
    }, true);
  }

  function baseOpts(title, width, height, yLabel, yValues) {
    return {
      title, width, height,
      scales: { x: { time: false, auto: false, range: (u, mn, mx) => [view.a, view.b] } },
      axes: [
        { label: 'time (s)', stroke: '#333', grid: { stroke: '#eee' }, ticks: { stroke: '#ccc' }, values: timeTicks },
        {
          label: yLabel, stroke: '#333', grid: { stroke: '#eee' }, ticks: { stroke: '#ccc' },
          size: 80, values: yValues,
        },
      ],
      cursor: {
        sync: { key: 'sp' },
        drag: { x: true, y: false, setScale: false },
        bind: { dblclick: () => () => { setView(0, fullSpan); return null; } },
      },
      hooks: {
        setSelect: [(u) => {
          if (u.select.width > 2) {
            const a = u.posToVal(u.select.left, 'x'), b = u.posToVal(u.select.left + u.select.width, 'x');
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            setView(a, b);
          }
        }],
      },
    };
  }

  function registerChart(id, u, refresh, onDrawn) {
    pendingFirstDraw++;
    let first = true;
    u.hooks.draw = u.hooks.draw || [];
    const chart = { id, u, refresh };
    charts.push(chart);
    interactions(u);
    u.hooks.draw.push(() => {
      if (onDrawn) status.charts[id] = onDrawn();
      if (first) {
        first = false;
        if (--pendingFirstDraw === 0) {
          status.ready = true;
          status.load_ms = Math.round(performance.now());
        }
      }
      publish();
    });
    return chart;
  }

  // ---- time-sequence graph (tcptrace) ----
  function tsgChart(host, run, ri) {
    const tsg = run.tsg;
    const box = el('div', { class: 'chart', id: 'chart-tsg' + ri });
    host.append(box);
    const legendSeries = [
      ['seg', 'data (I-beam seq..end)'], ['rtx', 'retransmission'], ['ack', 'ACK'],
      ['rwnd', 'receive window (ack + win << wscale)'], ['sack', 'SACK block'],
      ['dup', 'duplicate ACK'], ['mark', 'SYN/FIN/RST/PSH'],
    ];
    let picks = {};
    let u = null;
    const drawn = {};
    const pxWidth = () => Math.max(1, u ? u.bbox.width / devicePixelRatio : 800);
    function repick() {
      const px = pxWidth();
      picks = {};
      for (const [key] of legendSeries) picks[key] = pickItems(tsg[key], view.a, view.b, px);
    }
    function yRange() {
      let mn = Infinity, mx = -Infinity;
      for (const key of ['seg', 'rtx', 'ack', 'sack']) {
        const p = picks[key];
        for (let i = p.i0; i < p.i1; i++) {
          if (p.lo[i] < mn) mn = p.lo[i];
          if (p.hi[i] > mx) mx = p.hi[i];
        }
      }
      if (!(mx > mn)) { mn = 0; mx = 1; }
      // The window line is drawn, but may not stretch the view beyond half
      // the data's height.
      const p = picks.rwnd;
      let wmax = -Infinity;
      for (let i = p.i0; i < p.i1; i++) wmax = Math.max(wmax, p.hi[i]);
      const top = Math.min(Math.max(mx, wmax), mx + (mx - mn) * 0.5);
      const pad = (top - mn) * 0.03;
      return [mn - pad, top + pad];
    }
    const opts = baseOpts('Time-sequence graph: ' + tsg.flow, chartWidth(host), 460,
      'relative sequence number (bytes)', byteTicks);
    opts.scales.y = { auto: true, range: () => yRange() };
    opts.series = [{ label: 'time', value: (u, v) => fmtTime(v) }].concat(legendSeries.map(([key, label]) => ({
      label, stroke: COLORS[key], width: 2, value: () => '', points: { show: false },
    })));
    opts.legend = { live: false };
    opts.hooks.draw = [(u) => drawTsg(u)];
    const nulls = legendSeries.map(() => [null, null]);
    repick();
    u = new uPlot(opts, [[0, fullSpan], ...nulls], box);
    repick();

    function drawTsg(u) {
      const ctx = u.ctx;
      const { left, top, width, height } = u.bbox;
      const X = (v) => u.valToPos(v, 'x', true), Y = (v) => u.valToPos(v, 'y', true);
      const dpr = devicePixelRatio;
      ctx.save();
      ctx.beginPath();
      ctx.rect(left, top, width, height);
      ctx.clip();
      const show = (i) => u.series[i + 1].show;
      for (const k of Object.keys(picks)) drawn[k] = 0;
      // Receive window and ACK lines: steps from one ACK to the next.
      const line = (key, si) => {
        if (!show(si)) return;
        const p = picks[key];
        ctx.beginPath();
        ctx.strokeStyle = COLORS[key];
        ctx.lineWidth = 1.5 * dpr;
        let started = false, prevY = 0;
        for (let i = p.i0; i < p.i1; i++) {
          const x = X(p.t[i]);
          const ylo = Y(p.lo[i]), yhi = Y(p.hi[i]);
          if (!started) { ctx.moveTo(x, ylo); started = true; } else ctx.lineTo(x, prevY);
          ctx.lineTo(x, ylo);
          if (yhi !== ylo) ctx.lineTo(x, yhi);
          prevY = yhi;
          drawn[key]++;
        }
        if (started) ctx.lineTo(Math.min(X(view.b), left + width), prevY);
        ctx.stroke();
      };
      line('rwnd', 3);
      line('ack', 2);
      // SACK blocks: thick vertical bars.
      const bars = (key, si, w) => {
        if (!show(si)) return;
        const p = picks[key];
        ctx.beginPath();
        ctx.strokeStyle = COLORS[key];
        ctx.lineWidth = w * dpr;
        for (let i = p.i0; i < p.i1; i++) {
          const x = X(p.t[i]);
          ctx.moveTo(x, Y(p.lo[i]));
          ctx.lineTo(x, Y(p.hi[i]));
          drawn[key]++;
        }
        ctx.stroke();
      };
      bars('sack', 4, 3);
      // I-beams: a vertical from seq to end_seq with serifs when there is
      // room for them.
      const ibeams = (key, si, lw) => {
        if (!show(si)) return;
        const p = picks[key];
        const n = p.i1 - p.i0;
        const serif = n > 0 && width / n > 6 * dpr ? 3 * dpr : 0;
        ctx.beginPath();
        ctx.strokeStyle = COLORS[key];
        ctx.lineWidth = lw * dpr;
        for (let i = p.i0; i < p.i1; i++) {
          const x = X(p.t[i]), y0 = Y(p.lo[i]), y1 = Y(p.hi[i]);
          ctx.moveTo(x, y0);
          ctx.lineTo(x, y1);
          if (serif) {
            ctx.moveTo(x - serif, y0);
            ctx.lineTo(x + serif, y0);
            ctx.moveTo(x - serif, y1);
            ctx.lineTo(x + serif, y1);
          }
          drawn[key]++;
        }
        ctx.stroke();
      };
      ibeams('seg', 0, 1);
      ibeams('rtx', 1, 2);
      // Duplicate ACKs: short horizontal ticks on the ACK line.
      if (show(5)) {
        const p = picks.dup;
        ctx.beginPath();
        ctx.strokeStyle = COLORS.dup;
        ctx.lineWidth = 2 * dpr;
        for (let i = p.i0; i < p.i1; i++) {
          const x = X(p.t[i]), y = Y(p.lo[i]);
          ctx.moveTo(x - 4 * dpr, y + 3 * dpr);
          ctx.lineTo(x + 4 * dpr, y + 3 * dpr);
          drawn.dup++;
        }
        ctx.stroke();
      }
      // Flags: letters, PSH as a small dot unless zoomed in.
      if (show(6)) {
        const p = picks.mark;
        ctx.fillStyle = COLORS.mark;
        ctx.font = `${11 * dpr}px sans-serif`;
        ctx.textAlign = 'center';
        const n = p.i1 - p.i0;
        const roomy = n > 0 && width / n > 14 * dpr;
        for (let i = p.i0; i < p.i1; i++) {
          const x = X(p.t[i]), y = Y(p.hi[i]);
          const k = p.k[i];
          let txt = '';
          if (k & 1) txt += 'S';
          if (k & 2) txt += 'F';
          if (k & 4) txt += 'R';
          if (txt) ctx.fillText(txt, x, y - 6 * dpr);
          if ((k & 8) && !txt) {
            if (roomy) ctx.fillText('P', x, y - 4 * dpr);
            else ctx.fillRect(x - dpr, y - 3 * dpr, 2 * dpr, 2 * dpr);
          }
          drawn.mark++;
        }
      }
      ctx.restore();
    }

    registerChart('tsg' + ri, u, () => {
      repick();
      u.setScale('x', { min: view.a, max: view.b });
    }, () => {
      const p = picks.rtx;
      const out = {
        kind: 'time-sequence', raw: picks.seg.raw, drawn: Object.assign({}, drawn),
        total: Object.fromEntries(legendSeries.map(([k]) => [k, tsg[k].n])),
      };
      if (p.raw) out.rtx_times = Array.from(p.t.subarray(p.i0, p.i1)).slice(0, 2000);
      // What the sender's trace says it retransmitted (tcp:tcp_retransmit_skb).
      if (run.trace) out.trace_rtx_times = run.trace.retransmits.map((r) => r[0]).slice(0, 2000);
      return out;
    });
  }

  // ---- sender state from tcp_probe (uPlot lines) ----
  function lineChart(host, id, title, yLabel, yValues, parts, height) {
    // parts: [{table, cols: [{col, label, color, dash, points, stepped}]}]
    const box = el('div', { class: 'chart', id: 'chart-' + id });
    host.append(box);
    const series = [{ label: 'time', value: (u, v) => fmtTime(v) }];
    const extraScales = new Set();
    for (const part of parts) {
      for (const c of part.cols) {
        if (c.scale) extraScales.add(c.scale);
        series.push({
          label: c.label, stroke: c.color, width: c.width || 1.5, dash: c.dash, scale: c.scale || 'y',
          spanGaps: false,
          paths: c.points ? () => null : (c.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined),
          points: c.points ? { show: true, size: 3, fill: c.color, stroke: c.color } : { show: false },
          value: (u, v) => (v == null ? '--' : (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3))),
        });
      }
    }
    const opts = baseOpts(title, chartWidth(host), height || 240, yLabel, yValues);
    opts.scales.y = { auto: true, range: (u, mn, mx) => [Math.min(0, mn ?? 0), (mx ?? 1) * 1.05 || 1] };
    opts.series = series;
    // A second quantity (RTO beside RTTs) gets its own axis on the right.
    for (const sc of extraScales) {
      opts.scales[sc] = { auto: true, range: (u, mn, mx) => [0, (mx ?? 1) * 1.05 || 1] };
      const col = parts.flatMap((p) => p.cols).find((c) => c.scale === sc);
      opts.axes.push({
        scale: sc, side: 1, label: col.axisLabel || col.label, stroke: col.color,
        grid: { show: false }, ticks: { stroke: '#ccc' }, size: 70,
      });
    }
    let u = null;
    const px = () => Math.max(1, u ? u.bbox.width / devicePixelRatio : 800);
    function build() {
      const tables = parts.map((part) => {
        const idx = part.cols.map((c) => part.table.cols.indexOf(c.col));
        return tableData(part.table, idx, view.a, view.b, px());
      });
      return tables.length === 1 ? tables[0] : uPlot.join(tables);
    }
    u = new uPlot(opts, build(), box);
    registerChart(id, u, () => {
      u.batch(() => {
        u.setData(build(), false);
        u.setScale('x', { min: view.a, max: view.b });
      });
    }, () => {
      const counts = {};
      for (let s = 1; s < u.series.length; s++) {
        let n = 0;
        for (const v of u.data[s]) if (v != null) n++;
        counts[u.series[s].label] = n;
      }
      return { kind: 'lines', points: counts };
    });
  }

  // ---- states as bands, loss events as labelled ticks ----
  function stateChart(host, run, ri) {
    const tr = run.trace;
    const rows = [
      { key: 'cong', label: 'congestion state', colors: CONG_COLORS, names: tr.cong.names },
      { key: 'limit', label: 'tcp_probe limit', colors: LIMIT_COLORS, names: tr.limit.names },
      { key: 'stop', label: 'write_xmit stop', colors: STOP_COLORS, names: tr.stop.names },
    ];
    const box = el('div', { class: 'chart', id: 'chart-state' + ri });
    host.append(box);
    const nrows = rows.length + 1;  // + loss events
    const rowName = (i) => (i < rows.length ? rows[i].label : 'loss events');
    const opts = baseOpts('Sender state: congestion state, what limited sending, loss events',
      chartWidth(host), 60 + nrows * 44, '', (u, vals) => vals.map((v) => {
        const i = Math.round(nrows - 1 - (v - 0.5));
        return Number.isInteger(v - 0.5) && i >= 0 && i < nrows ? rowName(i) : '';
      }));
    opts.axes[1].size = 130;
    opts.axes[1].splits = () => Array.from({ length: nrows }, (_, i) => i + 0.5);
    opts.axes[1].grid = { show: false };
    opts.scales.y = { auto: false, range: () => [0, nrows] };
    opts.series = [{ label: 'time', value: (u, v) => fmtTime(v) }, { label: 'state', show: true, stroke: 'transparent' }];
    opts.legend = { show: false };
    const drawn = {};
    opts.hooks.draw = [(u) => {
      const ctx = u.ctx;
      const { left, top, width, height } = u.bbox;
      const dpr = devicePixelRatio;
      const X = (v) => u.valToPos(v, 'x', true);
      const rowH = height / nrows;
      const px = width / dpr;
      ctx.save();
      ctx.beginPath();
      ctx.rect(left, top, width, height);
      ctx.clip();
      rows.forEach((row, r) => {
        const p = pickBand(tr[row.key], view.a, view.b, px);
        const y = top + r * rowH + rowH * 0.12, h = rowH * 0.76;
        let n = 0;
        for (let i = p.i0; i < p.i1; i++) {
          const x0 = X(p.t0[i]), x1 = X(p.t1[i]);
          ctx.fillStyle = row.colors[p.k[i]] || '#999';
          ctx.fillRect(x0, y, Math.max(dpr, x1 - x0), h);
          n++;
        }
        drawn[row.key] = n;
      });
      // Loss events: a tick per event, its name when there is room.
      const ev = tr.recovery;
      const y = top + rows.length * rowH;
      const i0 = lowerBound(ev.map((e) => e[0]), view.a);
      let lastLabelX = -Infinity, n = 0;
      ctx.font = `${10 * dpr}px sans-serif`;
      ctx.textAlign = 'left';
      ctx.textBaseline = 'middle';
      for (let i = i0; i < ev.length && ev[i][0] <= view.b; i++) {
        const x = X(ev[i][0]);
        ctx.fillStyle = EVENT_COLORS[ev[i][1]] || '#555';
        ctx.fillRect(x - dpr, y + rowH * 0.1, 2 * dpr, rowH * 0.8);
        if (x - lastLabelX > 90 * dpr) {
          ctx.fillText(ev[i][1].replace('_', ' '), x + 3 * dpr, y + rowH * 0.5);
          lastLabelX = x;
        }
        n++;
      }
      drawn.events = n;
      ctx.restore();
    }];
    const u = new uPlot(opts, [[0, fullSpan], [null, null]], box);
    // The legend: every state's colour.
    const legend = el('div', { class: 'band-legend' });
    rows.forEach((row) => {
      const g = el('span', { class: 'band-group' }, el('b', {}, row.label + ': '));
      row.names.forEach((name, i) => {
        g.append(el('span', { class: 'swatch', style: `background:${row.colors[i]}` }),
          (row.key === 'limit' ? LIMIT_LABELS[name] || name : name) + ' ');
      });
      legend.append(g);
    });
    const g = el('span', { class: 'band-group' }, el('b', {}, 'loss events: '));
    for (const [name, color] of Object.entries(EVENT_COLORS))
      g.append(el('span', { class: 'swatch', style: `background:${color}` }), name.replace('_', ' ') + ' ');
    legend.append(g);
    box.append(legend);
    registerChart('state' + ri, u, () => u.setScale('x', { min: view.a, max: view.b }),
      () => ({ kind: 'bands', drawn: Object.assign({}, drawn), events: tr.recovery.length }));
  }

  // ---- the skb picture ----
  function skbPicture(host, run, ri) {
    const steps = run.trace.skb;
    const box = el('div', { class: 'chart skb', id: 'chart-skb' + ri });
    host.append(box);
    if (!steps.length) {
      box.append(el('p', {}, 'No send-chain events for a data segment in the trace.'));
      status.charts['skb' + ri] = { kind: 'skb', rows: 0 };
      return;
    }
    const withSkb = steps.filter((s) => s.end_off != null);
    const maxEnd = Math.max(1, ...withSkb.map((s) => s.end_off));
    const firstData = withSkb.length ? withSkb[0].data_off : 0;
    const rowH = 34, labelW = 170, barW = 560, fragW = 190, W = labelW + barW + fragW + 30;
    const H = 30 + steps.length * rowH + 40;
    const NS = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('width', W);
    svg.setAttribute('height', H);
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    const add = (tag, attrs, text) => {
      const e = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
      if (text != null) e.textContent = text;
      svg.append(e);
      return e;
    };
    const sx = (off) => labelW + (off / maxEnd) * barW;
    // The segment as tcp_transmit_skb sent it (the entailed skb grows later).
    const seg = steps.find((s) => s.event === 'tcp_transmit_skb') || withSkb[0];
    add('text', { x: 4, y: 16, class: 'skb-title' },
      `segment seq ${seg.seq}..${seg.end_seq} (${seg.end_seq - seg.seq} payload bytes): linear buffer head..end = ${maxEnd} bytes ` +
      `drawn at ${(barW / maxEnd).toFixed(2)} px/byte; the payload sits in page frags (right)`);
    let prevData = firstData;
    const layerName = { tcp_transmit_skb: 'TCP', ip_queue_xmit: 'IP', neigh_output: 'Ethernet', dev_queue_xmit: 'Ethernet' };
    const pushed = [];  // [from, to, label]
    let rows = 0;
    steps.forEach((s, i) => {
      const y = 30 + i * rowH;
      add('text', { x: 4, y: y + 20, class: 'skb-label' }, s.event);
      rows++;
      if (s.end_off == null) {
        const args = ['size', 'len', 'mss_now', 'nonagle'].filter((k) => s[k] != null).map((k) => `${k}=${s[k]}`);
        if (s.flags != null) args.push('flags=0x' + Number(s.flags).toString(16));
        add('text', { x: labelW, y: y + 20, class: 'skb-call' }, `call (no skb here) ${args.join(' ')}`);
        return;
      }
      if (s.data_off < prevData) pushed.push([s.data_off, prevData, layerName[s.event] || s.event]);
      prevData = Math.min(prevData, s.data_off);
      const h = 22;
      const rect = (a, b, cls, title) => {
        if (b <= a) return;
        const r = add('rect', { x: sx(a), y: y + 4, width: Math.max(1, sx(b) - sx(a)), height: h, class: cls });
        const t = document.createElementNS(NS, 'title');
        t.textContent = title;
        r.append(t);
      };
      rect(0, s.data_off, 'skb-headroom', `headroom ${s.headroom ?? s.data_off} bytes`);
      for (const [a, b, name] of pushed) {
        if (a >= s.data_off) rect(a, b, 'skb-hdr skb-hdr-' + name.toLowerCase(), `${name} header ${b - a} bytes`);
      }
      rect(Math.max(s.data_off, firstData), s.tail_off, 'skb-data', `linear data ${s.tail_off - Math.max(s.data_off, firstData)} bytes`);
      // Linux's skb_tailroom() is 0 once an skb has frags: the space is
      // there but nothing may be put in it.
      const unusable = s.tailroom === 0 && s.end_off > s.tail_off;
      rect(s.tail_off, s.end_off, unusable ? 'skb-tailroom skb-unusable' : 'skb-tailroom',
        unusable ? `${s.end_off - s.tail_off} bytes after tail, no tailroom: the skb has frags` : `tailroom ${s.tailroom ?? s.end_off - s.tail_off} bytes`);
      if (unusable && sx(s.end_off) - sx(s.tail_off) > 120)
        add('text', { x: (sx(s.tail_off) + sx(s.end_off)) / 2, y: y + 19, class: 'skb-hdr-label skb-muted' }, 'no tailroom (paged)');
      // Labels of the pushed headers over their boxes.
      for (const [a, b, name] of pushed) {
        if (a >= s.data_off && sx(b) - sx(a) > 11)
          add('text', { x: (sx(a) + sx(b)) / 2, y: y + 19, class: 'skb-hdr-label' },
            sx(b) - sx(a) > 26 ? name.slice(0, 3) : name.slice(0, 1));
      }
      const fx = labelW + barW + 12;
      if (s.nr_frags > 0 || s.data_len > 0) {
        add('rect', { x: fx, y: y + 4, width: fragW - 20, height: h, class: 'skb-frags' });
        add('text', { x: fx + 6, y: y + 19, class: 'skb-frag-label' }, `${s.nr_frags} frag${s.nr_frags === 1 ? '' : 's'}, ${s.data_len} B`);
      }
      add('text', { x: W - 4, y: y + 19, class: 'skb-meta', 'text-anchor': 'end' }, s.cloned ? 'clone' : '');
    });
    // Key.
    const ky = 30 + steps.length * rowH + 14;
    [['skb-headroom', 'headroom'], ['skb-hdr skb-hdr-tcp', 'TCP header'], ['skb-hdr skb-hdr-ip', 'IP header'],
      ['skb-hdr skb-hdr-ethernet', 'Ethernet header'], ['skb-data', 'linear data'],
      ['skb-tailroom', 'tailroom'], ['skb-frags', 'page frags (payload)']].forEach(([cls, label], i) => {
      add('rect', { x: 4 + i * 130, y: ky, width: 14, height: 12, class: cls });
      add('text', { x: 22 + i * 130, y: ky + 11, class: 'skb-key' }, label);
    });
    box.append(svg);
    const table = el('table', { class: 'kv skb-table' });
    const cols = ['event', 't', 'seq', 'end_seq', 'len', 'data_len', 'data_off', 'tail_off', 'end_off', 'headroom', 'tailroom', 'nr_frags', 'truesize', 'cloned'];
    table.append(el('tr', {}, ...cols.map((c) => el('th', {}, c))));
    for (const s of steps) {
      table.append(el('tr', {}, ...cols.map((c) => el('td', {}, c === 't' ? (s.t ?? 0).toFixed(9) : String(s[c] ?? '')))));
    }
    box.append(table);
    status.charts['skb' + ri] = { kind: 'skb', rows, pushed: pushed.map((p) => p[2]) };
  }

  function kvTable(title, pairs) {
    const t = el('table', { class: 'kv' });
    t.append(el('caption', {}, title));
    for (const [k, v] of pairs) t.append(el('tr', {}, el('th', {}, k), el('td', {}, v)));
    return t;
  }

  // ---- the page ----
  function build() {
    const app = document.getElementById('app');
    app.append(el('h1', {}, 'sendpath report'),
      el('p', { class: 'help' }, 'Drag across a chart to zoom in time, scroll to zoom around the pointer, ' +
        'shift-drag to pan, double-click for the whole run. Every chart shares the time axis; ' +
        'click a legend entry to hide a series.'));
    if (typeof uPlot === 'undefined') {
      app.append(el('p', { class: 'error' }, 'uPlot was not compiled in (run scripts/setup, then rebuild): no charts.'));
      status.errors.push('uPlot missing');
      publish();
      return;
    }
    const multi = runs.length > 1;
    const sections = [];
    const section = (title) => {
      const s = el('section', {}, el('h2', {}, title));
      app.append(s);
      sections.push(s);
      return s;
    };
    const runTitle = (run, ri) => (multi ? `run ${ri + 1}: ${run.name}` : run.name);
    let s = section('Time-sequence graph');
    runs.forEach((run, ri) => {
      if (multi) s.append(el('h3', {}, runTitle(run, ri)));
      if (run.tsg) tsgChart(s, run, ri);
      else s.append(el('p', {}, 'No capture for this run.'));
    });
    if (runs.some((r) => r.trace)) {
      s = section('Sender state (tcp:tcp_probe, tcp:tcp_cong_state_set, sendpath:tcp_recovery_event, sendpath:tcp_write_xmit)');
      runs.forEach((run, ri) => {
        if (multi) s.append(el('h3', {}, runTitle(run, ri)));
        if (!run.trace) { s.append(el('p', {}, 'No trace for this run.')); return; }
        const pr = run.trace.probe;
        if (pr) {
          lineChart(s, 'window' + ri, 'Congestion window and packets in flight', 'packets', null, [{
            table: pr, cols: [
              { col: 'cwnd', label: 'cwnd', color: '#1f77b4', stepped: true, width: 2 },
              { col: 'ssthresh', label: 'ssthresh', color: '#ff7f0e', stepped: true, dash: [6, 3] },
              { col: 'in_flight', label: 'in flight', color: '#2ca02c', stepped: true },
              { col: 'sacked_out', label: 'SACKed', color: '#9467bd', stepped: true },
              { col: 'lost_out', label: 'lost', color: '#d62728', stepped: true },
              { col: 'retrans_out', label: 'retransmitted, in flight', color: '#8c564b', stepped: true },
            ],
          }]);
          lineChart(s, 'rtt' + ri, 'Round-trip time and retransmission timeout', 'RTT (ms)', null, [{
            table: pr, cols: [
              { col: 'rtt_ms', label: 'RTT sample', color: '#7f7f7f', points: true },
              { col: 'srtt_ms', label: 'srtt', color: '#1f77b4', width: 2 },
              { col: 'min_rtt_ms', label: 'min RTT', color: '#2ca02c', dash: [4, 3] },
              { col: 'rto_ms', label: 'RTO (right axis)', color: '#d62728', stepped: true, scale: 'rto', axisLabel: 'RTO (ms)' },
            ],
          }]);
        }
        const parts = [];
        if (pr) parts.push({ table: pr, cols: [{ col: 'pacing_mbps', label: 'pacing rate', color: '#ff7f0e', stepped: true }] });
        if (run.goodput) parts.push({ table: run.goodput, cols: [{ col: 'goodput_mbps', label: 'goodput (ACKed bytes / ~1 RTT)', color: '#1f77b4', width: 2 }] });
        if (parts.length) lineChart(s, 'rate' + ri, 'Pacing rate and goodput', 'Mbit/s', null, parts);
        stateChart(s, run, ri);
      });
    } else if (runs.some((r) => r.goodput)) {
      s = section('Goodput (from the capture\'s ACKs)');
      runs.forEach((run, ri) => {
        if (multi) s.append(el('h3', {}, runTitle(run, ri)));
        if (run.goodput) {
          lineChart(s, 'rate' + ri, 'Goodput', 'Mbit/s', null, [{ table: run.goodput, cols: [{ col: 'goodput_mbps', label: 'goodput (ACKed bytes / ~1 RTT)', color: '#1f77b4', width: 2 }] }]);
        }
      });
    }
    s = section('Summary');
    const row = el('div', { class: 'summary-runs' });
    s.append(row);
    runs.forEach((run, ri) => {
      const box = el('div', { class: 'summary', id: 'summary' + ri }, el('h3', {}, runTitle(run, ri)));
      const col = el('div', { class: 'summary-tables' });
      box.append(col);
      if (run.params.length) col.append(kvTable('Parameters', run.params));
      if (run.counters.length) col.append(kvTable('Counters', run.counters));
      for (const [title, pairs] of run.tables || []) col.append(kvTable(title, pairs));
      if (run.capture) col.append(kvTable('Capture', run.capture));
      if (run.trace) {
        col.append(kvTable('TCP state at the end (last tcp:tcp_probe)', run.trace.tcp_info));
        col.append(kvTable('Drop reasons (skb:kfree_skb)', run.trace.drops.length ? run.trace.drops : [['none', '0']]));
        if (run.trace.states.length) col.append(kvTable('Socket states (sock:inet_sock_set_state)', run.trace.states));
        col.append(kvTable('Trace events', run.trace.events));
      }
      row.append(box);
    });
    if (runs.some((r) => r.trace)) {
      s = section('One segment down the send chain (sk_buff layout at each step)');
      runs.forEach((run, ri) => {
        if (multi) s.append(el('h3', {}, runTitle(run, ri)));
        if (run.trace) skbPicture(s, run, ri);
      });
    }
    // "#only=ID" shows one chart alone (for screenshots).
    const m = /only=([\w-]+)/.exec(location.hash);
    if (m) {
      document.body.classList.add('only');
      const keep = document.getElementById(m[1]);
      if (keep) {
        keep.classList.add('keep');
        let p = keep.parentElement;
        while (p && p !== document.body) { p.classList.add('keep-path'); p = p.parentElement; }
      }
    }
    // "#view=A,B" opens zoomed to [A, B] seconds.
    const v = /view=([\d.e-]+),([\d.e-]+)/.exec(location.hash);
    if (v) setView(+v[1], +v[2]);
    window.addEventListener('resize', () => {
      for (const c of charts) c.u.setSize({ width: chartWidth(c.u.root.parentElement.parentElement), height: c.u.height });
    });
    if (pendingFirstDraw === 0) status.ready = true;
    publish();
  }

  try {
    build();
  } catch (e) {
    status.errors.push('build: ' + (e && e.stack ? e.stack : String(e)));
    publish();
  }
})();
