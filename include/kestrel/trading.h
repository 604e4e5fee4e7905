/* The app's trading: one strategy runner (runner.h: engine, risk, paper broker, portfolio) on the
 * app's market and market clock, the same code `kestrel backtest` runs; its fills written to the
 * store's durable lane; the trading commands of the command table (start, pause-trading, signal,
 * order, close, close-all, positions, orders, fills, trades, portfolio, risk, metrics) and the
 * "trading" section of the status document. `kestrel export` reads what the store kept. */
#ifndef KESTREL_TRADING_H
#define KESTREL_TRADING_H
#include <stddef.h>

struct app;
struct cJSON;
typedef struct cmd_ctx cmd_ctx;
typedef struct trading trading;

/* Subscribes the runner (after the store and display subscribers). K_OK or K_ERR + message. */
int trading_open(struct app *a, char *err, size_t errlen);
void trading_close(struct app *a); /* trading_flush first when the store is still open */
/* Signals scored so far, the metrics and a model state checkpoint to the store (sigstore.h):
 * app_stop calls it before the store closes. */
void trading_flush(struct app *a);
/* The signal store (recent reasons, alerts, counters) for the AI screen; NULL without a store. */
struct sigstore *trading_sigstore(struct app *a);
/* The alert history (alerts.h) for the AI screen and the bell; NULL before trading_open. */
struct alerts *trading_alerts(struct app *a);
void cmd_status_trading(cmd_ctx *c, struct cJSON *doc);

/* `kestrel export fills|signals|metrics --format csv|json [--db FILE]`: exit status. */
int trading_export_main(int argc, char **argv);

#endif
