#include "gnn_report.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

static int set_real(json_t *o, const char *key, double v)
{
    return json_object_set_new(o, key, json_real(v));
}

json_t *gnn_metrics_json(const struct gnn_metrics *m)
{
    static const char *const names[] = {"recall", "ndcg", "hit", "mrr",
                                        "precision"};
    json_t *o = json_object();
    char key[32];
    int bad = o == NULL;

    for (int32_t c = 0; c < m->n_cut && !bad; c++) {
        const double v[] = {m->recall[c], m->ndcg[c], m->hit[c], m->mrr[c],
                            m->precision[c]};
        for (int f = 0; f < 5; f++) {
            snprintf(key, sizeof(key), "%s@%d", names[f], m->cut[c]);
            bad |= set_real(o, key, v[f]) != 0;
        }
    }
    if (!bad)
        bad |= json_object_set_new(o, "users", json_integer(m->n_users));
    if (!bad)
        bad |= set_real(o, "seconds", m->seconds);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *gnn_train_result_json(const struct gnn_train_result *r)
{
    json_t *o = json_pack(
        "{s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:f}", "epochs_run",
        (json_int_t)r->epochs_run, "best_epoch", (json_int_t)r->best_epoch,
        "seconds_per_epoch", r->seconds_per_epoch, "cpu_seconds_per_epoch",
        r->cpu_seconds_per_epoch, "train_seconds", r->train_seconds,
        "wall_seconds", r->wall_seconds, "seconds_to_best", r->seconds_to_best,
        "final_loss", r->final_loss);
    const struct gnn_minibatch_plan *p = &r->minibatch;
    json_t *mb = json_pack(
        "{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:I, s:I, s:b}", "mode",
        gnn_minibatch_mode_name(p->mode), "clusters", (json_int_t)p->clusters,
        "clusters_per_batch", (json_int_t)p->per_batch, "steps_per_epoch",
        (json_int_t)p->steps, "saint_roots", (json_int_t)p->saint_roots,
        "saint_walk", (json_int_t)p->saint_walk, "saint_presample",
        (json_int_t)p->saint_presample, "full_bytes_estimate",
        (json_int_t)p->full_bytes, "batch_bytes_estimate",
        (json_int_t)p->batch_bytes, "fits", p->fits);
    if (o != NULL && mb != NULL)
        json_object_set_new(o, "minibatch", mb);
    else
        json_decref(mb);
    return o;
}

int64_t gnn_peak_rss_bytes(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return (int64_t)ru.ru_maxrss * 1024; /* Linux reports KiB */
}

int gnn_report_write(const json_t *report, const char *path,
                     struct gnn_error *err)
{
    char tmp[4096];

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
        return gnn_error_set(err, GNN_EINVAL, "report path too long");
    if (json_dump_file(report, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
        return gnn_error_set(err, GNN_EIO, "cannot write report '%s'", tmp);
    if (rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return gnn_error_set(err, GNN_EIO, "cannot rename '%s' to '%s': %s",
                             tmp, path, strerror(e));
    }
    return 0;
}
