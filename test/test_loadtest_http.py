#!/usr/bin/env python3
"""uvproc-loadtest against servers whose behaviour is known (test/loadtest_servers.py):
latencies it reports against latencies the server imposed, a stalling server in the open and
the closed model, 1xx and 101 answers, HTTPS (a certificate made here), the request flags,
the exit statuses, and the exports (--json, --hgrm, --report opened in a headless browser).

usage: test_loadtest_http.py UVPROC_LOADTEST [NAME...]"""
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import zlib

import taplib

LOADTEST = sys.argv[1]
ONLY = sys.argv[2:]
HERE = os.path.dirname(os.path.abspath(__file__))
SERVERS = os.path.join(HERE, "loadtest_servers.py")
TMP = tempfile.mkdtemp(prefix="uvproc-loadtest-test-")


def check(cond, what):
    if not cond:
        raise AssertionError(what)


class Server:
    """A loadtest_servers.py server on a free port of 127.0.0.1."""

    def __init__(self, *mode, scheme="http", host="127.0.0.1"):
        self.p = subprocess.Popen([sys.executable, SERVERS, *mode], stdout=subprocess.PIPE,
                                  text=True)
        line = self.p.stdout.readline()
        check(line.startswith("listening "), f"server said {line!r}")
        self.url = f"{scheme}://{host}:{int(line.split()[1])}/"

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        out = self.p.stdout.read()
        self.p.wait(timeout=20)
        return json.loads(out)


def loadtest(*args, timeout=60, env=None):
    return subprocess.run([LOADTEST, *args], capture_output=True, text=True, timeout=timeout,
                          env=env)


def loadtest_json(*args, rc=0, **kw):
    r = loadtest("--json", *args, **kw)
    check(r.returncode == rc, f"exit {r.returncode}, {rc} expected: {r.stderr}")
    return json.loads(r.stdout)


def percentile(values, p):
    """Nearest rank, as HdrHistogram counts it."""
    v = sorted(values)
    return v[max(0, min(len(v) - 1, -(-int(p * len(v) * 1000) // 100000) - 1))]


def within(reported, true_ms, what, slack_ms=25):
    """The tolerance. The truth is what the server really held the requests for (it asked
    for D ms; on a busy machine it wakes up a little later, and that is part of the truth).
    The reported figure may not be below it (the histogram gives its bucket's highest value:
    never lower), and may be above it by at most 5% + slack_ms: the transfer, and the time the
    client's process waits for a CPU, which on this shared 2-core machine at load 10-20 is
    tens of ms (at load 1 the excess is about 1 ms)."""
    check(reported is not None, f"{what}: no figure")
    check(true_ms <= reported <= true_ms * 1.05 + slack_ms,
          f"{what}: reported {reported} ms, true {true_ms:.3f} ms")


def test_known_latencies():
    """Every request delayed exactly 20 ms by the server, every 50th 300 ms (2%): p50 and p90
    are 20 ms, p99 and p99.9 300 ms, max 300 ms, as the server really held them. Besides the
    tolerance, the ranks: p90 must come from the 20 ms group and p99 from the 300 ms one,
    whatever the noise."""
    s = Server("delay", "20", "50", "300")
    try:
        j = loadtest_json("-p", "1", "-c", "5", "-n", "500", s.url)
    finally:
        seen = s.stop()
    check(seen["delays_ms"] == {"20.0": 490, "300.0": 10}, seen["delays_ms"])
    check(j["requests"] == 500 and j["status"] == {"200": 500}, j)
    lat, held = j["latency_ms"], seen["held_ms"]
    rows = []
    for key, p in (("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9), ("max", 100)):
        rows.append((key, percentile(held, p), lat[key]))
    taplib.comment("asked p50 20 p90 20 p99 300 p99.9 300 max 300 ms; held (true) " +
                   " ".join(f"{k} {t:.2f}" for k, t, _ in rows) + "; reported " +
                   " ".join(f"{k} {r}" for k, _, r in rows))
    # p99.9 and max are each one sample of 500: a single time slice the client's process
    # waited for a CPU lands on it whole (54 ms once, with three CPU hogs on the two cores),
    # where p50-p99 average it away. Their slack is 100 ms; the ranks below still pin them.
    for key, true_ms, reported in rows:
        within(reported, true_ms, key, 100 if key in ("p99.9", "max") else 25)
    check(lat["min"] >= 20, lat)
    check(lat["p90"] < 160 <= lat["p99"], f"ranks: p90 {lat['p90']}, p99 {lat['p99']}")


def test_stall_open_model_shows_it_closed_model_says_it_cannot():
    """A server that blocks for 300 ms every second. Open model (-R 200): every request that
    should have gone out during a stall carries its wait, so the tail shows it (p90 well above
    the 1 ms the server takes otherwise, p99 near 300 ms). Closed model: only the few requests
    in flight see it; the summary says the tail cannot show a stall and points at -R."""
    runs = {}
    for name, extra in (("open", ["-R", "200"]), ("closed", [])):
        s = Server("stall", "1000", "300")
        try:
            r = loadtest("--json", "-p", "1", "-c", "4", "-d", "3.5", *extra, s.url)
            t = loadtest("-p", "1", "-c", "4", "-d", "2.5", *extra, s.url)
        finally:
            s.stop()
        check(r.returncode == 0 and t.returncode == 0, (r.stderr, t.stderr))
        runs[name] = (json.loads(r.stdout), t.stdout)
    op, cl = runs["open"][0], runs["closed"][0]
    taplib.comment(f"open model: p50 {op['latency_ms']['p50']} p90 {op['latency_ms']['p90']} "
                   f"p99 {op['latency_ms']['p99']} max {op['latency_ms']['max']} ms; closed: "
                   f"p50 {cl['latency_ms']['p50']} p90 {cl['latency_ms']['p90']} p99 "
                   f"{cl['latency_ms']['p99']} max {cl['latency_ms']['max']} ms")
    check(op["latency_ms"]["p99"] >= 200, f"open model p99 {op['latency_ms']}")
    check(op["latency_ms"]["p90"] >= 50, f"open model p90 {op['latency_ms']}")
    check(not op["stall_hidden"] and "coordinated omission" not in runs["open"][1], op)
    check(cl["latency_ms"]["max"] >= 250, cl["latency_ms"])
    check(cl["stall_hidden"], f"closed model did not say it: {cl['latency_ms']}")
    check("coordinated omission" in runs["closed"][1] and "-R RATE" in runs["closed"][1]
          and "a stall" in runs["closed"][1], runs["closed"][1])


# --- HTTP as it is spoken --------------------------------------------------------------------

def test_interim_1xx_responses_are_skipped():
    """100 Continue and 103 Early Hints before every answer: the 200 after them is the answer
    (issue 16, fault 4: it was counted as status 100 plus a parse error)."""
    s = Server("interim", "100", "103")
    try:
        j = loadtest_json("-p", "1", "-c", "4", "-n", "100", s.url)
    finally:
        seen = s.stop()
    check(j["status"] == {"200": 100}, j["status"])
    check(sum(j["errors"].values()) == 0, j["errors"])
    check(seen["requests"] == 100 and seen["connections"] == 4, seen)


def test_101_retires_the_connection():
    """101 Switching Protocols: the connection is no longer HTTP. Counted as an 'upgrade'
    error, and that connection is not used again (nor remade): 4 connections, 4 requests."""
    s = Server("upgrade")
    try:
        r = loadtest("--json", "-p", "1", "-c", "4", "-n", "100", s.url)
    finally:
        seen = s.stop()
    j = json.loads(r.stdout)
    check(r.returncode == 1 and "no response from" in r.stderr, r)
    check(j["errors"]["upgrade"] == 4 and j["requests"] == 0, j["errors"])
    check(seen["requests"] == 4 and seen["connections"] == 4, seen)


def test_method_headers_body():
    """-m, -H (repeatable, replacing Host), -b and --body-file go out as given."""
    body_file = os.path.join(TMP, "body.bin")
    with open(body_file, "wb") as f:
        f.write(b"from a file\x00with a NUL")
    for extra, method, body in ((["-m", "PUT", "-b", '{"a": 1}'], "PUT", '{"a": 1}'),
                                (["-m", "POST", "--body-file", body_file], "POST",
                                 "from a file\x00with a NUL")):
        s = Server("record")
        try:
            j = loadtest_json("-p", "1", "-c", "1", "-n", "5", "-H", "X-One: 1",
                              "-H", "Host: example.test", "--header=X-Two: two", *extra, s.url)
        finally:
            seen = s.stop()
        check(j["requests"] == 5 and seen["requests"] == 5, (j, seen))
        head, _, got = seen["first"].partition("\r\n\r\n")
        lines = head.split("\r\n")
        check(lines[0] == f"{method} / HTTP/1.1", lines)
        check("X-One: 1" in lines and "X-Two: two" in lines, lines)
        check("Host: example.test" in lines and
              sum(l.lower().startswith("host:") for l in lines) == 1, lines)
        check(f"Content-Length: {len(body.encode('latin-1'))}" in lines, lines)
        check(got == body, (got, body))


# --- honest results --------------------------------------------------------------------------

def test_max_errors_exit_status():
    """--max-errors N or P%: the run is reported, then exit 3 when errors exceeded it."""
    s = Server("upgrade")
    port_url = s.url
    s.stop()
    r = loadtest("-p", "1", "-c", "2", "-d", "0.3", "--max-errors", "0", port_url)
    check(r.returncode == 1, "nothing answered stays exit 1")
    s = Server("interim", "100")
    try:
        ok = loadtest("-p", "1", "-c", "2", "-n", "50", "--max-errors", "0", s.url)
    finally:
        s.stop()
    check(ok.returncode == 0, ok)
    # A server that resets 1 request in 10 (test/node/loadtest_server.js chaos is Node's;
    # here: the stall server with a short timeout gives timeouts).
    s = Server("stall", "300", "200")
    try:
        bad = loadtest("-p", "1", "-c", "2", "-d", "1.5", "--timeout", "50ms",
                       "--max-errors", "1", s.url)
        pct = loadtest("--json", "-p", "1", "-c", "2", "-d", "1.5", "--timeout", "50ms",
                       "--max-errors", "0.001%", s.url)
    finally:
        s.stop()
    check(bad.returncode == 3 and "FAILED:" in bad.stdout and "--max-errors 1" in bad.stdout,
          (bad.returncode, bad.stdout, bad.stderr))
    check(pct.returncode == 3 and pct.stdout.startswith("{"), (pct.returncode, pct.stderr))
    check(json.loads(pct.stdout)["max_errors_exceeded"], pct.stdout)


# --- HTTPS -----------------------------------------------------------------------------------

def make_cert():
    cert, key = os.path.join(TMP, "cert.pem"), os.path.join(TMP, "key.pem")
    if not os.path.exists(cert):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "2", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost"], check=True, capture_output=True)
    return cert, key


def test_https_verify_insecure_sni_keepalive():
    """A self-signed certificate: refused with one clear line and exit 1 unless -k; with -k
    the server sees SNI 'localhost' and keep-alive (one handshake per connection); trusted
    through SSL_CERT_FILE it verifies without -k."""
    cert, key = make_cert()
    s = Server("tls", cert, key, scheme="https", host="localhost")
    try:
        bad = loadtest("-p", "1", "-c", "2", "-d", "2", s.url)
        j = loadtest_json("-k", "-p", "2", "-c", "4", "-n", "400", s.url)
        env = dict(os.environ, SSL_CERT_FILE=cert)
        trusted = loadtest_json("-p", "1", "-c", "2", "-n", "100", s.url, env=env)
    finally:
        seen = s.stop()
    check(bad.returncode == 1 and bad.stdout == "", bad)
    check(bad.stderr.count("\n") == 1 and "unable to connect" in bad.stderr
          and "certificate verify failed" in bad.stderr, bad.stderr)
    check(j["requests"] == 400 and j["status"] == {"200": 400}, j)
    check(j["tls"]["handshakes"] == 4, f"keep-alive: 4 handshakes expected: {j['tls']}")
    check(trusted["requests"] == 100 and sum(trusted["errors"].values()) == 0, trusted)
    check(seen["sni"] == ["localhost"], seen)


def test_https_session_reuse():
    """A server that closes after every answer: each request is a new connection, and the
    session the server handed out is offered again (abbreviated handshakes)."""
    cert, key = make_cert()
    s = Server("tls", cert, key, "close", scheme="https", host="localhost")
    try:
        j = loadtest_json("-k", "-p", "1", "-c", "2", "-n", "100", s.url)
    finally:
        seen = s.stop()
    check(j["requests"] == 100 and sum(j["errors"].values()) == 0, j)
    check(j["tls"]["handshakes"] >= 100, j["tls"])
    check(j["tls"]["resumed"] >= 20 and seen["resumed"] >= 20,
          f"sessions not reused: {j['tls']}, server {seen['resumed']}")


# --- exports ---------------------------------------------------------------------------------

def test_json_ladder_series_and_hgrm():
    """--json: the whole ladder (p50 ... p99.999, max), one interval per second; --hgrm in
    HdrHistogram's percentile-distribution format, consistent with the JSON."""
    hgrm = os.path.join(TMP, "run.hgrm")
    s = Server("delay", "2", "10", "20")
    try:
        j = loadtest_json("-p", "1", "-c", "4", "-d", "2.2", "--hgrm", hgrm, s.url)
        table = loadtest("-p", "1", "-c", "4", "-n", "200", "--latency", s.url)
    finally:
        s.stop()
    # --latency: the ladder on the terminal, as wrk's --latency
    check(table.returncode == 0 and "latency distribution" in table.stdout, table)
    for level in ("50%", "75%", "90%", "99%", "99.9%", "99.99%", "99.999%", "max"):
        check(re.search(r"^\s+%s\s+\d" % re.escape(level), table.stdout, re.M),
              f"no {level} line: {table.stdout}")
    lat = j["latency_ms"]
    keys = ["p50", "p75", "p90", "p99", "p99.9", "p99.99", "p99.999", "max"]
    vals = [lat[k] for k in keys]
    check(all(v is not None for v in vals) and vals == sorted(vals), lat)
    # 2.2 s: two whole seconds and a part (two when the machine is so busy that the part is
    # empty); every response is in exactly one interval.
    iv = j["intervals"]
    check(2 <= len(iv) <= 3 and j["interval_s"] == 1, iv)
    check([i["t"] for i in iv] == sorted(i["t"] for i in iv), iv)
    check(sum(i["requests"] for i in iv) == j["requests"], iv)
    with open(hgrm) as f:
        text = f.read()
    lines = text.splitlines()
    check(re.match(r"^\s+Value\s+Percentile\s+TotalCount\s+1/\(1-Percentile\)$", lines[0]),
          lines[0])
    rows = [l.split() for l in lines[2:] if l and not l.startswith("#")]
    check(len(rows) >= 10, rows)
    check([float(r[1]) for r in rows] == sorted(float(r[1]) for r in rows), "levels in order")
    check(float(rows[-1][1]) == 1.0 and int(rows[-1][2]) == j["requests"], rows[-1])
    check(abs(float(rows[-1][0]) - lat["max"]) < 0.002, (rows[-1], lat["max"]))
    check(re.search(r"#\[Max\s+=\s+[\d.]+, Total count\s+=\s+%d\]" % j["requests"], text), text)
    check(len(j["distribution"]) == len(rows), "the JSON distribution is the .hgrm's rows")


def find_browser():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def png_colours(path):
    """Distinct colours in a PNG (8-bit RGB/RGBA, the browser's screenshot), sampled."""
    with open(path, "rb") as f:
        data = f.read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG")
    pos, idat, width, height, ctype = 8, b"", 0, 0, 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", chunk[:10])
            check(depth == 8 and ctype in (2, 6), f"PNG depth {depth} type {ctype}")
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + n
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    colours = set()
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        if y % 4 == 0:
            for x in range(0, width, 4):
                colours.add(bytes(line[x * bpp:x * bpp + 3]))
        prev = line
    return colours


def test_html_report_in_a_browser():
    """--report: one self-contained file (nothing fetched: no src, href, url() or @import),
    opened in headless Chromium: no script error, every chart has one point per row of the
    data (distribution rows, intervals, error kinds), the per-process table one row per
    process, and a screenshot that is not blank."""
    report = os.path.join(TMP, "report.html")
    s = Server("stall", "700", "150")
    try:
        j = loadtest_json("-p", "2", "-c", "4", "-d", "2.5", "--timeout", "100ms",
                          "--report", report, s.url)
    finally:
        s.stop()
    with open(report) as f:
        html = f.read()
    check(not re.search(r"\b(src|href)\s*=|url\(|@import|<link\b|<iframe\b", html),
          "the report refers to something outside itself")
    browser = find_browser()
    if browser is None:
        raise taplib.Skip("no headless browser (Debian: apt-get install chromium)")
    profile = tempfile.mkdtemp(dir=TMP)
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
              "--disable-extensions", "--disable-background-networking",
              f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
              "--window-size=1100,1900"]
    dom = subprocess.run(common + ["--dump-dom", "file://" + report], capture_output=True,
                         text=True, timeout=180)
    check(dom.returncode == 0 and "<svg" in dom.stdout, dom.stderr[-2000:])
    check('data-rendered="1"' in dom.stdout, "the page did not finish drawing")
    check("data-errors" not in dom.stdout.split("<head>")[0], dom.stdout[:400])
    check(not re.search(r"Uncaught|CONSOLE\(\d+\).*(Error|error)", dom.stderr),
          f"console errors: {dom.stderr[-2000:]}")

    def points(chart):
        m = re.search(r'<svg id="%s"[^>]*>(.*?)</svg>' % chart, dom.stdout, re.S)
        check(m, f"no chart {chart}")
        tag = re.search(r'<svg id="%s"[^>]*>' % chart, dom.stdout).group(0)
        declared = int(re.search(r'data-points="(\d+)"', tag).group(1))
        drawn = len(re.findall(r"<circle\b", m.group(1))) or len(re.findall(r"<rect\b",
                                                                             m.group(1)))
        check(declared == drawn, f"{chart}: says {declared}, drew {drawn}")
        return drawn

    dist = [r for r in j["distribution"] if r[1] < 1]
    check(points("latency") == len(dist) and len(dist) >= 10, "latency chart points")
    check(points("rps") == len(j["intervals"]) >= 2, "requests/s chart points")
    check(points("p99") == len([i for i in j["intervals"] if i["p99_ms"] is not None]),
          "p99 chart points")
    kinds = [k for k, v in j["errors"].items() if v > 0]
    check(kinds and points("errors") == len(kinds), f"error kinds {kinds}")
    rows = re.search(r'<table id="children">.*?<tbody>(.*?)</tbody>', dom.stdout, re.S).group(1)
    check(rows.count("<tr>") == len(j["per_child"]) == 2, rows)

    shot = os.path.join(TMP, "report.png")
    r = subprocess.run(common + [f"--screenshot={shot}", "file://" + report],
                       capture_output=True, text=True, timeout=180)
    check(r.returncode == 0 and os.path.exists(shot), r.stderr[-2000:])
    colours = png_colours(shot)
    taplib.comment(f"screenshot {shot}: {len(colours)} colours")
    check(len(colours) >= 8, f"a blank screenshot: {len(colours)} colours")
    keep = os.environ.get("LOADTEST_REPORT_KEEP")
    if keep:
        shutil.copy(shot, keep + ".png")
        shutil.copy(report, keep + ".html")


tests = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_") and callable(f)]
try:
    rc = taplib.run([(n, f) for n, f in tests if not ONLY or n[5:] in ONLY or n in ONLY],
                    timed=True)
finally:
    shutil.rmtree(TMP, ignore_errors=True)
sys.exit(rc)
