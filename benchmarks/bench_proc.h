/*
 * Helpers the HTTP benchmarks share: a free loopback port, starting and
 * stopping `hoprec serve` as a child process, waiting for it to answer.
 */
#ifndef BENCH_PROC_H
#define BENCH_PROC_H

#include <sys/types.h>

/* A loopback port nobody listens on right now. */
int bench_free_port(void);

/*
 * Start `hoprec serve --listen 127.0.0.1:PORT` followed by the NULL-ended
 * extra arguments, with its stderr appended to log (may be NULL for
 * /dev/null), and wait (up to 20 s) until GET path answers 2xx. Returns
 * the child's pid, or -1 when it never answered.
 */
pid_t bench_serve(const char *hoprec, int port, const char *path,
                  const char *log, const char *const *extra);

/* Seconds on the monotonic clock. */
double bench_now(void);

#endif
