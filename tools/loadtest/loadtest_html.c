/* loadtest_html: --report FILE.html, one self-contained page: the run's JSON result inline
 * (type application/json, so it is data, never run), a small script that draws SVG charts
 * from it, and the style. No network, no external script, style or font: the file can be
 * mailed, archived or opened offline years later.
 *
 * Charts: latency by percentile on a log axis (HdrHistogram's plot: x is 1/(1-p), so 90%,
 * 99%, 99.9% ... are evenly spaced), requests/s and p99 over time (one point per interval),
 * the per-process table, errors by kind. Each chart's <svg> says how many points it drew
 * (data-points) and the page marks itself data-rendered once done, or data-errors with what
 * went wrong: the test reads these from a headless browser. Text goes in with textContent
 * only, so a URL or an error note cannot inject markup. */
#include <stdlib.h>
#include <string.h>

#include "loadtest.h"

/* Parts, each under the 4095 characters C99 promises for one literal. */
static const char *const head[] = {
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>uvproc-loadtest report</title>\n"
    "<script>window.addEventListener('error', function (e) {\n"
    "  var r = document.documentElement;\n"
    "  r.setAttribute('data-errors', (r.getAttribute('data-errors') || '') + e.message + ';');\n"
    "});</script>\n"
    "<style>\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fff;max-width:"
    "1000px}\n"
    "h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 6px}\n"
    ".sub{color:#555}.kpi{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}\n"
    ".kpi div{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:110px}\n"
    ".kpi b{display:block;font-size:18px}\n"
    "table{border-collapse:collapse}td,th{border-bottom:1px solid #eee;padding:3px 10px;"
    "text-align:right}\n"
    "th{background:#f5f5f5}svg{display:block;background:#fcfcfc;border:1px solid #eee}\n"
    ".axis{stroke:#999;stroke-width:1}.grid{stroke:#eee;stroke-width:1}\n"
    ".line{fill:none;stroke-width:2}.lbl{font-size:11px;fill:#555}\n"
    ".warn{color:#a40;font-weight:bold}\n"
    "</style></head><body>\n"
    "<h1>uvproc-loadtest</h1><div class=\"sub\" id=\"what\"></div>\n"
    "<div class=\"kpi\" id=\"kpi\"></div><div id=\"notes\"></div>\n"
    "<h2>Latency by percentile</h2><svg id=\"latency\" width=\"960\" height=\"320\"></svg>\n"
    "<h2>Requests per second</h2><svg id=\"rps\" width=\"960\" height=\"240\"></svg>\n"
    "<h2>p99 latency over time</h2><svg id=\"p99\" width=\"960\" height=\"240\"></svg>\n"
    "<h2>Errors by kind</h2><svg id=\"errors\" width=\"960\" height=\"200\"></svg>\n"
    "<h2>Load processes</h2><table id=\"children\"><thead><tr><th>process</th><th>pid</th>"
    "<th>requests</th><th>errors</th><th>p99 (ms)</th><th>CPU (s)</th><th>outcome</th></tr>"
    "</thead><tbody></tbody></table>\n"
    "<script type=\"application/json\" id=\"data\">",
    NULL};

/* Parts, each under the 4095 characters C99 promises for one literal. */
static const char *const tail[] = {
    "</script>\n<script>\n"
    "(function () {\n"
    "'use strict';\n"
    "var d = JSON.parse(document.getElementById('data').textContent);\n"
    "var NS = 'http://www.w3.org/2000/svg';\n"
    "function el(parent, name, attrs, text) {\n"
    "  var e = parent.namespaceURI === NS ? document.createElementNS(NS, name)\n"
    "                                     : document.createElement(name);\n"
    "  for (var k in attrs) e.setAttribute(k, attrs[k]);\n"
    "  if (text !== undefined) e.textContent = text;\n"
    "  parent.appendChild(e); return e;\n"
    "}\n"
    "function fmt(ms) {\n"
    "  if (ms === null || ms === undefined) return '-';\n"
    "  if (ms < 1) return (ms * 1000).toFixed(0) + ' us';\n"
    "  if (ms < 1000) return ms.toFixed(2) + ' ms';\n"
    "  return (ms / 1000).toFixed(2) + ' s';\n"
    "}\n"
    "function nice(max) {\n"
    "  if (!(max > 0)) return 1;\n"
    "  var p = Math.pow(10, Math.floor(Math.log10(max))), m = max / p;\n"
    "  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;\n"
    "}\n"
    "/* A line chart: pts [[x, y], ...]; xs(x) and xticks give the x axis. */\n"
    "function chart(svg, pts, o) {\n"
    "  var W = +svg.getAttribute('width'), H = +svg.getAttribute('height');\n"
    "  var L = 64, R = 40, T = 12, B = 34, w = W - L - R, h = H - T - B;\n"
    "  var ymax = nice(Math.max.apply(null, pts.map(function (p) { return p[1]; }).concat([0])));\n"
    "  var xmin = o.xmin, xmax = o.xmax > o.xmin ? o.xmax : o.xmin + 1;\n"
    "  function X(x) { return L + (x - xmin) / (xmax - xmin) * w; }\n"
    "  function Y(y) { return T + h - y / ymax * h; }\n"
    "  for (var i = 0; i <= 4; i++) {\n"
    "    var yv = ymax * i / 4;\n"
    "    el(svg, 'line', {x1: L, x2: L + w, y1: Y(yv), y2: Y(yv), 'class': 'grid'});\n"
    "    el(svg, 'text', {x: L - 6, y: Y(yv) + 4, 'text-anchor': 'end', 'class': 'lbl'},\n"
    "       o.yfmt(yv));\n"
    "  }\n"
    "  o.xticks.forEach(function (t) {\n"
    "    if (t[0] < xmin || t[0] > xmax) return;\n"
    "    el(svg, 'line', {x1: X(t[0]), x2: X(t[0]), y1: T, y2: T + h, 'class': 'grid'});\n",
    "    el(svg, 'text', {x: X(t[0]), y: H - 14, 'text-anchor': 'middle', 'class': 'lbl'},\n"
    "       t[1]);\n"
    "  });\n"
    "  el(svg, 'line', {x1: L, x2: L + w, y1: T + h, y2: T + h, 'class': 'axis'});\n"
    "  el(svg, 'line', {x1: L, x2: L, y1: T, y2: T + h, 'class': 'axis'});\n"
    "  el(svg, 'text', {x: L + w / 2, y: H - 1, 'text-anchor': 'middle', 'class': 'lbl'},\n"
    "     o.xlabel);\n"
    "  if (pts.length) {\n"
    "    el(svg, 'polyline', {points: pts.map(function (p) { return X(p[0]) + ',' + Y(p[1]); })\n"
    "       .join(' '), 'class': 'line', stroke: o.color});\n"
    "  } else {\n"
    "    el(svg, 'text', {x: L + w / 2, y: T + h / 2, 'text-anchor': 'middle', 'class': 'lbl'},\n"
    "       'no samples');\n"
    "  }\n"
    "  pts.forEach(function (p) {\n"
    "    var c = el(svg, 'circle', {cx: X(p[0]), cy: Y(p[1]), r: 3, fill: o.color});\n"
    "    el(c, 'title', {}, o.tip(p));\n"
    "  });\n"
    "  svg.setAttribute('data-points', pts.length);\n"
    "}\n"
    "var lat = d.latency_ms, total = d.requests;\n"
    "document.getElementById('what').textContent = d.method + ' ' + d.url +\n"
    "  (d.target ? ' (' + d.target + ')' : '') + ' \\u2014 ' + d.connections +\n"
    "  ' connections over ' + d.children + ' processes, ' + d.seconds.toFixed(2) + ' s, ' +\n"
    "  (d.model === 'open' ? 'open model at ' + d.rate + ' req/s' : 'closed model');\n"
    "var kpi = document.getElementById('kpi');\n"
    "[['requests', String(total)], ['req/s', d.rps.toFixed(0)], ['p50', fmt(lat.p50)],\n"
    " ['p90', fmt(lat.p90)], ['p99', fmt(lat.p99)], ['p99.9', fmt(lat['p99.9'])],\n"
    " ['max', fmt(lat.max)], ['non-2xx', String(d.non2xx)],\n"
    " ['errors', String(Object.keys(d.errors).reduce(function (a, k) {\n"
    "   return a + d.errors[k]; }, 0))]].forEach(function (k) {\n"
    "  var b = el(kpi, 'div', {}); el(b, 'b', {}, k[1]); el(b, 'span', {}, k[0]);\n"
    "});\n"
    "var notes = document.getElementById('notes');\n"
    "if (d.stall_hidden) el(notes, 'p', {'class': 'warn'}, 'The worst latency is over 10x ' +\n"
    "  'p99: the server stalled, and without -R the requests it kept from being sent were ' +\n"
    "  'never timed (coordinated omission). Run with -R RATE to measure the stall.');\n"
    "if (d.max_errors_exceeded) el(notes, 'p', {'class': 'warn'}, 'FAILED: ' +\n"
    "  d.max_errors_exceeded);\n"
    "if (d.first_error) el(notes, 'p', {}, 'First error: ' + d.first_error);\n",
    "var dist = d.distribution.filter(function (r) { return r[1] < 1; });\n"
    "var top = dist.length ? Math.max(2, Math.log10(1 / (1 - dist[dist.length - 1][1]))) : 2;\n"
    "var pticks = [[0, '0%'], [1, '90%'], [2, '99%'], [3, '99.9%'], [4, '99.99%'],\n"
    "  [5, '99.999%'], [6, '99.9999%']];\n"
    "chart(document.getElementById('latency'), dist.map(function (r) {\n"
    "  return [Math.log10(1 / (1 - r[1])), r[0], r[1]]; }), {xmin: 0, xmax: Math.ceil(top),\n"
    "  xticks: pticks, xlabel: 'percentile (log scale of 1/(1-p))', color: '#1565c0',\n"
    "  yfmt: fmt, tip: function (p) { return (p[2] * 100).toPrecision(6) + '%: ' + fmt(p[1]); "
    "}});\n"
    "var iv = d.intervals, tmax = iv.length ? iv[iv.length - 1].t : 1;\n"
    "var tticks = []; var step = nice(tmax / 8) || 1;\n"
    "for (var t = 0; t <= tmax + 1e-9; t += step) tticks.push([t, t.toFixed(step < 1 ? 1 : 0) + ' "
    "s']);\n"
    "chart(document.getElementById('rps'), iv.map(function (p) { return [p.t, p.rps]; }),\n"
    "  {xmin: 0, xmax: tmax, xticks: tticks, xlabel: 'time', color: '#2e7d32',\n"
    "   yfmt: function (v) { return v >= 1000 ? (v / 1000).toFixed(1) + 'k' : v.toFixed(0); },\n"
    "   tip: function (p) { return p[0].toFixed(1) + ' s: ' + p[1].toFixed(0) + ' req/s'; }});\n"
    "chart(document.getElementById('p99'), iv.filter(function (p) { return p.p99_ms !== null; })\n"
    "  .map(function (p) { return [p.t, p.p99_ms]; }), {xmin: 0, xmax: tmax, xticks: tticks,\n"
    "  xlabel: 'time', color: '#c62828', yfmt: fmt,\n"
    "  tip: function (p) { return p[0].toFixed(1) + ' s: p99 ' + fmt(p[1]); }});\n"
    "(function () {\n"
    "  var svg = document.getElementById('errors'), kinds = Object.keys(d.errors)\n"
    "    .filter(function (k) { return d.errors[k] > 0; });\n"
    "  var max = Math.max.apply(null, kinds.map(function (k) { return d.errors[k]; "
    "}).concat([1]));\n"
    "  if (!kinds.length) el(svg, 'text', {x: 20, y: 30, 'class': 'lbl'}, 'no errors');\n"
    "  kinds.forEach(function (k, i) {\n"
    "    var y = 10 + i * 18, w = d.errors[k] / max * 700;\n"
    "    el(svg, 'text', {x: 90, y: y + 12, 'text-anchor': 'end', 'class': 'lbl'}, k);\n"
    "    var r = el(svg, 'rect', {x: 96, y: y, width: Math.max(w, 1), height: 14,\n"
    "      fill: '#ef6c00'});\n"
    "    el(r, 'title', {}, k + ': ' + d.errors[k]);\n"
    "    el(svg, 'text', {x: 100 + w, y: y + 12, 'class': 'lbl'}, String(d.errors[k]));\n"
    "  });\n"
    "  svg.setAttribute('height', Math.max(60, 20 + kinds.length * 18));\n"
    "  svg.setAttribute('data-points', kinds.length);\n"
    "})();\n"
    "var tb = document.querySelector('#children tbody');\n"
    "d.per_child.forEach(function (c) {\n"
    "  var tr = el(tb, 'tr', {});\n"
    "  [c.index, c.pid, c.requests, c.errors, c.p99_ms === null ? '-' : c.p99_ms.toFixed(2),\n"
    "   c.cpu_s === null ? '-' : c.cpu_s.toFixed(2), c.outcome].forEach(function (v) {\n",
    "    el(tr, 'td', {}, String(v)); });\n"
    "});\n"
    "document.body.setAttribute('data-rendered', '1');\n"
    "})();\n"
    "</script>\n</body></html>\n",
    NULL};

int lt_report_html(FILE *out, const json_t *result)
{
    /* JSON_ESCAPE_SLASH: "</script>" inside a string cannot end the data block. */
    char *data = json_dumps(result, JSON_COMPACT | JSON_ESCAPE_SLASH | JSON_REAL_PRECISION(6));
    if (data == NULL)
        return -1;
    for (int i = 0; head[i] != NULL; i++)
        fputs(head[i], out);
    fputs(data, out);
    for (int i = 0; tail[i] != NULL; i++)
        fputs(tail[i], out);
    free(data);
    return ferror(out) ? -1 : 0;
}
