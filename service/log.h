/*
 * The service's log: one line per record on stderr, either
 *
 *   ts=2026-12-03T16:50:01.123Z level=info pid=42 msg="model loaded" users=9
 *
 * or the same record as a JSON object. Only service/ logs; the levels below
 * the configured one are dropped before anything is formatted.
 */
#ifndef SVC_LOG_H
#define SVC_LOG_H

#include <stdbool.h>

enum svc_log_level {
    SVC_LOG_DEBUG,
    SVC_LOG_INFO,
    SVC_LOG_WARN,
    SVC_LOG_ERROR,
};

enum svc_log_format {
    SVC_LOG_TEXT, /* key=value */
    SVC_LOG_JSON,
};

/* Set the lowest level written and the line format (default: info, text). */
void svc_log_setup(enum svc_log_level min_level, enum svc_log_format format);

/* Parse "debug", "info", "warn" or "error"; returns -1 when unknown. */
int svc_log_level_parse(const char *name);

/* Parse "text" or "json"; returns -1 when unknown. */
int svc_log_format_parse(const char *name);

/* True when a record of this level would be written. */
bool svc_log_enabled(enum svc_log_level level);

/*
 * Write a record. msg is a fixed, lowercase sentence saying what happened;
 * kvfmt (may be NULL) is a printf format that expands to space-separated
 * key=value fields, e.g. "path=%s status=%d". A value that may hold spaces
 * or quotes must be written with %q-style quoting by svc_log_quote().
 */
void svc_log(enum svc_log_level level, const char *msg, const char *kvfmt, ...)
    __attribute__((format(printf, 3, 4)));

#define svc_log_debug(...) svc_log(SVC_LOG_DEBUG, __VA_ARGS__)
#define svc_log_info(...)  svc_log(SVC_LOG_INFO, __VA_ARGS__)
#define svc_log_warn(...)  svc_log(SVC_LOG_WARN, __VA_ARGS__)
#define svc_log_error(...) svc_log(SVC_LOG_ERROR, __VA_ARGS__)

/*
 * Quote s as a field value: wrapped in double quotes, with '"' and '\'
 * escaped and control bytes written as \xNN. Writes at most size bytes
 * (always NUL-terminated) into buf and returns buf.
 */
const char *svc_log_quote(char *buf, unsigned size, const char *s);

#endif
