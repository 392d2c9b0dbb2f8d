#include "args.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = MAX_ARGS;
  napi_value all[MAX_ARGS];
  if (napi_get_cb_info(env, info, &argc, all, NULL, NULL) != napi_ok) return -1;
  if (argc != want) {
    char msg[64];
    snprintf(msg, sizeof msg, "expected %zu arguments, got %zu", want, argc);
    napi_throw_type_error(env, NULL, msg);
    return -1;
  }
  for (size_t i = 0; i < want; i++) argv[i] = all[i];
  return 0;
}

static int type_error(napi_env env, const char *what, const char *expected) {
  char msg[128];
  snprintf(msg, sizeof msg, "%s must be %s", what, expected);
  napi_throw_type_error(env, NULL, msg);
  return -1;
}

int get_int(napi_env env, napi_value v, int64_t min, int64_t max, const char *what, int64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return type_error(env, what, "a number");
  /* compare as doubles first so huge values cannot overflow the cast */
  if (!isfinite(d) || d != floor(d) || d < (double)min || d > (double)max) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s must be an integer in [%lld, %lld]", what, (long long)min, (long long)max);
    napi_throw_range_error(env, NULL, msg);
    return -1;
  }
  *out = (int64_t)d;
  return 0;
}

int get_u64(napi_env env, napi_value v, const char *what, uint64_t *out) {
  bool lossless = false;
  if (napi_get_value_bigint_uint64(env, v, out, &lossless) != napi_ok) return type_error(env, what, "a bigint");
  if (!lossless) {
    int64_t s;
    /* negative values that fit in int64 are fine: C would pass their bit pattern */
    if (napi_get_value_bigint_int64(env, v, &s, &lossless) != napi_ok || !lossless) {
      napi_throw_range_error(env, NULL, "bigint argument does not fit in 64 bits");
      return -1;
    }
    *out = (uint64_t)s;
  }
  return 0;
}

int get_offset(napi_env env, napi_value v, const char *what, int64_t *out) {
  bool lossless = false;
  if (napi_get_value_bigint_int64(env, v, out, &lossless) != napi_ok) return type_error(env, what, "a bigint");
  if (!lossless || *out < 0) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a non-negative 64-bit offset", what);
    napi_throw_range_error(env, NULL, msg);
    return -1;
  }
  return 0;
}

int get_bytes(napi_env env, napi_value v, const char *what, uint8_t **data, size_t *length) {
  bool is_typed = false;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return type_error(env, what, "a Uint8Array");
  napi_typedarray_type type;
  void *ptr = NULL;
  size_t len = 0;
  /* N-API hands back the element pointer with byteOffset already applied */
  if (napi_get_typedarray_info(env, v, &type, &len, &ptr, NULL, NULL) != napi_ok) return type_error(env, what, "a Uint8Array");
  if (type != napi_uint8_array) return type_error(env, what, "a Uint8Array");
  if (ptr == NULL && len != 0) {
    napi_throw_type_error(env, NULL, "the buffer has no backing store (detached?)");
    return -1;
  }
  *data = ptr;
  *length = len;
  return 0;
}

int get_string(napi_env env, napi_value v, const char *what, char *buf, size_t cap) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return type_error(env, what, "a string");
  if (len + 1 > cap) {
    napi_throw_range_error(env, NULL, "string argument is too long");
    return -1;
  }
  if (napi_get_value_string_utf8(env, v, buf, cap, &len) != napi_ok) return type_error(env, what, "a string");
  if (strlen(buf) != len) {
    napi_throw_type_error(env, NULL, "string argument contains a NUL character");
    return -1;
  }
  return 0;
}

void throw_errno_error(napi_env env, const char *code, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  napi_throw_error(env, code, msg);
}

napi_value make_int64(napi_env env, int64_t v) {
  napi_value out = NULL;
  napi_create_int64(env, v, &out);
  return out;
}

napi_value make_u64(napi_env env, uint64_t v) {
  napi_value out = NULL;
  napi_create_bigint_uint64(env, v, &out);
  return out;
}
