/* `kestrel backtest`: the live engine fed from history on the simulated clock. Kline CSVs go
 * through klines.h + ingest_event, replay captures through the replay reader +
 * ingest_replay_line, into the same market model; the strategy runner (runner.h) drives the same
 * engine, risk engine, paper broker and portfolio as `--replay` auto-trading. The report (text,
 * JSON with --json; schema in docs/BACKTEST.md) has costs, trades, classification metrics,
 * baselines on the same data and costs, block-bootstrap intervals and verdicts; sweeps add the
 * number of configurations, the Deflated Sharpe Ratio of the winner and the PBO (CSCV, 16
 * blocks). Deterministic for a seed: the report has no wall-clock content. */
#ifndef KESTREL_BACKTEST_H
#define KESTREL_BACKTEST_H

#include "kestrel/runner.h"

/* The backtest's runner config: runner_config_default() with auto-trading on, no paper latency
 * (bars have no sub-bar time; captures may set paper.latency_ms), a long signal history. The
 * parity test and the app's replay auto-trading start from it. */
void backtest_config_default(runner_config *c);

/* argv[0] is "backtest". Exit 0 on success, 1 on a run error, 2 on a usage error. */
int backtest_main(int argc, char **argv);

#endif
