/* The app's trading: one strategy runner (runner.h: engine, risk, paper broker, portfolio) on the
 * app's market and market clock, the same code `kestrel backtest` runs; its orders, fills,
 * account, round trips and equity written to the store's durable lane and restored at start;
 * the trading commands of the command table (start, pause-trading, signal, order, cancel,
 * cancel-order, close, close-all, positions, orders, fills, trades, portfolio, risk, get, set,
 * metrics) and the "trading" section of the status document. `kestrel export` reads what the
 * store kept. */
#ifndef KESTREL_TRADING_H
#define KESTREL_TRADING_H
#include <stddef.h>

struct app;
struct cJSON;
typedef struct cmd_ctx cmd_ctx;
typedef struct trading trading;

/* Subscribes the runner (after the store and display subscribers). K_OK or K_ERR + message. */
int trading_open(struct app *a, char *err, size_t errlen);
void trading_close(struct app *a); /* trading_engine_flush first when the store is still open */
/* Before a re-run (seek backwards, restart) closes trading: the open orders are closed in the
 * journal (CANCELED, "the replay re-ran from its start") and the account record removed, so a
 * later start does not bring the earlier run back; the next trading_open uses a new id epoch. */
void trading_abandon(struct app *a);
/* Signals scored so far, the metrics and a model state checkpoint to the store (sigstore.h):
 * app_stop calls it before the store closes. */
void trading_engine_flush(struct app *a);
/* The signal store (recent reasons, alerts, counters) for the AI screen; NULL without a store. */
struct sigstore *trading_sigstore(struct app *a);
/* The alert history (alerts.h) for the AI screen and the bell; NULL before trading_open. */
struct alerts *trading_alerts(struct app *a);
/* At start, once (not on a seek's re-run): the account, positions, P&L, round trips, equity
 * curve and open orders as the store's durable lane kept them (docs/TRADING.md). K_OK (also
 * with nothing stored) or K_ERR + message. */
int trading_restore(struct app *a, char *err, size_t errlen);
void cmd_status_trading(cmd_ctx *c, struct cJSON *doc);

/* The open order the Trading screen has selected (client id, "" / NULL = none): what `C`
 * (cancel-order without an id) cancels. */
void trading_select_order(struct app *a, const char *client_id);

/* `kestrel export fills|trades|equity|signals|metrics --format csv|json [--db FILE]`: exit
 * status. */
int trading_export_main(int argc, char **argv);

#endif
