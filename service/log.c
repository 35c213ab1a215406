#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum svc_log_level log_min_level = SVC_LOG_INFO;
static enum svc_log_format log_format = SVC_LOG_TEXT;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void svc_log_setup(enum svc_log_level min_level, enum svc_log_format format)
{
    log_min_level = min_level;
    log_format = format;
}

int svc_log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, level_names[i]) == 0)
            return i;
    }
    if (strcmp(name, "warning") == 0)
        return SVC_LOG_WARN;
    return -1;
}

int svc_log_format_parse(const char *name)
{
    if (strcmp(name, "text") == 0)
        return SVC_LOG_TEXT;
    if (strcmp(name, "json") == 0)
        return SVC_LOG_JSON;
    return -1;
}

bool svc_log_enabled(enum svc_log_level level)
{
    return level >= log_min_level;
}

const char *svc_log_quote(char *buf, unsigned size, const char *s)
{
    unsigned n = 0;

    if (size < 3) {
        if (size > 0)
            buf[0] = '\0';
        return buf;
    }

    buf[n++] = '"';
    for (; *s != '\0' && n + 6 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            n += (unsigned)snprintf(buf + n, size - n, "\\x%02x", c);
        } else {
            buf[n++] = (char)c;
        }
    }
    buf[n++] = '"';
    buf[n] = '\0';
    return buf;
}

static void format_time(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Append s to out as the body of a JSON string (no surrounding quotes). */
static size_t json_escape(char *out, size_t size, const char *s, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len && n + 7 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, size - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
    return n;
}

/*
 * Turn the text fields `k=v k="v w"` into JSON members `,"k":"v"`. Quoted
 * values are unescaped from svc_log_quote's form; bare numbers stay
 * strings so that a field's type never depends on its value.
 */
static size_t fields_to_json(char *out, size_t size, const char *fields)
{
    size_t n = 0;
    const char *p = fields;

    while (*p != '\0' && n + 16 < size) {
        while (*p == ' ')
            p++;
        const char *eq = strchr(p, '=');
        if (eq == NULL || *p == '\0')
            break;

        out[n++] = ',';
        out[n++] = '"';
        n += json_escape(out + n, size - n, p, (size_t)(eq - p));
        n += (size_t)snprintf(out + n, size - n, "\":\"");
        p = eq + 1;

        char value[1024];
        size_t vn = 0;
        if (*p == '"') {
            for (p++; *p != '\0' && *p != '"'; p++) {
                if (*p == '\\' && p[1] == 'x' && p[2] && p[3]) {
                    unsigned byte = 0;
                    sscanf(p + 2, "%2x", &byte);
                    if (vn + 1 < sizeof(value))
                        value[vn++] = (char)byte;
                    p += 3;
                    continue;
                }
                if (*p == '\\' && p[1] != '\0')
                    p++;
                if (vn + 1 < sizeof(value))
                    value[vn++] = *p;
            }
            if (*p == '"')
                p++;
        } else {
            for (; *p != '\0' && *p != ' '; p++) {
                if (vn + 1 < sizeof(value))
                    value[vn++] = *p;
            }
        }
        n += json_escape(out + n, size - n, value, vn);
        if (n + 1 < size)
            out[n++] = '"';
        out[n] = '\0';
    }
    return n;
}

void svc_log(enum svc_log_level level, const char *msg, const char *kvfmt, ...)
{
    char ts[40], fields[2048] = "", line[4096];
    size_t n;

    if (!svc_log_enabled(level))
        return;

    format_time(ts, sizeof(ts));
    if (kvfmt != NULL) {
        va_list ap;
        va_start(ap, kvfmt);
        vsnprintf(fields, sizeof(fields), kvfmt, ap);
        va_end(ap);
    }

    if (log_format == SVC_LOG_JSON) {
        n = (size_t)snprintf(line, sizeof(line),
                             "{\"ts\":\"%s\",\"level\":\"%s\",\"pid\":%ld,"
                             "\"msg\":\"",
                             ts, level_names[level], (long)getpid());
        n += json_escape(line + n, sizeof(line) - n, msg, strlen(msg));
        n += (size_t)snprintf(line + n, sizeof(line) - n, "\"");
        n += fields_to_json(line + n, sizeof(line) - n, fields);
        snprintf(line + n, sizeof(line) - n, "}\n");
    } else {
        char quoted[512];
        snprintf(line, sizeof(line), "ts=%s level=%s pid=%ld msg=%s%s%s\n", ts,
                 level_names[level], (long)getpid(),
                 svc_log_quote(quoted, sizeof(quoted), msg),
                 fields[0] ? " " : "", fields);
    }

    /* A record cut at the buffer's end still ends its line. */
    n = strlen(line);
    if (n > 0 && line[n - 1] != '\n')
        line[n - 1] = '\n';

    /* One write per record, so lines from threads never interleave. */
    fputs(line, stderr);
    fflush(stderr);
}
