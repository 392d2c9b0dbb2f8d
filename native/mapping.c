/*
 * mmap(2) for device regions and for anonymous memory. JavaScript never sees
 * the mapped memory directly: it holds an external handle and copies bytes in
 * and out through map_read / map_write, which check bounds and protection so a
 * bad offset is an exception rather than a crash. A handle the program drops
 * without munmap is unmapped when the garbage collector frees it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "args.h"
#include "syscalls.h"

typedef struct {
  uint8_t *addr; /* NULL once unmapped */
  size_t length;
  int prot;
  int device; /* device memory (a BAR): copied with single, naturally aligned accesses */
} mapping_t;

/* Tells our handles apart from any other external value. */
static const napi_type_tag MAPPING_TAG = {0x7666696f2d6d6170ULL, 0x70696e672d763121ULL};

static void finalize_mapping(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  mapping_t *m = data;
  if (m->addr) munmap(m->addr, m->length);
  free(m);
}

static mapping_t *get_mapping(napi_env env, napi_value v) {
  bool tagged = false;
  void *data = NULL;
  if (napi_check_object_type_tag(env, v, &MAPPING_TAG, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, v, &data) != napi_ok) {
    napi_throw_type_error(env, NULL, "not a mapping handle");
    return NULL;
  }
  return data;
}

napi_value map_mmap(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int64_t fd, length, prot, flags, offset;
  if (get_args(env, info, 5, argv) || get_int(env, argv[0], -1, 0x7fffffff, "fd", &fd) ||
      get_int(env, argv[1], 1, (1LL << 53) - 1, "length", &length) ||
      get_int(env, argv[2], 0, 0x7fffffff, "prot", &prot) || get_int(env, argv[3], 0, 0x7fffffff, "flags", &flags) ||
      get_offset(env, argv[4], "offset", &offset))
    return NULL;
  /* no MAP_FIXED (it could replace memory the runtime uses), no PROT_EXEC */
  if (prot & ~(PROT_READ | PROT_WRITE)) {
    throw_errno_error(env, "EINVAL", "mmap prot 0x%llx: only PROT_READ and PROT_WRITE are accepted", (long long)prot);
    return NULL;
  }
  if (flags & ~(MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)) {
    throw_errno_error(env, "EINVAL",
                      "mmap flags 0x%llx: only MAP_SHARED, MAP_PRIVATE, MAP_ANONYMOUS and MAP_NORESERVE are accepted",
                      (long long)flags);
    return NULL;
  }
  const int anonymous = (flags & MAP_ANONYMOUS) != 0;
  if (anonymous ? (fd != -1 || offset != 0) : fd < 0) {
    throw_errno_error(env, "EINVAL", anonymous ? "anonymous mmap takes fd -1 and offset 0" : "mmap of a file needs an fd");
    return NULL;
  }
  /* guest RAM can be large and is mostly never touched: do not reserve swap for it */
  if (anonymous) flags |= MAP_NORESERVE;
  void *p = mmap(NULL, (size_t)length, (int)prot, (int)flags, (int)fd, (off_t)offset);
  if (p == MAP_FAILED) return make_int64(env, -errno);
  mapping_t *m = malloc(sizeof *m);
  if (!m) {
    munmap(p, (size_t)length);
    return make_int64(env, -ENOMEM);
  }
  *m = (mapping_t){.addr = p, .length = (size_t)length, .prot = (int)prot, .device = !anonymous};
  napi_value handle;
  if (napi_create_external(env, m, finalize_mapping, NULL, &handle) != napi_ok) {
    munmap(p, (size_t)length);
    free(m);
    return NULL;
  }
  /* untagged, the handle would be refused by every other call; the finalizer still unmaps it */
  if (napi_type_tag_object(env, handle, &MAPPING_TAG) != napi_ok) {
    napi_throw_error(env, NULL, "cannot tag the mapping handle");
    return NULL;
  }
  return handle;
}

napi_value map_address(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  mapping_t *m;
  if (get_args(env, info, 1, argv) || !(m = get_mapping(env, argv[0]))) return NULL;
  return make_u64(env, (uint64_t)(uintptr_t)m->addr);
}

/* The mapped span [offset, offset+len), after checking it is live, in bounds and allowed. */
static uint8_t *span(napi_env env, mapping_t *m, int64_t offset, size_t len, int need_prot) {
  if (!m->addr) {
    throw_errno_error(env, "EFAULT", "the mapping was unmapped");
    return NULL;
  }
  if ((uint64_t)offset > m->length || len > m->length - (size_t)offset) {
    char msg[128];
    snprintf(msg, sizeof msg, "access [%lld, %llu) is outside the %zu-byte mapping", (long long)offset,
             (unsigned long long)offset + len, m->length);
    napi_throw_range_error(env, NULL, msg);
    return NULL;
  }
  if (!(m->prot & need_prot)) {
    throw_errno_error(env, "EFAULT", "the mapping is not %s", need_prot == PROT_READ ? "readable" : "writable");
    return NULL;
  }
  return m->addr + offset;
}

/*
 * Device registers react to the width of each access, so device memory is
 * never copied with memcpy: a 1-, 2-, 4- or 8-byte access at a matching
 * alignment is one access of that width; anything else is a run of the widest
 * accesses (up to 4 bytes) the alignment allows.
 */
static void mmio_copy(volatile uint8_t *io, uint8_t *buf, size_t len, int to_device) {
  uintptr_t a = (uintptr_t)io;
  if (len == 8 && a % 8 == 0) {
    uint64_t v;
    if (to_device) {
      memcpy(&v, buf, 8);
      *(volatile uint64_t *)io = v;
    } else {
      v = *(volatile uint64_t *)io;
      memcpy(buf, &v, 8);
    }
    return;
  }
  size_t width = (a % 4 == 0 && len % 4 == 0) ? 4 : (a % 2 == 0 && len % 2 == 0) ? 2 : 1;
  for (size_t i = 0; i < len; i += width) {
    if (width == 4) {
      uint32_t v;
      if (to_device) {
        memcpy(&v, buf + i, 4);
        *(volatile uint32_t *)(io + i) = v;
      } else {
        v = *(volatile uint32_t *)(io + i);
        memcpy(buf + i, &v, 4);
      }
    } else if (width == 2) {
      uint16_t v;
      if (to_device) {
        memcpy(&v, buf + i, 2);
        *(volatile uint16_t *)(io + i) = v;
      } else {
        v = *(volatile uint16_t *)(io + i);
        memcpy(buf + i, &v, 2);
      }
    } else if (to_device) {
      io[i] = buf[i];
    } else {
      buf[i] = io[i];
    }
  }
}

static napi_value copy(napi_env env, napi_callback_info info, int to_mapping) {
  napi_value argv[3];
  mapping_t *m;
  int64_t offset;
  uint8_t *buf;
  size_t len;
  uint8_t *p;
  if (get_args(env, info, 3, argv) || !(m = get_mapping(env, argv[0])) ||
      get_int(env, argv[1], 0, (1LL << 53) - 1, "offset", &offset) ||
      get_bytes(env, argv[2], to_mapping ? "src" : "dest", &buf, &len) ||
      !(p = span(env, m, offset, len, to_mapping ? PROT_WRITE : PROT_READ)))
    return NULL;
  if (m->device)
    mmio_copy(p, buf, len, to_mapping);
  else if (to_mapping)
    memmove(p, buf, len);
  else
    memmove(buf, p, len);
  return make_int64(env, 0);
}

napi_value map_read(napi_env env, napi_callback_info info) { return copy(env, info, 0); }
napi_value map_write(napi_env env, napi_callback_info info) { return copy(env, info, 1); }

napi_value map_munmap(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  mapping_t *m;
  if (get_args(env, info, 1, argv) || !(m = get_mapping(env, argv[0]))) return NULL;
  if (!m->addr) {
    throw_errno_error(env, "EINVAL", "the mapping was already unmapped");
    return NULL;
  }
  if (munmap(m->addr, m->length) != 0) return make_int64(env, -errno);
  m->addr = NULL;
  return make_int64(env, 0);
}
