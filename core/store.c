#include "gnn_store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* One caller's batch waiting for, or taking part in, a group commit. */
struct pending {
    struct gnn_event *events;
    size_t n;
    const char *idem_key, *idem_hash, *idem_response;
    int idem_status;
    enum gnn_append_outcome *outcome;
    int64_t *seq;
    int ret;
    struct gnn_error err;
    bool done;
    struct pending *next;
};

struct gnn_store {
    char *path;
    sqlite3 *wdb; /* used only by the thread leading a commit */
    sqlite3 *rdb; /* reads, under read_lock */
    sqlite3_stmt *insert_event, *insert_idem;
    pthread_mutex_t lock; /* queue, committing, commits */
    pthread_cond_t done_cv;
    struct pending *head, *tail;
    bool committing;
    int64_t commits;
    pthread_mutex_t read_lock;
};

static const char *const type_names[] = {"view", "click", "cart", "purchase",
                                         "rating"};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS events ("
    " seq INTEGER PRIMARY KEY,"
    " event_id TEXT NOT NULL UNIQUE,"
    " user_id TEXT NOT NULL,"
    " item_id TEXT NOT NULL,"
    " type TEXT NOT NULL CHECK (type IN"
    "  ('view','click','cart','purchase','rating')),"
    " value REAL,"
    " occurred_at INTEGER NOT NULL,"
    " received_at INTEGER NOT NULL,"
    " session_id TEXT);"
    "CREATE INDEX IF NOT EXISTS events_by_user ON events(user_id, seq);"
    "CREATE TABLE IF NOT EXISTS idempotency ("
    " key TEXT PRIMARY KEY,"
    " request_hash TEXT NOT NULL,"
    " status INTEGER NOT NULL,"
    " response TEXT NOT NULL,"
    " created_at INTEGER NOT NULL);"
    "PRAGMA user_version = 1;";

const char *gnn_event_type_name(enum gnn_event_type type)
{
    if ((unsigned)type >= sizeof(type_names) / sizeof(type_names[0]))
        return NULL;
    return type_names[type];
}

int gnn_event_type_parse(const char *name)
{
    for (int i = 0; i < 5; i++) {
        if (strcmp(name, type_names[i]) == 0)
            return i;
    }
    return -1;
}

void gnn_idem_record_clear(struct gnn_idem_record *r)
{
    free(r->request_hash);
    free(r->response);
    memset(r, 0, sizeof(*r));
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int db_error(struct gnn_error *err, sqlite3 *db, const char *path,
                    const char *what)
{
    int code = sqlite3_extended_errcode(db);

    if ((code & 0xff) == SQLITE_FULL)
        return gnn_error_set(err, GNN_EIO, "%s: %s: disk full", path, what);
    return gnn_error_set(err, GNN_EIO, "%s: %s: %s", path, what,
                         sqlite3_errmsg(db));
}

static int open_db(const char *path, sqlite3 **db, struct gnn_error *err)
{
    int flags =
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;

    if (sqlite3_open_v2(path, db, flags, NULL) != SQLITE_OK) {
        int ret = db_error(err, *db, path, "cannot open");
        sqlite3_close(*db);
        *db = NULL;
        return ret;
    }

    /* Writers and checkpoints briefly lock the file; wait, don't fail. */
    sqlite3_busy_timeout(*db, 10000);
    if (sqlite3_exec(*db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "PRAGMA foreign_keys=ON;",
                     NULL, NULL, NULL) != SQLITE_OK)
        return db_error(err, *db, path, "cannot set WAL mode");
    return 0;
}

static int prepare(struct gnn_store *s, struct gnn_error *err)
{
    static const char insert_event[] =
        "INSERT INTO events (event_id, user_id, item_id, type, value,"
        " occurred_at, received_at, session_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(event_id) DO NOTHING";
    static const char insert_idem[] =
        "INSERT INTO idempotency (key, request_hash, status, response,"
        " created_at) VALUES (?, ?, ?, ?, ?)";

    if (sqlite3_prepare_v2(s->wdb, insert_event, -1, &s->insert_event, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(s->wdb, insert_idem, -1, &s->insert_idem, NULL) !=
            SQLITE_OK)
        return db_error(err, s->wdb, s->path, "cannot prepare statements");
    return 0;
}

int gnn_store_open(const char *path, struct gnn_store **out,
                   struct gnn_error *err)
{
    struct gnn_store *s = calloc(1, sizeof(*s));
    int ret;

    *out = NULL;
    if (s == NULL || (s->path = strdup(path)) == NULL) {
        free(s);
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate a store");
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->done_cv, NULL);
    pthread_mutex_init(&s->read_lock, NULL);

    ret = open_db(path, &s->wdb, err);
    if (ret == 0 &&
        sqlite3_exec(s->wdb, schema_sql, NULL, NULL, NULL) != SQLITE_OK)
        ret = db_error(err, s->wdb, path, "cannot create the schema");
    if (ret == 0)
        ret = prepare(s, err);
    if (ret == 0)
        ret = open_db(path, &s->rdb, err);
    if (ret != 0) {
        gnn_store_close(s);
        return ret;
    }
    *out = s;
    return 0;
}

void gnn_store_close(struct gnn_store *s)
{
    if (s == NULL)
        return;
    sqlite3_finalize(s->insert_event);
    sqlite3_finalize(s->insert_idem);
    sqlite3_close(s->wdb);
    sqlite3_close(s->rdb);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->done_cv);
    pthread_mutex_destroy(&s->read_lock);
    free(s->path);
    free(s);
}

static void generate_event_id(char *out)
{
    unsigned char bytes[16];

    /* getrandom() for 16 bytes never blocks once the pool is ready. */
    if (getrandom(bytes, sizeof(bytes), 0) != (ssize_t)sizeof(bytes)) {
        uint64_t t = (uint64_t)now_ms() ^ (uint64_t)(uintptr_t)out;
        memcpy(bytes, &t, sizeof(t));
        memcpy(bytes + 8, &t, sizeof(t));
    }
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", bytes[i]);
}

static int insert_one(struct gnn_store *s, struct gnn_event *ev,
                      int64_t received, enum gnn_append_outcome *outcome,
                      int64_t *seq, struct gnn_error *err)
{
    sqlite3_stmt *st = s->insert_event;

    if (ev->event_id[0] == '\0')
        generate_event_id(ev->event_id);

    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, ev->event_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ev->user_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, ev->item_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, type_names[ev->type], -1, SQLITE_STATIC);
    if (ev->type == GNN_EVENT_RATING)
        sqlite3_bind_double(st, 5, ev->value);
    else
        sqlite3_bind_null(st, 5);
    sqlite3_bind_int64(st, 6, ev->occurred_at_ms);
    sqlite3_bind_int64(st, 7, received);
    if (ev->session_id != NULL)
        sqlite3_bind_text(st, 8, ev->session_id, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 8);

    if (sqlite3_step(st) != SQLITE_DONE)
        return db_error(err, s->wdb, s->path, "cannot insert an event");

    bool added = sqlite3_changes(s->wdb) > 0;
    *outcome = added ? GNN_APPENDED : GNN_DUPLICATE;
    *seq = added ? sqlite3_last_insert_rowid(s->wdb) : 0;
    return 0;
}

static int insert_idem(struct gnn_store *s, const struct pending *p,
                       int64_t now, struct gnn_error *err)
{
    sqlite3_stmt *st = s->insert_idem;

    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, p->idem_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, p->idem_hash ? p->idem_hash : "", -1,
                      SQLITE_STATIC);
    sqlite3_bind_int(st, 3, p->idem_status);
    sqlite3_bind_text(st, 4, p->idem_response ? p->idem_response : "", -1,
                      SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now);

    int rc = sqlite3_step(st);
    if (rc == SQLITE_CONSTRAINT)
        return gnn_error_set(err, GNN_EEXIST, "idempotency key '%s' is taken",
                             p->idem_key);
    if (rc != SQLITE_DONE)
        return db_error(err, s->wdb, s->path,
                        "cannot store an idempotency record");
    return 0;
}

/* Write one caller's batch inside the group's transaction. */
static int write_batch(struct gnn_store *s, struct pending *p, int64_t now)
{
    enum gnn_append_outcome outcome = GNN_DUPLICATE;
    int64_t seq = 0;
    int ret = 0;

    for (size_t i = 0; ret == 0 && i < p->n; i++) {
        ret = insert_one(s, &p->events[i], now, &outcome, &seq, &p->err);
        if (ret == 0 && p->outcome != NULL)
            p->outcome[i] = outcome;
        if (ret == 0 && p->seq != NULL)
            p->seq[i] = seq;
    }
    if (ret == 0 && p->idem_key != NULL)
        ret = insert_idem(s, p, now, &p->err);
    return ret;
}

static int exec(struct gnn_store *s, const char *sql, struct gnn_error *err)
{
    if (sqlite3_exec(s->wdb, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_error(err, s->wdb, s->path, sql);
    return 0;
}

/*
 * Commit every batch of the list in one transaction. Each batch has its
 * own savepoint, so one batch's failure (a taken idempotency key) undoes
 * that batch alone; a failed COMMIT fails them all.
 */
static void commit_group(struct gnn_store *s, struct pending *list)
{
    struct gnn_error err = {0};
    int64_t now = now_ms();
    int ret = exec(s, "BEGIN IMMEDIATE", &err);

    for (struct pending *p = list; ret == 0 && p != NULL; p = p->next) {
        ret = exec(s, "SAVEPOINT batch", &err);
        if (ret != 0)
            break;
        p->ret = write_batch(s, p, now);
        if (p->ret != 0)
            ret = exec(s, "ROLLBACK TO batch", &err);
        if (ret == 0)
            ret = exec(s, "RELEASE batch", &err);
    }
    if (ret == 0)
        ret = exec(s, "COMMIT", &err);
    if (ret == 0)
        return;

    sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
    for (struct pending *p = list; p != NULL; p = p->next) {
        p->ret = ret;
        p->err = err;
    }
}

int gnn_store_append(struct gnn_store *s, struct gnn_event *events, size_t n,
                     const char *idem_key, const char *idem_hash,
                     int idem_status, const char *idem_response,
                     enum gnn_append_outcome *outcome, int64_t *seq,
                     struct gnn_error *err)
{
    struct pending me = {
        .events = events,
        .n = n,
        .idem_key = idem_key,
        .idem_hash = idem_hash,
        .idem_response = idem_response,
        .idem_status = idem_status,
        .outcome = outcome,
        .seq = seq,
    };

    for (size_t i = 0; i < n; i++) {
        if ((unsigned)events[i].type > GNN_EVENT_RATING ||
            events[i].user_id == NULL || events[i].item_id == NULL)
            return gnn_error_set(err, GNN_EINVAL, "event %zu is incomplete", i);
    }

    pthread_mutex_lock(&s->lock);
    if (s->tail != NULL)
        s->tail->next = &me;
    else
        s->head = &me;
    s->tail = &me;

    while (!me.done) {
        if (s->committing) {
            pthread_cond_wait(&s->done_cv, &s->lock);
            continue;
        }

        /* Lead a commit of everything queued so far, this batch included. */
        struct pending *group = s->head;
        s->head = s->tail = NULL;
        s->committing = true;
        pthread_mutex_unlock(&s->lock);

        commit_group(s, group);

        pthread_mutex_lock(&s->lock);
        for (struct pending *p = group; p != NULL; p = p->next)
            p->done = true;
        s->commits++;
        s->committing = false;
        pthread_cond_broadcast(&s->done_cv);
    }
    pthread_mutex_unlock(&s->lock);

    if (me.ret != 0 && err != NULL)
        *err = me.err;
    return me.ret;
}

static char *dup_column(sqlite3_stmt *st, int col)
{
    const unsigned char *text = sqlite3_column_text(st, col);
    return strdup(text ? (const char *)text : "");
}

int gnn_store_idem_get(struct gnn_store *s, const char *key,
                       struct gnn_idem_record *rec, struct gnn_error *err)
{
    sqlite3_stmt *st = NULL;
    int ret;

    memset(rec, 0, sizeof(*rec));
    pthread_mutex_lock(&s->read_lock);
    if (sqlite3_prepare_v2(s->rdb,
                           "SELECT request_hash, status, response FROM "
                           "idempotency WHERE key = ?",
                           -1, &st, NULL) != SQLITE_OK) {
        ret = db_error(err, s->rdb, s->path, "cannot read idempotency");
        goto out;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);

    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        ret = gnn_error_set(err, GNN_ENOENT, "no idempotency key '%s'", key);
    } else if (rc != SQLITE_ROW) {
        ret = db_error(err, s->rdb, s->path, "cannot read idempotency");
    } else {
        rec->request_hash = dup_column(st, 0);
        rec->status = sqlite3_column_int(st, 1);
        rec->response = dup_column(st, 2);
        ret = 0;
        if (rec->request_hash == NULL || rec->response == NULL) {
            gnn_idem_record_clear(rec);
            ret = gnn_error_set(err, GNN_ENOMEM, "cannot copy a record");
        }
    }
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->read_lock);
    return ret;
}

static int query_int64(struct gnn_store *s, const char *sql, int64_t *out,
                       struct gnn_error *err)
{
    sqlite3_stmt *st = NULL;
    int ret = 0;

    pthread_mutex_lock(&s->read_lock);
    if (sqlite3_prepare_v2(s->rdb, sql, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW)
        ret = db_error(err, s->rdb, s->path, sql);
    else
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->read_lock);
    return ret;
}

int gnn_store_last_seq(struct gnn_store *s, int64_t *seq, struct gnn_error *err)
{
    return query_int64(s, "SELECT COALESCE(MAX(seq), 0) FROM events", seq, err);
}

int gnn_store_count(struct gnn_store *s, int64_t *count, struct gnn_error *err)
{
    return query_int64(s, "SELECT COUNT(*) FROM events", count, err);
}

static void row_to_event(sqlite3_stmt *st, struct gnn_event *ev)
{
    const char *id = (const char *)sqlite3_column_text(st, 1);

    memset(ev, 0, sizeof(*ev));
    snprintf(ev->event_id, sizeof(ev->event_id), "%s", id ? id : "");
    ev->user_id = (const char *)sqlite3_column_text(st, 2);
    ev->item_id = (const char *)sqlite3_column_text(st, 3);
    int type = gnn_event_type_parse((const char *)sqlite3_column_text(st, 4));
    ev->type = type < 0 ? GNN_EVENT_VIEW : (enum gnn_event_type)type;
    ev->value = sqlite3_column_double(st, 5);
    ev->occurred_at_ms = sqlite3_column_int64(st, 6);
    ev->session_id = (const char *)sqlite3_column_text(st, 7);
}

int gnn_store_scan(struct gnn_store *s, int64_t after_seq, gnn_store_scan_fn fn,
                   void *ctx, struct gnn_error *err)
{
    sqlite3_stmt *st = NULL;
    struct gnn_event ev;
    int ret = 0, rc;

    pthread_mutex_lock(&s->read_lock);
    if (sqlite3_prepare_v2(s->rdb,
                           "SELECT seq, event_id, user_id, item_id, type,"
                           " value, occurred_at, session_id FROM events"
                           " WHERE seq > ? ORDER BY seq",
                           -1, &st, NULL) != SQLITE_OK) {
        ret = db_error(err, s->rdb, s->path, "cannot scan events");
        goto out;
    }
    sqlite3_bind_int64(st, 1, after_seq);

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row_to_event(st, &ev);
        ret = fn(ctx, sqlite3_column_int64(st, 0), &ev);
        if (ret != 0)
            goto out;
    }
    if (rc != SQLITE_DONE)
        ret = db_error(err, s->rdb, s->path, "cannot scan events");
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->read_lock);
    return ret;
}

int64_t gnn_store_commits(const struct gnn_store *s)
{
    struct gnn_store *m = (struct gnn_store *)s;

    pthread_mutex_lock(&m->lock);
    int64_t n = m->commits;
    pthread_mutex_unlock(&m->lock);
    return n;
}
