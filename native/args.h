/*
 * Argument helpers shared by the addon's functions. Each returns 0 on success;
 * on failure it has already thrown a JavaScript exception, and the caller
 * returns NULL so that the exception reaches the caller in JavaScript.
 */
#ifndef VFIO_NATIVE_ARGS_H
#define VFIO_NATIVE_ARGS_H

#include <stddef.h>
#include <stdint.h>
#include <node_api.h>

#define MAX_ARGS 6

/* Fetch exactly `want` arguments (more or fewer is a TypeError). */
int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv);

/* A JavaScript number that is an integer in [min, max]. */
int get_int(napi_env env, napi_value v, int64_t min, int64_t max, const char *what, int64_t *out);

/* A BigInt that fits in 64 bits, taken as unsigned (two's complement for negative values). */
int get_u64(napi_env env, napi_value v, const char *what, uint64_t *out);

/* A BigInt that is a non-negative signed 64-bit value (file offsets). */
int get_offset(napi_env env, napi_value v, const char *what, int64_t *out);

/* The bytes of a Uint8Array: pointer to its first element (byteOffset applied) and its length. */
int get_bytes(napi_env env, napi_value v, const char *what, uint8_t **data, size_t *length);

/* A UTF-8 string shorter than `cap` bytes, copied into `buf`. */
int get_string(napi_env env, napi_value v, const char *what, char *buf, size_t cap);

/*
 * Throw an Error whose `code` is an errno name ("EFAULT", "EINVAL", ...): used
 * for arguments the addon refuses before they reach the kernel, so the
 * TypeScript side can turn them into the same Errno the kernel would give.
 */
void throw_errno_error(napi_env env, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

napi_value make_int64(napi_env env, int64_t v);
napi_value make_u64(napi_env env, uint64_t v);

#endif
