/* metrics: accumulators on a hand-computed example (accuracy, Brier, log loss, ECE, per-class
 * precision/recall/F1, deciles), rolling window, the `ctl metrics` JSON shape, health NaN below
 * 30 samples, and the CSV/JSON export read back and recomputed to the same numbers. */
#include "check.h"
#include "kestrel/metrics.h"
#include "signals_csv.h"

static const metrics_rec recs[4] = {
    { { 0.1, 0.2, 0.7 }, 0.7, MODEL_BUY, MODEL_BUY },
    { { 0.1, 0.2, 0.7 }, 0.75, MODEL_BUY, MODEL_SELL },
    { { 0.6, 0.3, 0.1 }, 0.6, MODEL_SELL, MODEL_SELL },
    { { 0.2, 0.5, 0.3 }, 0.05, MODEL_HOLD, MODEL_HOLD },
};

static void test_acc(void)
{
    metrics_acc a;
    memset(&a, 0, sizeof a);
    for (int i = 0; i < 4; i++)
        metrics_acc_add(&a, &recs[i]);
    metrics_rec bad = recs[0];
    bad.outcome = 3;
    metrics_acc_add(&a, &bad);
    metrics_summary s;
    metrics_acc_summary(&a, &s);
    CHECK_INT(s.n, 4);
    CHECK_NEAR(s.accuracy, 0.75, 1e-15);
    double b0 = 0.01 + 0.04 + 0.09, b1 = 0.81 + 0.04 + 0.49, b2 = 0.16 + 0.09 + 0.01,
           b3 = 0.04 + 0.25 + 0.09;
    CHECK_NEAR(s.brier, (b0 + b1 + b2 + b3) / 4, 1e-12);
    CHECK_NEAR(s.log_loss, (-log(0.7) - log(0.1) - log(0.6) - log(0.5)) / 4, 1e-12);
    /* bins: 0 -> {0.05 hit}, 6 -> {0.6 hit}, 7 -> {0.7 hit, 0.75 miss} */
    double ece = 0.25 * fabs(1 - 0.05) + 0.25 * fabs(1 - 0.6) + 0.5 * fabs(0.5 - 0.725);
    CHECK_NEAR(s.ece, ece, 1e-12);
    CHECK_INT(s.bin_n[7], 2);
    CHECK_NEAR(s.bin_hit[7], 0.5, 1e-15);
    CHECK(isnan(s.bin_conf[3]));
    CHECK_NEAR(s.precision[MODEL_BUY], 0.5, 1e-15);
    CHECK_NEAR(s.recall[MODEL_BUY], 1.0, 1e-15);
    CHECK_NEAR(s.f1[MODEL_BUY], 2 * 0.5 / 1.5, 1e-12);
    CHECK_NEAR(s.recall[MODEL_SELL], 0.5, 1e-15);
    CHECK_INT(s.support[MODEL_SELL], 2);
    CHECK_INT(metrics_bin(1.0), 9);
    CHECK_INT(metrics_bin(-1), 0);
    CHECK_INT(metrics_bin(0.1), 1);
    metrics_acc_summary(&(metrics_acc){ 0 }, &s);
    CHECK(isnan(s.accuracy) && s.n == 0);
}

static void test_track_json(void)
{
    metrics_track *t = metrics_track_new(2);
    for (int i = 0; i < 4; i++)
        metrics_track_add(t, &recs[i]);
    metrics_summary all, roll;
    metrics_track_all(t, &all);
    metrics_track_rolling(t, &roll);
    CHECK_INT(all.n, 4);
    CHECK_INT(roll.n, 2);
    CHECK_NEAR(roll.accuracy, 1.0, 0);
    metrics_track_free(t);

    const char *names[2] = { "logreg", "mlp" };
    metrics_set *m = metrics_set_new(100, 2, names);
    for (int i = 0; i < 4; i++) {
        metrics_set_ensemble(m, &recs[i]);
        metrics_set_model(m, 1, &recs[i]);
        metrics_set_baseline(m, METRICS_MAJORITY, &recs[3]);
    }
    metrics_set_trade(m, 0.01);
    metrics_set_trade(m, -0.004);
    metrics_set_trade(m, 0.002);
    CHECK(isnan(metrics_set_health(m)));
    cJSON *tree = metrics_set_json(m);
    char *txt = cJSON_PrintUnformatted(tree);
    cJSON_Delete(tree);
    cJSON *j = cJSON_Parse(txt);
    free(txt);
    cJSON *ens = cJSON_GetObjectItem(j, "ensemble");
    cJSON *at = cJSON_GetObjectItem(ens, "all_time");
    CHECK_INT(cJSON_GetObjectItem(at, "n")->valuedouble, 4);
    CHECK_NEAR(cJSON_GetObjectItem(at, "accuracy")->valuedouble, 0.75, 0);
    CHECK(cJSON_GetObjectItem(at, "brier") && cJSON_GetObjectItem(at, "log_loss") &&
          cJSON_GetObjectItem(at, "ece"));
    CHECK(cJSON_GetObjectItem(ens, "rolling") != NULL);
    cJSON *mlp = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "models"), "mlp");
    CHECK_INT(cJSON_GetObjectItem(mlp, "n")->valuedouble, 4);
    cJSON *lr = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "models"), "logreg");
    CHECK_INT(cJSON_GetObjectItem(lr, "n")->valuedouble, 0);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(lr, "accuracy")));
    cJSON *maj = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "baselines"), "majority");
    CHECK_NEAR(cJSON_GetObjectItem(maj, "accuracy")->valuedouble, 1.0, 0);
    CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "baselines"), "rules") != NULL);
    cJSON *tr = cJSON_GetObjectItem(j, "traded");
    CHECK_NEAR(cJSON_GetObjectItem(tr, "win_rate")->valuedouble, 2.0 / 3.0, 1e-15);
    CHECK_NEAR(cJSON_GetObjectItem(tr, "profit_factor")->valuedouble, 0.012 / 0.004, 1e-12);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "health")));
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(at, "deciles")), 10);
    cJSON_Delete(j);
    metrics_set_free(m);
}

static void test_export(void)
{
    metrics_signal_row rows[3];
    memset(rows, 0, sizeof rows);
    for (int i = 0; i < 3; i++) {
        rows[i].id = (uint64_t)i + 1;
        rows[i].time_ms = 1670889600000LL + i * 30000;
        rows[i].horizon_end_ms = rows[i].time_ms + 900000;
        snprintf(rows[i].symbol, sizeof rows[i].symbol, "BTCUSDT");
        rows[i].action = recs[i].predicted;
        memcpy(rows[i].p, recs[i].p, sizeof rows[i].p);
        rows[i].confidence = recs[i].confidence;
        rows[i].strength = 0.3 * i;
        rows[i].scored = i < 2;
        rows[i].outcome = recs[i].outcome;
        rows[i].result = i == 0 ? 1 : -1;
        rows[i].ret = i == 0 ? 0.0123456789012345678 : -0.001;
        snprintf(rows[i].regime, sizeof rows[i].regime, "ranging");
        snprintf(rows[i].source, sizeof rows[i].source, "ensemble");
        snprintf(rows[i].first_hit, sizeof rows[i].first_hit, "none");
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    CHECK_INT(metrics_export_csv(fp, rows, 3), K_OK);
    fclose(fp);
    CHECK(strncmp(buf, "id,time,symbol,horizon_end,action,p_buy,p_hold,p_sell,confidence,"
                       "strength,outcome,result,return,scored", 101) == 0);
    CHECK(strstr(buf, "1,2022-12-13T00:00:00.000Z,BTCUSDT,2022-12-13T00:15:00.000Z,BUY,") != NULL);
    CHECK(strstr(buf, ",,,0,ranging") != NULL); /* the unscored row */
    fp = fmemopen(buf, len, "r");
    csv_signal *v = NULL;
    int n = csv_signals_read(fp, &v);
    fclose(fp);
    CHECK_INT(n, 3);
    if (n == 3) {
        CHECK_NEAR(v[0].ret, 0.0123456789012345678, 0);
        CHECK_STR(v[1].result, "loss");
        CHECK_INT(v[2].scored, 0);
        metrics_acc a;
        memset(&a, 0, sizeof a);
        metrics_acc_add(&a, &recs[0]);
        metrics_acc_add(&a, &recs[1]);
        metrics_summary s;
        metrics_acc_summary(&a, &s);
        double cn, acc, br, ll, ece;
        csv_signals_metrics(v, n, &cn, &acc, &br, &ll, &ece);
        CHECK_INT(cn, s.n);
        CHECK(acc == s.accuracy && br == s.brier && ll == s.log_loss && ece == s.ece);
    }
    free(v);
    free(buf);
    buf = NULL;
    fp = open_memstream(&buf, &len);
    CHECK_INT(metrics_export_json(fp, rows, 3), K_OK);
    fclose(fp);
    cJSON *j = cJSON_Parse(buf);
    CHECK(cJSON_IsArray(j) && cJSON_GetArraySize(j) == 3);
    cJSON *r2 = cJSON_GetArrayItem(j, 2);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(r2, "outcome")));
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(r2, "scored")));
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 0), "action")->valuestring, "BUY");
    cJSON_Delete(j);
    free(buf);
}

int main(void)
{
    test_acc();
    test_track_json();
    test_export();
    CHECK_DONE();
}
