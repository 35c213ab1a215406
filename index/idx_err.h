/*
 * Errors of the index layer, in the same shape as the core's: functions
 * return 0 or a negative IDX_E* code and fill the caller's struct
 * idx_error (which may be NULL) with one line saying what failed.
 * FAISS's own message, when there is one, is copied into that line at
 * once, since faiss_get_last_error() is only valid until the next call.
 */
#ifndef IDX_ERR_H
#define IDX_ERR_H

enum idx_errcode {
    IDX_OK = 0,
    IDX_ENOMEM = -1, /* an allocation failed */
    IDX_EINVAL = -2, /* a bad argument or setting */
    IDX_EIO = -3,    /* reading or writing a file failed */
    IDX_EFAISS = -4, /* FAISS reported an error */
    IDX_ENOENT = -5, /* an id or file does not exist */
    IDX_ERANGE = -6, /* a number out of its allowed range */
};

#define IDX_ERROR_TEXT 256

struct idx_error {
    int code;                  /* one of enum idx_errcode */
    char text[IDX_ERROR_TEXT]; /* what failed; empty when OK */
};

/* Short fixed description of a code; never NULL. */
const char *idx_strerror(int code);

/* Record an error in err (may be NULL) and return code. */
int idx_error_set(struct idx_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reset err to IDX_OK with empty text; err may be NULL. */
void idx_error_clear(struct idx_error *err);

#endif
