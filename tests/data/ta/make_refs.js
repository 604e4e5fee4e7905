// Generates TA-Lib reference outputs for Kestrel's indicator tests.
//   cd /tmp/somewhere && npm install talib@1.1.6      (compiles TA-Lib 0.6.0-dev's C source)
//   NODE_PATH=/tmp/somewhere/node_modules node tests/data/ta/make_refs.js IN.csv[.gz] OUT.csv [EVERY TAIL]
// IN: open_time_ms,open,high,low,close,volume (header optional). OUT: open_time_ms then one
// column per Kestrel output name; empty = TA-Lib gives no value (warm-up). Every indicator is
// computed by TA-Lib over the WHOLE input; with EVERY/TAIL only rows i % EVERY == 0 and the last
// TAIL rows are written (to keep long runs small). Composite columns (hma, zscore, keltner,
// donchian, ichimoku, bb_pctb, bb_width) are arithmetic on TA-Lib outputs, as noted below.
'use strict';
const fs = require('fs');
const zlib = require('zlib');
const talib = require('talib');

const [inPath, outPath, everyArg, tailArg] = process.argv.slice(2);
if (!inPath || !outPath) {
  console.error('usage: node make_refs.js IN.csv[.gz] OUT.csv [EVERY TAIL]');
  process.exit(2);
}
let text = fs.readFileSync(inPath);
if (inPath.endsWith('.gz')) text = zlib.gunzipSync(text);
const T = [], O = [], H = [], L = [], C = [], V = [];
for (const line of text.toString('utf8').split('\n')) {
  const f = line.trim().split(',');
  if (f.length !== 6 || !/^[0-9]/.test(f[0])) continue;
  T.push(f[0]); O.push(+f[1]); H.push(+f[2]); L.push(+f[3]); C.push(+f[4]); V.push(+f[5]);
}
const n = C.length;
const every = everyArg ? +everyArg : 1, tail = tailArg ? +tailArg : n;

// Runs one TA-Lib function over the whole series; returns { outName: array aligned to input }.
function ta(name, opts) {
  const r = talib.execute(Object.assign({
    name, startIdx: 0, endIdx: n - 1, open: O, high: H, low: L, close: C, volume: V, inReal: C,
  }, opts));
  if (r.error) throw new Error(name + ': ' + JSON.stringify(r.error));
  const out = {};
  for (const k of Object.keys(r.result)) {
    const a = new Array(n).fill(NaN);
    r.result[k].forEach((v, i) => { a[r.begIndex + i] = v; });
    out[k] = a;
  }
  return out;
}
const one = (name, opts) => ta(name, opts).outReal;
const map2 = (a, b, f) => a.map((x, i) => (isNaN(x) || isNaN(b[i]) ? NaN : f(x, b[i], i)));
function onSeries(name, series, opts) { // a TA-Lib function applied to a derived series
  const first = series.findIndex((x) => !isNaN(x));
  const out = new Array(n).fill(NaN);
  if (first < 0) return out;
  const sub = series.slice(first);
  const r = talib.execute(Object.assign({ name, startIdx: 0, endIdx: sub.length - 1, inReal: sub }, opts));
  if (r.error) throw new Error(name + ': ' + JSON.stringify(r.error));
  r.result.outReal.forEach((v, i) => { out[first + r.begIndex + i] = v; });
  return out;
}

const cols = {};
function periodic(per) { return { optInTimePeriod: per }; }
// moving averages
for (const p of [20, 2]) {
  cols['sma_' + p] = one('SMA', periodic(p));
  cols['ema_' + p] = one('EMA', periodic(p));
  cols['wma_' + p] = one('WMA', periodic(p));
}
cols.dema_20 = one('DEMA', periodic(20)); cols.dema_2 = one('DEMA', periodic(2));
cols.tema_20 = one('TEMA', periodic(20)); cols.tema_3 = one('TEMA', periodic(3));
cols.kama_10 = one('KAMA', periodic(10)); cols.kama_30 = one('KAMA', periodic(30));
cols.trix_18 = one('TRIX', periodic(18)); cols.trix_5 = one('TRIX', periodic(5));
// hma_N = WMA(2*WMA(N/2) - WMA(N), floor(sqrt(N)))
for (const p of [20, 9]) {
  const half = one('WMA', periodic(Math.floor(p / 2))), full = one('WMA', periodic(p));
  cols['hma_' + p] = onSeries('WMA', map2(half, full, (h, f) => 2 * h - f),
    periodic(Math.floor(Math.sqrt(p))));
}
// oscillators
cols.rsi_14 = one('RSI', periodic(14)); cols.rsi_2 = one('RSI', periodic(2));
for (const [p, k, d] of [[14, 14, 3], [5, 3, 2]]) {
  const r = ta('STOCHRSI', { optInTimePeriod: p, optInFastK_Period: k, optInFastD_Period: d, optInFastD_MAType: 0 });
  cols[`stochrsi_k_${p}_${k}_${d}`] = r.outFastK; cols[`stochrsi_d_${p}_${k}_${d}`] = r.outFastD;
}
for (const [f, s, g] of [[12, 26, 9], [26, 12, 9], [5, 35, 5]]) {
  const r = ta('MACD', { optInFastPeriod: f, optInSlowPeriod: s, optInSignalPeriod: g });
  cols[`macd_${f}_${s}_${g}`] = r.outMACD; cols[`macd_signal_${f}_${s}_${g}`] = r.outMACDSignal;
  cols[`macd_hist_${f}_${s}_${g}`] = r.outMACDHist;
}
for (const [k, sk, sd] of [[14, 3, 3], [5, 1, 1]]) {
  const r = ta('STOCH', { optInFastK_Period: k, optInSlowK_Period: sk, optInSlowK_MAType: 0, optInSlowD_Period: sd, optInSlowD_MAType: 0 });
  cols[`stoch_k_${k}_${sk}_${sd}`] = r.outSlowK; cols[`stoch_d_${k}_${sk}_${sd}`] = r.outSlowD;
}
{
  const r = ta('STOCHF', { optInFastK_Period: 14, optInFastD_Period: 3, optInFastD_MAType: 0 });
  cols.stochf_k_14_3 = r.outFastK; cols.stochf_d_14_3 = r.outFastD;
}
for (const p of [14, 5]) {
  cols['adx_' + p] = one('ADX', periodic(p));
  cols['plus_di_' + p] = one('PLUS_DI', periodic(p));
  cols['minus_di_' + p] = one('MINUS_DI', periodic(p));
}
for (const p of [14, 25]) {
  const r = ta('AROON', periodic(p));
  cols['aroon_up_' + p] = r.outAroonUp; cols['aroon_down_' + p] = r.outAroonDown;
  cols['aroon_osc_' + p] = one('AROONOSC', periodic(p));
}
cols.cci_20 = one('CCI', periodic(20)); cols.cci_5 = one('CCI', periodic(5));
cols.mfi_14 = one('MFI', periodic(14)); cols.mfi_5 = one('MFI', periodic(5));
cols.obv = one('OBV', {});
cols.roc_10 = one('ROC', periodic(10)); cols.roc_1 = one('ROC', periodic(1));
cols.mom_10 = one('MOM', periodic(10)); cols.mom_1 = one('MOM', periodic(1));
cols.willr_14 = one('WILLR', periodic(14)); cols.willr_3 = one('WILLR', periodic(3));
cols['sar_0.02_0.2'] = one('SAR', { optInAcceleration: 0.02, optInMaximum: 0.2 });
cols['sar_0.03_0.3'] = one('SAR', { optInAcceleration: 0.03, optInMaximum: 0.3 });
cols.ultosc_7_14_28 = one('ULTOSC', { optInTimePeriod1: 7, optInTimePeriod2: 14, optInTimePeriod3: 28 });
cols.ultosc_28_7_14 = one('ULTOSC', { optInTimePeriod1: 28, optInTimePeriod2: 7, optInTimePeriod3: 14 });
cols.linreg_slope_14 = one('LINEARREG_SLOPE', periodic(14));
cols.linreg_slope_2 = one('LINEARREG_SLOPE', periodic(2));
cols.ad = one('AD', {});
cols.adosc_3_10 = one('ADOSC', { optInFastPeriod: 3, optInSlowPeriod: 10 });
// volatility and bands
for (const [p, k] of [[20, 2], [10, 1.5], [20, 1]]) {
  const r = ta('BBANDS', { optInTimePeriod: p, optInNbDevUp: k, optInNbDevDn: k, optInMAType: 0 });
  const u = r.outRealUpperBand, m = r.outRealMiddleBand, l = r.outRealLowerBand;
  cols[`bb_upper_${p}_${k}`] = u; cols[`bb_middle_${p}_${k}`] = m; cols[`bb_lower_${p}_${k}`] = l;
  cols[`bb_pctb_${p}_${k}`] = u.map((x, i) => { const w = x - l[i]; return w !== 0 ? (C[i] - l[i]) / w : 0.5; });
  cols[`bb_width_${p}_${k}`] = u.map((x, i) => (m[i] !== 0 ? 100 * (x - l[i]) / m[i] : 0));
}
cols.atr_14 = one('ATR', periodic(14)); cols.atr_1 = one('ATR', periodic(1));
cols.natr_14 = one('NATR', periodic(14)); cols.natr_5 = one('NATR', periodic(5));
for (const p of [20, 2]) {
  const sd = one('STDDEV', { optInTimePeriod: p, optInNbDev: 1 });
  cols['stddev_' + p] = sd;
  const sma = one('SMA', periodic(p)); // zscore = (close - SMA) / STDDEV, 0 when STDDEV is 0
  cols['zscore_' + p] = map2(sma, sd, (m, s, i) => (s !== 0 ? (C[i] - m) / s : 0));
}
{ // keltner_20_2_10 = EMA(20) +- 2 * ATR(10)
  const e = one('EMA', periodic(20)), a = one('ATR', periodic(10));
  cols.keltner_upper_20_2_10 = map2(e, a, (x, y) => x + 2 * y);
  cols.keltner_middle_20_2_10 = map2(e, a, (x) => x);
  cols.keltner_lower_20_2_10 = map2(e, a, (x, y) => x - 2 * y);
}
{ // donchian_20 = MAX(high, 20), MIN(low, 20), midpoint
  const u = one('MAX', { inReal: H, optInTimePeriod: 20 }), l = one('MIN', { inReal: L, optInTimePeriod: 20 });
  cols.donchian_upper_20 = u; cols.donchian_lower_20 = l;
  cols.donchian_middle_20 = map2(u, l, (x, y) => (x + y) / 2);
}
{ // ichimoku_9_26_52_26 (unshifted, as Kestrel outputs it): MIDPRICE(9), MIDPRICE(26), their
  // mean, MIDPRICE(52), close
  const mp = (p) => one('MIDPRICE', { high: H, low: L, optInTimePeriod: p });
  const t = mp(9), k = mp(26);
  cols.ichimoku_tenkan_9_26_52_26 = t; cols.ichimoku_kijun_9_26_52_26 = k;
  cols.ichimoku_senkou_a_9_26_52_26 = map2(t, k, (x, y) => (x + y) / 2);
  cols.ichimoku_senkou_b_9_26_52_26 = mp(52);
  cols.ichimoku_chikou_9_26_52_26 = C.slice();
}

const names = Object.keys(cols);
const lines = ['open_time_ms,' + names.join(',')];
for (let i = 0; i < n; i++) {
  if (i % every !== 0 && i < n - tail) continue;
  lines.push(T[i] + ',' + names.map((k) => (Number.isFinite(cols[k][i]) ? String(cols[k][i]) : '')).join(','));
}
fs.writeFileSync(outPath, lines.join('\n') + '\n');
console.error(`${outPath}: ${lines.length - 1} rows x ${names.length} columns from ${n} bars`);
