#!/usr/bin/python3
"""Kestrel's fake exchange: a loopback server speaking Binance spot, Binance USD-M and OKX v5
public formats over real HTTP and websocket (plain, or TLS with a test CA), for tests only.

One port serves everything (the paths tell the venues apart, as docs/exchanges.md lists them):
  Binance spot  REST /api/v3/{ping,time,exchangeInfo,depth,klines}
                WS   /ws/<s1>/<s2>..., /stream?streams=<s1>/<s2>, SUBSCRIBE/UNSUBSCRIBE
                     (answered {"result":null,"id":N}; more than 5 client messages a second on
                     spot, 10 on USD-M, close the connection, as documented)
  Binance USD-M REST /fapi/v1/{ping,time,exchangeInfo,depth,klines}
                WS   /public/ws|stream (depth, bookTicker), /market/ws|stream (trades, klines, ...)
  OKX v5        REST /api/v5/public/{time,instruments}, /api/v5/market/{books,candles,
                     history-candles}
                WS   /ws/v5/public, /ws/v5/business: {"op":"subscribe"}, text ping -> pong
  control       /_fake/status, /_fake/book?venue=V&symbol=S[&depth=N], /_fake/fault?type=...,
                /_fake/rate?value=N (the --rate of every tape from now on; 0: flat out),
                /_fake/quit

Data: the real captures of ../shared/data. A "tape" per (venue, symbol) starts at the capture's
REST snapshot line (diffs before it are not streamed: the fake must know its book at every
point) and streams the following lines at --rate messages/s to every connection subscribed to
them. The fake keeps the authoritative book of each tape (the snapshot plus every diff it
applied, sent or deliberately skipped); REST depth answers with that book and its last update
id, and /_fake/book hands it to tests. OKX tapes are the Binance captures re-encoded in OKX's
format: real prices and levels, seqId = u, prevSeqId = the previous seqId (no contiguous OKX
book capture exists anywhere we could read; MANIFEST.md). Binance tapes stream the capture
lines byte for byte (the stream name is the one the client asked for). The captures hold no
klines, 24 h tickers or mark prices, so those are served from other real recordings, never made
up: klines (REST and `<sym>@kline_1m` / OKX `candle1m` on the business endpoint) are octobot's
real Binance bars (../shared/data/klines/octobot); with --shift-times they are re-timed so that
row len-60 opens in the minute the tape starts (history before it, the rest streamed), and the
stream sends the final bar (x / confirm) of a minute when the tape's first trade of the next
minute goes out, and every 2 s of tape time the minute's bar as forming (x false, confirm "0":
forming states were not recorded, so it carries the recorded bar's values). The longer
timeframes' streams (`kline_5m|15m|1h|4h|1d`, OKX `candle5m|15m|1H|4H|1Dutc`) send only final
bars, when the tape's first trade of the next period goes out: each the aggregate of the real
1m rows of its period (first open, highest high, lowest low, last close, summed volume; stats
`klines_sent_<iv>`). `@ticker`,
`@markPrice[@1s]` and OKX
`tickers` are the single real messages of ../shared/data/messages (symbol and times set to the
tape's), sent once per second of tape time.

  okx BTC-USDT       <- binance spot btcusdt      okx ETH-USDT      <- binance spot ethusdt
  okx BTC-USDT-SWAP  <- binance usdm btcusdt      okx ETH-USDT-SWAP <- binance usdm ethusdt

Faults (GET /_fake/fault?type=T[&venue=V][&n=N][&secs=S][&ms=M]):
  drop        abort every websocket connection (no close frame)
  stall       the connections open now receive nothing more (and get no pong) for S seconds;
              sticky=1: connections opened during those S seconds are stalled too (a venue
              that accepts but never delivers); path=P: only connections whose path starts P;
              one=1: only the oldest of them (a warm standby's twin keeps streaming)
  unstall     ends every stall (and sticky stall) now
  gap         the next N depth diffs of the venue are applied to the book but not sent
  malformed   one truncated JSON frame to every connection
  badutf8     one text frame with invalid UTF-8 to every connection
  huge        one 16 MB (or ms= bytes) text frame to every connection
  shutdown    Binance {"e":"serverShutdown"} / OKX notice 64008, then close after 0.5 s
  http        the next N REST requests answer status=429|418|500 (Retry-After: S for 429/418)
  slow        the next N REST requests are delayed S seconds
  skew        server time is M ms ahead (negative: behind)
  oldsnap     the next N REST depth/books answers are the tape's first (stale) snapshot
  drift       the next N REST depth/books answers disagree with the streamed book (the best
              bid's quantity doubled): what a client's book audit must catch
  okxreset    the next OKX book update is a maintenance reset (seqId drops below prevSeqId)
  okxsnapshot on=1|0: OKX pushes a book snapshot on subscribe (default off, as production 2026)
  lifetime    close every websocket connection S seconds after it opened (24 h cut, shortened)
--shift-times moves every streamed E/T so the tape starts now (then the lines are re-encoded,
not byte for byte): a live app's pipeline refuses exchange times minutes off its clock.
Each applies to all venues unless venue= is given.

Aliases (benchmarks: many watched symbols): a Binance symbol BTCUSDT or ETHUSDT followed by "A"
and 1-3 digits (e.g. BTCUSDTA7) is a tape of its own (its own book and position) over the same
capture lines, loaded once and shared; its frames carry the alias's name.

Bounded: binds loopback only, exits after --lifetime seconds (default 300) or when --parent
exits, queues at most --queue frames per connection (a slower client is dropped, as exchanges
do). Needs Debian's python3-websockets (tools/deps.sh test)."""

import argparse
import asyncio
import csv
import http
import gzip
import json
import os
import random
import signal
import ssl
import sys
import time
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import websockets
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed

VENUES = ("binance-spot", "binance-usdm", "okx")
TAPES = {
    ("binance-spot", "BTCUSDT"): ("binance-spot", "spot/btcusdt_20240808.gz", "spot/btcusdt_20240809.gz"),
    ("binance-spot", "ETHUSDT"): ("binance-spot", "spot/ethusdt_20240808.gz", "spot/ethusdt_20240809.gz"),
    ("binance-usdm", "BTCUSDT"): ("binance-usdm", "usdm/btcusdt_20240808.gz", None),
    ("binance-usdm", "ETHUSDT"): ("binance-usdm", "usdm/ethusdt_20240808.gz", None),
    ("okx", "BTC-USDT"): ("binance-spot", "spot/btcusdt_20240808.gz", "spot/btcusdt_20240809.gz"),
    ("okx", "ETH-USDT"): ("binance-spot", "spot/ethusdt_20240808.gz", "spot/ethusdt_20240809.gz"),
    ("okx", "BTC-USDT-SWAP"): ("binance-usdm", "usdm/btcusdt_20240808.gz", None),
    ("okx", "ETH-USDT-SWAP"): ("binance-usdm", "usdm/ethusdt_20240808.gz", None),
}
KLINES = {"BTCUSDT": "binance_BTCUSDT_", "ETHUSDT": "binance_ETHUSDT_"}
KLINE_FUTURE = 60  # shifted klines: rows after the tape's start minute (streamed, not history)
# the real single messages the stat streams are served from (messages/, one JSON per line)
STAT_MSGS = {"spot_ticker": ("binance/crypto-msg-parser_binance.jsonl", '"ethusdt@ticker"'),
             "usdm_ticker": ("binance/crypto-msg-parser_binance.jsonl", '"p":"213.70"'),
             "mark": ("binance/crypto-msg-parser_binance.jsonl", '"btcusdt@markPrice"'),
             "okx_ticker": ("okx/crypto-msg-parser_okx_v5.jsonl", '"tickers","instId":"BTC-USDT"}')}
BAR_MS = {"1m": 60000, "3m": 180000, "5m": 300000, "15m": 900000, "30m": 1800000,
          "1h": 3600000, "2h": 7200000, "4h": 14400000, "8h": 28800000, "12h": 43200000,
          "1d": 86400000, "3d": 259200000, "1w": 604800000}
# the longer timeframes streamed (kline_<iv> / OKX candle<bar>): aggregated from the real 1m rows
KLINE_LONGER = ("5m", "15m", "1h", "4h", "1d")
OKX_BAR_OF = {"1m": "1m", "5m": "5m", "15m": "15m", "1h": "1H", "4h": "4H", "1d": "1Dutc"}
OKX_BARS = {"1m": "1m", "3m": "3m", "5m": "5m", "15m": "15m", "30m": "30m", "1H": "1h",
            "2H": "2h", "4H": "4h", "12H": "12h", "1D": "1d", "1Dutc": "1d", "3D": "3d",
            "1W": "1w", "1Wutc": "1w"}


def alias_base(venue, symbol):
    """BTCUSDTA7 -> BTCUSDT (a Binance alias tape, see the docstring); anything else: itself."""
    if venue != "okx":
        for b in ("BTCUSDT", "ETHUSDT"):
            rest = symbol[len(b):]
            if symbol.startswith(b) and rest[:1] == "A" and rest[1:].isdigit() and 1 <= len(rest) - 1 <= 3:
                return b
    return symbol


def norm(s):
    """Canonical decimal text: 61602.01000000 -> 61602.01."""
    d = Decimal(s)
    t = format(d.normalize(), "f")
    return t


class Tape:
    """One symbol's stream: capture lines from the snapshot on, and the book they build."""

    def __init__(self, fake, venue, symbol):
        self.fake, self.venue, self.symbol = fake, venue, symbol
        base = alias_base(venue, symbol)
        self.alias = base != symbol
        src_venue, f1, f2 = TAPES[(venue, base)]
        self.src_venue = src_venue
        self.usdm = src_venue == "binance-usdm"
        self.events = []  # (kind, stream_kind, raw_line_json_text, parsed data)
        self.bids, self.asks = {}, {}
        self.last_u = 0
        self.seq = 0          # OKX seqId (derived)
        self.seq_offset = 0   # OKX: seqId = u - offset (a maintenance reset raises the offset)
        self.kline_min = None  # the minute of the last streamed trade (final klines)
        self.stat_sec = None   # the second of tape time the stat messages were last sent
        self.kline_map = None  # open_ms -> the served (re-timed) 1m row
        self.pos = 0
        self.sent = 0
        self.first_pending = True
        self.diffs_applied = 0
        self.diffs_skipped = 0
        self.done = False
        self.started = False
        self.time_shift = None
        self.last_time = 0    # the newest streamed exchange time: REST depth answers carry it
        key = (venue, base)
        if key in fake.loaded:  # an alias: the same lines, its own book
            snap, pre, self.events = fake.loaded[key]
            self._load_snapshot(snap)
            for d in pre:
                self.apply(d)
            self.seq = self.last_u
        else:
            self._load([f for f in (f1, f2) if f])
            fake.loaded[key] = (self.snap0, self.pre0, self.events)

    def _load(self, files):
        limit = self.fake.args.max_lines
        snap = None
        pre = []
        n = 0
        for rel in files:
            path = os.path.join(self.fake.args.data, "binance", "streams", rel)
            with gzip.open(path, "rt") as fh:
                for line in fh:
                    sp = line.find(" ")
                    js = line[sp + 1:].strip()
                    if snap is None:
                        if '"lastUpdateId"' in js:
                            snap = json.loads(js)
                            self.snap0, self.pre0 = snap, pre
                            self._load_snapshot(snap)
                            for d in pre:  # what the recording client had buffered
                                self.apply(d)
                        elif '"depthUpdate"' in js:
                            pre.append(json.loads(js)["data"])
                        continue
                    if '"stream"' not in js:
                        continue
                    env = json.loads(js)
                    if self.fake.args.shift_times:
                        self._shift(env["data"])
                        js = json.dumps(env, separators=(",", ":"))
                    stream = env["stream"]
                    kind = stream.split("@")[1]
                    self.events.append((kind, js, env["data"], stream))
                    n += 1
                    if limit and n >= limit:
                        break
            if limit and n >= limit:
                break
        self.seq = self.last_u

    def _shift(self, d):
        """--shift-times: exchange times moved so the tape's first event is now (a live client's
        pipeline refuses times minutes away from its clock, as it should)."""
        if self.time_shift is None:
            if not isinstance(d.get("E"), int):
                return  # spot bookTicker carries no time: the first timed event sets the shift
            self.time_shift = int(time.time() * 1000) - d["E"]
        for k in ("E", "T"):
            if isinstance(d.get(k), int) and d[k] > 0:
                d[k] += self.time_shift

    def _load_snapshot(self, snap):
        self.bids = {norm(p): norm(q) for p, q in snap["bids"] if Decimal(q) != 0}
        self.asks = {norm(p): norm(q) for p, q in snap["asks"] if Decimal(q) != 0}
        self.last_u = snap["lastUpdateId"]
        self.seq = self.last_u
        self.first_pending = True
        # the capture's own REST snapshot, kept for the "oldsnap" fault (a stale cache answer)
        self.first_snap = (self.last_u, self.top_of(self.bids, self.asks, 5000))

    @staticmethod
    def top_of(bids, asks, depth):
        b = sorted(bids.items(), key=lambda kv: Decimal(kv[0]), reverse=True)[:depth]
        a = sorted(asks.items(), key=lambda kv: Decimal(kv[0]))[:depth]
        return b, a

    def apply(self, d):
        """Applies a depth diff by the venue's documented rule. True when applied."""
        U, u = d["U"], d["u"]
        if self.first_pending:
            stale = u < self.last_u if self.usdm else u <= self.last_u
            ok = (U <= self.last_u <= u) if self.usdm else (U <= self.last_u + 1 <= u)
            if stale or not ok:
                return False
        elif u <= self.last_u:
            return False
        for side, levels in ((self.bids, d["b"]), (self.asks, d["a"])):
            for p, q in levels:
                p, q = norm(p), norm(q)
                if Decimal(q) == 0:
                    side.pop(p, None)
                else:
                    side[p] = q
        self.first_pending = False
        self.last_u = u
        self.diffs_applied += 1
        return True

    def top(self, depth):
        return self.top_of(self.bids, self.asks, depth)

    def rest_book(self, fake, depth):
        """(update id, bids, asks) for REST: the current book, or the tape's first snapshot
        while an "oldsnap" fault is pending."""
        if fake.faults[self.venue]["oldsnap"] > 0:
            fake.faults[self.venue]["oldsnap"] -= 1
            fake.stats["old_snapshots"] += 1
            uid, (b, a) = self.first_snap
            seq = max(0, uid - self.seq_offset)  # older than anything streamed since
            return (uid if self.venue != "okx" else seq), b[:depth], a[:depth]
        b, a = self.top(depth)
        if fake.faults[self.venue]["drift"] > 0 and b:
            fake.faults[self.venue]["drift"] -= 1
            fake.stats["drifted_snapshots"] += 1
            b = [(b[0][0], norm(str(Decimal(b[0][1]) * 2)))] + b[1:]
        return (self.last_u if self.venue != "okx" else self.seq), b, a

    def okx_levels(self, levels):
        return [[norm(p), norm(q), "0", "1"] for p, q in levels]


class Conn:
    def __init__(self, fake, ws, venue, path):
        self.fake, self.ws, self.venue, self.path = fake, ws, venue, path
        self.subs = {}        # (symbol, kind) -> stream name as requested (Binance)
        self.okx_subs = set()  # (channel, instId)
        self.combined = True
        self.stalled_until = 0.0
        self.q = asyncio.Queue(maxsize=fake.args.queue)
        self.opened = time.monotonic()
        self.closed = False
        self.msg_times = []   # Binance: client messages of the last second (rate limit)

    def stalled(self):
        return time.monotonic() < self.stalled_until

    def push(self, item):
        if self.closed or self.stalled():
            return
        try:
            self.q.put_nowait(item)
        except asyncio.QueueFull:
            self.fake.stats["slow_dropped"] += 1
            self.closed = True
            self.ws.transport.abort()

    async def writer(self):
        try:
            while True:
                item = await self.q.get()
                if self.stalled():
                    continue
                if isinstance(item, tuple):  # raw frame (opcode, bytes)
                    await self.ws.write_frame(True, item[0], item[1])
                else:
                    await self.ws.send(item)
                self.fake.stats["frames_sent"] += 1
        except (ConnectionClosed, asyncio.CancelledError):
            pass
        except Exception as e:  # a broken transport: the reader notices
            self.fake.log(f"writer: {e!r}")


class Fake:
    def __init__(self, args):
        self.args = args
        self.tapes = {}
        self.conns = set()
        self.stats = {"conns_total": 0, "rest_requests": 0, "frames_sent": 0,
                      "slow_dropped": 0, "http_faults": 0, "okx_pings": 0, "task_errors": 0,
                      "old_snapshots": 0, "klines_sent": 0,
                      "klines_forming_sent": 0, "drifted_snapshots": 0,
                      "subscribe_msgs": 0, "rate_limited": 0}
        self.faults = {v: {"gap": 0, "okxreset": False, "oldsnap": 0, "drift": 0} for v in VENUES}
        self.loaded = {}      # (venue, symbol) -> (snapshot, diffs before it, events): aliases
        self.http_fault = []  # list of [status, n, retry_after, venue]
        self.slow = []        # [secs, n, venue]
        self.skew_ms = 0
        self.sticky_stall = {}  # venue -> (monotonic until, path prefix)
        self.okx_snapshot = args.okx_snapshot
        self.conn_lifetime = args.conn_lifetime
        self.weight = {}      # venue -> (minute, used)
        self.start_ms = int(time.time() * 1000)
        self.stat_cache = {}
        self.stop = asyncio.Event()

    def log(self, msg):
        if self.args.verbose:
            print(f"fake: {msg}", file=sys.stderr, flush=True)

    # ------------------------------------------------------------------------- tapes
    def tape(self, venue, symbol):
        key = (venue, symbol)
        if (venue, alias_base(venue, symbol)) not in TAPES:
            return None
        t = self.tapes.get(key)
        if t is None:
            t = Tape(self, venue, symbol)
            self.tapes[key] = t
        if not t.started:
            t.started = True
            task = asyncio.get_running_loop().create_task(self.run_tape(t))
            task.add_done_callback(self.task_done)
        return t

    def task_done(self, task):
        if not task.cancelled() and task.exception() is not None:
            self.stats["task_errors"] += 1  # a bug in the fake: loud, and visible in status
            print(f"fake: tape task failed: {task.exception()!r}", file=sys.stderr, flush=True)

    async def run_tape(self, t):
        while t.pos < len(t.events):
            rate = self.args.rate  # read every turn: /_fake/rate changes it mid-tape
            batch = max(1, rate // 100) if rate > 0 else 200
            end = min(len(t.events), t.pos + batch)
            for i in range(t.pos, end):
                self.emit(t, *t.events[i])
            t.pos = end
            await asyncio.sleep((0.01 if rate >= 100 else 1.0 / rate) if rate > 0 else 0)
        t.done = True
        self.log(f"tape {t.venue}:{t.symbol} done: {t.diffs_applied} diffs")

    def emit(self, t, kind, raw, data, stream):
        v = t.venue
        skip = False
        if isinstance(data.get("E"), int):
            t.last_time = data["E"]
        if kind == "depth":
            if not t.apply(data):
                return
            if self.faults[v]["gap"] > 0:
                self.faults[v]["gap"] -= 1
                t.diffs_skipped += 1
                skip = True
        if kind == "trade":
            self.kline_trade(t, data)
            self.stats_trade(t, data)
        if v == "okx":
            self.emit_okx(t, kind, data, skip)
            return
        if skip:
            return
        if t.alias:  # the frame carries the alias's name (re-encoded, not byte for byte)
            data = dict(data, s=t.symbol)
            raw = stream = None
        self.send_binance(t, kind, raw, data, stream)

    def kline_anchor(self, symbol):
        """--shift-times: the minute the tape of this symbol starts in (the fake's start when
        no tape of it is loaded)."""
        for (v, sym), t in self.tapes.items():
            src = sym.replace("-", "")[:len(symbol)] if v == "okx" else sym
            if src == symbol:
                for ev in t.events[:200]:  # the first timed event (spot bookTickers have none)
                    e = ev[2].get("T", ev[2].get("E"))
                    if isinstance(e, int):
                        return e // 60000 * 60000
        return self.start_ms // 60000 * 60000

    def kline_rows(self, symbol, interval, stream=False):
        """The served bars [open_ms, o, h, l, c, v] (real): REST re-times them with --shift-times
        only (else the files' own times, for downloads); the stream always maps them onto the
        tape's minutes."""
        rows = self.klines(symbol, interval)
        if not rows or not (self.args.shift_times or stream):
            return rows
        dur = BAR_MS.get(interval, 60000)
        anchor = self.kline_anchor(symbol)
        anchor -= anchor % dur
        base = anchor - dur * (len(rows) - KLINE_FUTURE)
        return [[base + i * dur] + r[1:] for i, r in enumerate(rows)]

    def kline_trade(self, t, d):
        """The final 1m bar (x / confirm) of a minute when the tape's first trade of the next
        minute goes out: the real bar of that minute (kline_rows)."""
        ts = d.get("T", d.get("E", 0))
        m = ts // 60000 * 60000
        if t.kline_min is not None and m > t.kline_min:
            r = self.kline_row(t, t.kline_min)
            if r is not None:
                self.emit_kline(t, r, ts)
            for iv in KLINE_LONGER:  # a longer bar's period ended with that minute
                dur = BAR_MS[iv]
                if m // dur > t.kline_min // dur:
                    r = self.kline_agg(t, t.kline_min // dur * dur, dur)
                    if r is not None:
                        self.emit_kline(t, r, ts, True, iv)
        t.kline_min = m

    def kline_agg(self, t, start, dur):
        """A longer timeframe's bar from the real 1m rows of its period (open of the first,
        high/low over all, close of the last, volumes summed): aggregated, not made up. None
        when the period holds no 1m row."""
        self.kline_row(t, start)  # builds kline_map
        rows = [t.kline_map[k] for k in range(start, start + dur, 60000) if k in t.kline_map]
        if not rows:
            return None
        vol = sum(Decimal(r[5]) for r in rows)
        return [start, rows[0][1], max(rows, key=lambda r: Decimal(r[2]))[2],
                min(rows, key=lambda r: Decimal(r[3]))[3], rows[-1][4],
                norm(str(vol))]

    def kline_row(self, t, minute):
        sym = "BTCUSDT" if t.symbol.startswith("BTC") else "ETHUSDT"
        if t.kline_map is None:
            t.kline_map = {r[0]: r for r in (self.kline_rows(sym, "1m", True) or [])}
        return t.kline_map.get(minute)

    def emit_kline(self, t, r, ts, closed=True, iv="1m"):
        self.stats["klines_sent" if closed else "klines_forming_sent"] += 1
        if closed:
            self.stats["klines_sent_" + iv] = self.stats.get("klines_sent_" + iv, 0) + 1
        if t.venue == "okx":
            ch = "candle" + OKX_BAR_OF[iv]
            msg = json.dumps({"arg": {"channel": ch, "instId": t.symbol},
                              "data": [[str(r[0]), r[1], r[2], r[3], r[4], r[5], r[5], "0",
                                        "1" if closed else "0"]]},
                             separators=(",", ":"))
            for c in list(self.conns):
                if c.venue == "okx" and (ch, t.symbol) in c.okx_subs:
                    c.push(msg)
            return
        data = {"e": "kline", "E": ts, "s": t.symbol,
                "k": {"t": r[0], "T": r[0] + BAR_MS[iv] - 1, "s": t.symbol, "i": iv, "f": 0,
                      "L": 0, "o": r[1], "c": r[4], "h": r[2], "l": r[3], "v": r[5], "n": 0,
                      "x": closed, "q": "0", "V": "0", "Q": "0", "B": "0"}}
        self.send_binance(t, "kline_" + iv, None, data, None)

    def stat_msg(self, name):
        if name not in self.stat_cache:
            rel, needle = STAT_MSGS[name]
            with open(os.path.join(self.args.data, "messages", rel)) as fh:
                for line in fh:
                    if needle in line:
                        m = json.loads(line)
                        d = m["data"]
                        if name == "usdm_ticker":  # one item of an !ticker@arr message
                            d = [x for x in d if x.get("p") == "213.70"][0]
                        self.stat_cache[name] = d
                        break
        return json.loads(json.dumps(self.stat_cache[name]))

    def stats_trade(self, t, d):
        """Once per second of tape time: the recorded 24 h ticker (and USD-M mark price)."""
        ts = d.get("T", d.get("E", 0))
        sec = ts // 1000
        if t.stat_sec == sec:
            return
        t.stat_sec = sec
        if sec % 2 == 0:  # the exchanges push the forming kline every 2 s (Binance) or faster
            r = self.kline_row(t, ts // 60000 * 60000)
            if r is not None:
                self.emit_kline(t, r, ts, False)
        if t.venue == "okx":
            m = self.stat_msg("okx_ticker")
            for it in m:
                it["instId"] = t.symbol
                it["ts"] = str(ts)
            msg = json.dumps({"arg": {"channel": "tickers", "instId": t.symbol}, "data": m},
                             separators=(",", ":"))
            for c in list(self.conns):
                if c.venue == "okx" and ("tickers", t.symbol) in c.okx_subs:
                    c.push(msg)
            return
        tk = self.stat_msg("spot_ticker" if t.venue == "binance-spot" else "usdm_ticker")
        tk["s"], tk["E"] = t.symbol, ts
        self.send_binance(t, "ticker", None, tk, None)
        if t.venue == "binance-usdm":
            mk = self.stat_msg("mark")
            mk["s"], mk["E"] = t.symbol, ts
            self.send_binance(t, "markPrice", None, mk, None)

    def send_binance(self, t, kind, raw, data, stream):
        v = t.venue
        sym = t.symbol.lower()
        for c in list(self.conns):
            if c.venue != v:
                continue
            name = c.subs.get((sym, kind))
            if name is None:
                continue
            if c.combined and name == stream:
                frame = raw  # the capture line byte for byte
            elif c.combined:
                frame = '{"stream":"%s","data":%s}' % (name, json.dumps(data, separators=(",", ":")))
            else:
                frame = json.dumps(data, separators=(",", ":"))
            c.push(frame)
            t.sent += 1

    def emit_okx(self, t, kind, data, skip):
        if kind == "depth":
            prev = t.seq
            seq = data["u"] - t.seq_offset
            if self.faults["okx"]["okxreset"]:
                self.faults["okx"]["okxreset"] = False
                t.seq_offset = data["u"] - 1000
                seq = 1000
            t.seq = seq
            if skip:
                return
            msg = {"arg": {"channel": "books", "instId": t.symbol}, "action": "update",
                   "data": [{"asks": t.okx_levels(data["a"]), "bids": t.okx_levels(data["b"]),
                             "ts": str(data.get("E", 0)), "checksum": 0,
                             "prevSeqId": prev, "seqId": seq}]}
            ch = "books"
        elif kind == "trade":
            msg = {"arg": {"channel": "trades", "instId": t.symbol},
                   "data": [{"instId": t.symbol, "tradeId": str(data["t"]), "px": norm(data["p"]),
                             "sz": norm(data["q"]), "side": "sell" if data["m"] else "buy",
                             "ts": str(data.get("T", data.get("E", 0))), "count": "1",
                             "source": "0", "seqId": 0}]}
            ch = "trades"
        elif kind == "bookTicker":
            msg = {"arg": {"channel": "bbo-tbt", "instId": t.symbol},
                   "data": [{"asks": [[norm(data["a"]), norm(data["A"]), "0", "1"]],
                             "bids": [[norm(data["b"]), norm(data["B"]), "0", "1"]],
                             "ts": str(data.get("E", 0)), "seqId": t.seq}]}
            ch = "bbo-tbt"
        else:
            return
        frame = None
        for c in list(self.conns):
            if c.venue != "okx" or (ch, t.symbol) not in c.okx_subs:
                continue
            if frame is None:
                frame = json.dumps(msg, separators=(",", ":"))
            c.push(frame)
            t.sent += 1

    # ------------------------------------------------------------------------- REST
    def json_resp(self, obj, status=200, extra=None):
        body = json.dumps(obj, separators=(",", ":")).encode()
        h = Headers()
        h["Content-Type"] = "application/json"
        for k, v in (extra or {}).items():
            h[k] = v
        return (http.HTTPStatus(status), h, body)

    def now_ms(self):
        return int(time.time() * 1000) + self.skew_ms

    def rest_venue(self, path):
        if path.startswith("/api/v3/"):
            return "binance-spot"
        if path.startswith("/fapi/"):
            return "binance-usdm"
        if path.startswith("/api/v5/"):
            return "okx"
        return None

    async def process_request(self, path, headers):
        u = urlparse(path)
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        if headers.get("Upgrade", "").lower() == "websocket":
            return None
        if u.path.startswith("/_fake/"):
            return self.control(u.path, q)
        venue = self.rest_venue(u.path)
        if venue is None:
            return self.json_resp({"code": -1, "msg": "not found"}, 404)
        self.stats["rest_requests"] += 1
        for s in self.slow:
            if s[1] > 0 and s[2] in (None, venue):
                s[1] -= 1
                await asyncio.sleep(s[0])
                break
        for f in self.http_fault:
            if f[1] > 0 and f[3] in (None, venue):
                f[1] -= 1
                self.stats["http_faults"] += 1
                extra = {"Retry-After": str(f[2])} if f[0] in (429, 418) else {}
                body = {"code": -1003, "msg": "Too many requests; fake"} if venue != "okx" else \
                       {"code": "50011", "msg": "Too Many Requests", "data": []}
                return self.json_resp(body, f[0], extra)
        try:
            if venue == "okx":
                return self.rest_okx(u.path, q)
            return self.rest_binance(venue, u.path, q)
        except (KeyError, ValueError) as e:
            return self.json_resp({"code": -1102, "msg": f"bad parameter: {e}"}, 400)

    def weight_headers(self, venue, w):
        minute = int(time.time() // 60)
        m, used = self.weight.get(venue, (minute, 0))
        if m != minute:
            used = 0
        used += w
        self.weight[venue] = (minute, used)
        return {"X-MBX-USED-WEIGHT-1M": str(used)}

    def rest_binance(self, venue, path, q):
        pre = "/api/v3/" if venue == "binance-spot" else "/fapi/v1/"
        ep = path[len(pre):] if path.startswith(pre) else ""
        if ep == "ping":
            return self.json_resp({}, 200, self.weight_headers(venue, 1))
        if ep == "time":
            return self.json_resp({"serverTime": self.now_ms()}, 200, self.weight_headers(venue, 1))
        if ep == "exchangeInfo":
            if venue == "binance-spot":
                p = os.path.join(self.args.data, "binance/exchangeinfo/spot-exchangeinfo-2021-10-12.json.gz")
                with gzip.open(p, "rb") as fh:
                    body = fh.read()
            else:
                p = os.path.join(self.args.data, "binance/nautilus-captures/http_futures_market_exchange_info.json")
                with open(p, "rb") as fh:
                    body = fh.read()
            h = Headers()
            h["Content-Type"] = "application/json"
            for k, v in self.weight_headers(venue, 20 if venue == "binance-spot" else 1).items():
                h[k] = v
            return (http.HTTPStatus.OK, h, body)
        if ep == "depth":
            sym = q["symbol"]
            t = self.tape(venue, sym)
            if t is None:
                return self.json_resp({"code": -1121, "msg": "Invalid symbol."}, 400)
            limit = int(q.get("limit", "100"))
            uid, b, a = t.rest_book(self, limit)
            obj = {"lastUpdateId": uid}
            if venue == "binance-usdm":  # on the stream's timeline, as a real venue's are
                obj["E"] = t.last_time or self.now_ms()
                obj["T"] = t.last_time or self.now_ms()
            obj["bids"] = [[p, qq] for p, qq in b]
            obj["asks"] = [[p, qq] for p, qq in a]
            w = 250 if limit > 1000 else 50 if limit > 500 else 25 if limit > 100 else 5
            return self.json_resp(obj, 200, self.weight_headers(venue, w))
        if ep == "klines":
            rows = self.kline_rows(q["symbol"], q["interval"])
            if rows is None:
                return self.json_resp({"code": -1121, "msg": "Invalid symbol."}, 400)
            st, en = int(q.get("startTime", "0")), int(q.get("endTime", str(2 ** 62)))
            lim = min(int(q.get("limit", "500")), 1000)
            dur = BAR_MS.get(q["interval"], 60000)
            out = []
            now = self.now_ms()
            for r in rows:
                if st <= r[0] <= en and r[0] <= now:  # no exchange serves the future
                    out.append([r[0], r[1], r[2], r[3], r[4], r[5], r[0] + dur - 1, "0", 0,
                                "0", "0", "0"])
                    if len(out) >= lim:
                        break
            return self.json_resp(out, 200, self.weight_headers(venue, 2))
        return self.json_resp({"code": -1, "msg": "not found"}, 404)

    def klines(self, symbol, interval):
        pre = KLINES.get(symbol)
        if not pre:
            return None
        d = os.path.join(self.args.data, "klines", "octobot")
        for f in sorted(os.listdir(d)):
            if f.startswith(pre + interval + "_"):
                with open(os.path.join(d, f)) as fh:
                    rd = csv.reader(fh)
                    next(rd)
                    return [[int(r[0])] + r[1:6] for r in rd]
        return []

    def rest_okx(self, path, q):
        ok = lambda data: self.json_resp({"code": "0", "msg": "", "data": data})
        if path == "/api/v5/public/time":
            return ok([{"ts": str(self.now_ms())}])
        if path == "/api/v5/public/instruments":
            it = q["instType"]
            out = []
            for (v, s) in TAPES:
                if v != "okx" or (it == "SWAP") != s.endswith("-SWAP"):
                    continue
                base, quote = s.split("-")[:2]
                out.append({"instType": it, "instId": s, "baseCcy": base if it == "SPOT" else "",
                            "quoteCcy": quote if it == "SPOT" else "",
                            "settleCcy": quote if it == "SWAP" else "",
                            "ctVal": "0.01" if it == "SWAP" else "", "ctType": "linear" if it == "SWAP" else "",
                            "tickSz": "0.01" if it == "SPOT" else "0.1", "lotSz": "0.00000001" if it == "SPOT" else "0.001",
                            "minSz": "0.00001", "state": "live"})
            return ok(out)
        if path == "/api/v5/market/books":
            t = self.tape("okx", q["instId"])
            if t is None:
                return self.json_resp({"code": "51001", "msg": "Instrument ID does not exist", "data": []})
            sz = min(int(q.get("sz", "1")), 400)
            seq, b, a = t.rest_book(self, sz)
            return ok([{"asks": t.okx_levels(a), "bids": t.okx_levels(b),
                        "ts": str(t.last_time or self.now_ms()), "seqId": seq}])
        if path in ("/api/v5/market/candles", "/api/v5/market/history-candles"):
            inst = q["instId"]
            bar = q.get("bar", "1m")
            sym = inst.split("-")[0] + inst.split("-")[1]
            rows = self.kline_rows(sym, OKX_BARS.get(bar, "?")) or []
            rows = [r for r in rows if r[0] <= self.now_ms()]
            after = int(q["after"]) if "after" in q else 2 ** 62    # older than
            before = int(q["before"]) if "before" in q else -1      # newer than
            lim = min(int(q.get("limit", "100")), 300 if path.endswith("/candles") else 100)
            out = []
            for r in reversed(rows):  # newest first
                if before < r[0] < after:
                    out.append([str(r[0]), r[1], r[2], r[3], r[4], r[5], "0", "0", "1"])
                    if len(out) >= lim:
                        break
            return ok(out)
        return self.json_resp({"code": "50014", "msg": "not found", "data": []}, 404)

    # ------------------------------------------------------------------------- control
    def control(self, path, q):
        if path == "/_fake/status":
            tapes = {f"{v}:{s}": {"pos": t.pos, "total": len(t.events), "done": t.done,
                                  "last_id": t.last_u, "seq": t.seq, "sent": t.sent,
                                  "diffs_applied": t.diffs_applied,
                                  "diffs_skipped": t.diffs_skipped}
                     for (v, s), t in self.tapes.items()}
            return self.json_resp({"tapes": tapes, "conns": len(self.conns), **self.stats})
        if path == "/_fake/book":
            t = self.tape(q["venue"], q["symbol"])
            if t is None:
                return self.json_resp({"error": "unknown tape"}, 404)
            b, a = t.top(int(q.get("depth", "20")))
            return self.json_resp({"id": t.last_u, "seq": t.seq, "done": t.done,
                                   "bids": b, "asks": a})
        if path == "/_fake/fault":
            return self.json_resp(self.fault(q))
        if path == "/_fake/rate":
            self.args.rate = max(0, int(q.get("value", "0")))
            return self.json_resp({"rate": self.args.rate})
        if path == "/_fake/quit":
            self.stop.set()
            return self.json_resp({"ok": True})
        return self.json_resp({"error": "unknown control"}, 404)

    def fault(self, q):
        typ = q.get("type", "")
        venue = q.get("venue")
        n = int(q.get("n", "1"))
        secs = float(q.get("secs", "1"))
        conns = [c for c in self.conns if venue in (None, c.venue)]
        venues = [venue] if venue else list(VENUES)
        if typ == "drop":
            for c in conns:
                c.closed = True
                c.ws.transport.abort()
        elif typ == "stall":
            pfx = q.get("path", "")
            until = time.monotonic() + secs
            match = sorted((c for c in conns if urlparse(c.path).path.startswith(pfx)),
                           key=lambda c: c.opened)
            for c in match[:1] if q.get("one") == "1" else match:
                c.stalled_until = until
            if q.get("sticky") == "1":
                for v in venues:
                    self.sticky_stall[v] = (until, pfx)
        elif typ == "unstall":
            for c in self.conns:
                c.stalled_until = 0.0
            self.sticky_stall = {}
        elif typ == "gap":
            for v in venues:
                self.faults[v]["gap"] += n
        elif typ in ("malformed", "badutf8", "huge"):
            for c in conns:
                if typ == "malformed":
                    c.push('{"stream":"btcusdt@trade","data":{"e":"trade","s":')
                elif typ == "badutf8":
                    c.push((1, b'{"stream":"x","data":"\xff\xfe\xc0\xaf"}'))
                else:
                    size = int(q.get("bytes", str(16 << 20)))
                    c.push('{"stream":"big","data":"' + "a" * size + '"}')
        elif typ == "shutdown":
            for c in conns:
                if c.venue == "okx":
                    c.push('{"event":"notice","code":"64008","msg":"The connection will soon be '
                           'closed for a service upgrade. Please reconnect.","connId":"fake"}')
                else:
                    c.push('{"e":"serverShutdown","E":%d}' % self.now_ms())
                asyncio.get_running_loop().call_later(0.5, self.close_conn, c)
        elif typ == "http":
            self.http_fault.append([int(q.get("status", "429")), n, int(secs), venue])
        elif typ == "slow":
            self.slow.append([secs, n, venue])
        elif typ == "skew":
            self.skew_ms = int(q.get("ms", "0"))
        elif typ == "oldsnap":
            for v in venues:
                self.faults[v]["oldsnap"] += n
        elif typ == "drift":
            for v in venues:
                self.faults[v]["drift"] += n
        elif typ == "okxreset":
            self.faults["okx"]["okxreset"] = True
        elif typ == "okxsnapshot":
            self.okx_snapshot = q.get("on", "1") == "1"
        elif typ == "lifetime":
            self.conn_lifetime = secs
        else:
            return {"error": f"unknown fault type '{typ}'"}
        return {"ok": True, "type": typ, "conns": len(conns)}

    def close_conn(self, c):
        if not c.closed:
            c.closed = True
            asyncio.get_running_loop().create_task(c.ws.close(1001, "going away"))

    # ------------------------------------------------------------------------- websocket
    def ws_venue(self, path):
        p = urlparse(path).path
        if p.startswith("/ws/v5/"):
            return "okx"
        if p.startswith("/public/") or p.startswith("/market/"):
            return "binance-usdm"
        if p.startswith("/ws") or p.startswith("/stream"):
            return "binance-spot"
        return None

    def binance_sub(self, c, name):
        parts = name.split("@")
        if len(parts) < 2:
            return False
        sym, kind = parts[0], parts[1]
        if kind.startswith("depth") and kind != "depth":
            return False  # partial depth: not served
        c.subs[(sym, kind)] = name
        self.tape(c.venue, sym.upper())
        return True

    async def handler(self, ws, path):
        venue = self.ws_venue(path)
        if venue is None:
            await ws.close(1008, "unknown path")
            return
        c = Conn(self, ws, venue, path)
        st = self.sticky_stall.get(venue)
        if st and urlparse(path).path.startswith(st[1]):
            c.stalled_until = st[0]
        self.conns.add(c)
        self.stats["conns_total"] += 1
        wt = asyncio.get_running_loop().create_task(c.writer())
        lt = None
        if self.conn_lifetime > 0:
            lt = asyncio.get_running_loop().call_later(self.conn_lifetime, self.close_conn, c)
        try:
            u = urlparse(path)
            if venue != "okx":
                rest = u.path.split("/", 2)[-1] if venue == "binance-usdm" else u.path[1:]
                # rest: "ws/<a>/<b>" or "stream"
                if rest.startswith("ws"):
                    c.combined = False
                    for name in rest.split("/")[1:]:
                        if name:
                            self.binance_sub(c, name)
                q = parse_qs(u.query)
                for name in (q.get("streams", [""])[0].split("/") if "streams" in q else []):
                    if name:
                        self.binance_sub(c, name)
            async for msg in ws:
                if c.stalled():
                    continue
                if venue == "okx":
                    await self.okx_msg(c, msg)
                else:
                    self.binance_msg(c, msg)
        except ConnectionClosed:
            pass
        finally:
            c.closed = True
            self.conns.discard(c)
            wt.cancel()
            if lt:
                lt.cancel()

    def binance_msg(self, c, msg):
        # the documented client-message limit: spot 5/s, USD-M 10/s; over it the connection is
        # closed (exchanges.md 4.1, 4.3)
        now = time.monotonic()
        c.msg_times = [t for t in c.msg_times if now - t < 1.0] + [now]
        if len(c.msg_times) > (5 if c.venue == "binance-spot" else 10):
            self.stats["rate_limited"] += 1
            self.close_conn(c)
            return
        try:
            m = json.loads(msg)
            method, mid = m["method"], m.get("id")
        except (ValueError, KeyError, TypeError):
            c.push('{"code":3,"msg":"Invalid JSON: expected value at line 1 column 1"}')
            return
        if method == "SUBSCRIBE":
            self.stats["subscribe_msgs"] += 1
            for name in m.get("params", []):
                self.binance_sub(c, name)
            c.push(json.dumps({"result": None, "id": mid}, separators=(",", ":")))
        elif method == "UNSUBSCRIBE":
            for name in m.get("params", []):
                parts = name.split("@")
                c.subs.pop((parts[0], parts[1] if len(parts) > 1 else ""), None)
            c.push(json.dumps({"result": None, "id": mid}, separators=(",", ":")))
        elif method == "LIST_SUBSCRIPTIONS":
            c.push(json.dumps({"result": sorted(c.subs.values()), "id": mid}))
        else:
            c.push(json.dumps({"code": 1, "msg": "Invalid request", "id": mid}))

    async def okx_msg(self, c, msg):
        if msg == "ping":
            self.stats["okx_pings"] += 1
            c.push("pong")
            return
        try:
            m = json.loads(msg)
            op, args = m["op"], m["args"]
        except (ValueError, KeyError, TypeError):
            c.push('{"event":"error","code":"60012","msg":"Invalid request","connId":"fake"}')
            return
        for a in args:
            ch, inst = a.get("channel", ""), a.get("instId", "")
            if op == "subscribe":
                if (ch not in ("books", "trades", "bbo-tbt", "tickers") and
                        not ch.startswith("candle")) or ("okx", inst) not in TAPES:
                    c.push(json.dumps({"event": "error", "code": "60018",
                                       "msg": f"Wrong URL or channel:{ch},instId:{inst} doesn't exist.",
                                       "connId": "fake"}))
                    continue
                t = self.tape("okx", inst)
                c.okx_subs.add((ch, inst))
                c.push(json.dumps({"event": "subscribe", "arg": a, "connId": "fake"}))
                if ch == "books" and self.okx_snapshot:
                    b, aa = t.top(400)
                    c.push(json.dumps({"arg": a, "action": "snapshot",
                                       "data": [{"asks": t.okx_levels(aa), "bids": t.okx_levels(b),
                                                 "ts": str(self.now_ms()), "checksum": 0,
                                                 "prevSeqId": -1, "seqId": t.seq}]},
                                      separators=(",", ":")))
            elif op == "unsubscribe":
                c.okx_subs.discard((ch, inst))
                c.push(json.dumps({"event": "unsubscribe", "arg": a, "connId": "fake"}))


async def main_async(args):
    fake = Fake(args)
    ctx = None
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
    for name in args.preload:  # load before listening: a first subscription must not stall
        v, _, sym = name.partition(":")
        if (v, alias_base(v, sym)) not in TAPES:
            sys.exit(f"fake: no tape {name}")
        fake.tapes[(v, sym)] = Tape(fake, v, sym)
    server = await websockets.serve(fake.handler, args.host, args.port, ssl=ctx,
                                    process_request=fake.process_request,
                                    ping_interval=args.ping_interval, ping_timeout=args.ping_interval * 3,
                                    max_size=1 << 20, compression=None)
    port = server.sockets[0].getsockname()[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    print(f"fake: listening on {args.host}:{port} ({'tls' if ctx else 'plain'})", file=sys.stderr, flush=True)
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, fake.stop.set)
    deadline = time.monotonic() + args.lifetime

    async def watchdog():
        while not fake.stop.is_set():
            if time.monotonic() > deadline:
                print("fake: lifetime over, exiting", file=sys.stderr, flush=True)
                fake.stop.set()
            if args.parent and not os.path.exists(f"/proc/{args.parent}"):
                fake.stop.set()
            await asyncio.sleep(0.2)

    loop.create_task(watchdog())
    await fake.stop.wait()
    server.close()
    for c in list(fake.conns):
        c.ws.transport.abort()
    try:
        await asyncio.wait_for(server.wait_closed(), 2)
    except asyncio.TimeoutError:
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--data", default=os.environ.get("KESTREL_SHARED_DATA", "../shared/data"))
    ap.add_argument("--rate", type=int, default=5000, help="capture messages per second (0: flat out)")
    ap.add_argument("--max-lines", type=int, default=0, help="stream lines per tape (0: all)")
    ap.add_argument("--lifetime", type=float, default=300, help="exit after this many seconds")
    ap.add_argument("--conn-lifetime", type=float, default=0, help="close connections after S s")
    ap.add_argument("--parent", type=int, default=0, help="exit when this pid is gone")
    ap.add_argument("--queue", type=int, default=100000, help="frames queued per connection")
    ap.add_argument("--ping-interval", type=float, default=20)
    ap.add_argument("--okx-snapshot", action="store_true", help="push OKX book snapshots")
    ap.add_argument("--preload", action="append", default=[], metavar="VENUE:SYMBOL",
                    help="load this tape before listening (repeatable)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--shift-times", action="store_true",
                    help="move the captures' exchange times (E, T) to now (live app tests)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        sys.exit("fake: loopback only (--host 127.0.0.1, ::1 or localhost)")
    if bool(args.cert) != bool(args.key):
        sys.exit("fake: --cert and --key go together")
    random.seed(args.seed)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
