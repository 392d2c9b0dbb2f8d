/*
 * The system calls of the syscall line, each a thin wrapper: it checks its
 * arguments, makes the call, and returns the result or -errno. Arguments that
 * would let the kernel touch memory outside a JavaScript buffer are refused
 * before the call (see check_ioctl_arg).
 */
#define _GNU_SOURCE
#include "syscalls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "args.h"

#define VFIO_IOCTL_TYPE ';' /* VFIO and iommufd share this ioctl type */
#define VFIO_BASE 100
#define MAX_POLL_FDS 4096

static napi_value result_or_errno(napi_env env, long long r) {
  return make_int64(env, r < 0 ? -(int64_t)errno : (int64_t)r);
}

static int get_fd(napi_env env, napi_value v, int *fd) {
  int64_t x;
  if (get_int(env, v, -1, INT_MAX, "fd", &x)) return -1;
  *fd = (int)x;
  return 0;
}

napi_value sys_open(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char path[PATH_MAX];
  int64_t flags;
  if (get_args(env, info, 2, argv) || get_string(env, argv[0], "path", path, sizeof path) ||
      get_int(env, argv[1], 0, INT_MAX, "flags", &flags))
    return NULL;
  const int allowed = O_ACCMODE | O_NONBLOCK | O_CLOEXEC;
  if (flags & ~allowed) {
    throw_errno_error(env, "EINVAL", "open flags 0x%llx: only the access mode, O_NONBLOCK and O_CLOEXEC are accepted",
                      (long long)flags);
    return NULL;
  }
  /* close-on-exec always: these fds must not leak into processes Node spawns */
  int fd = open(path, (int)flags | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return make_int64(env, -errno);
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode)) {
    close(fd);
    throw_errno_error(env, "ENXIO", "%s is not a character device", path);
    return NULL;
  }
  return make_int64(env, fd);
}

napi_value sys_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (get_args(env, info, 1, argv) || get_fd(env, argv[0], &fd)) return NULL;
  return result_or_errno(env, close(fd));
}

static int get_request(napi_env env, napi_value v, uint32_t *request) {
  int64_t r;
  if (get_int(env, v, 0, 0xffffffffLL, "request", &r)) return -1;
  *request = (uint32_t)r;
  if (((*request >> 8) & 0xff) != VFIO_IOCTL_TYPE) {
    throw_errno_error(env, "ENOTTY", "request 0x%08x is not a VFIO or iommufd ioctl (type ';'); only those are passed on",
                      *request);
    return -1;
  }
  return 0;
}

/*
 * Make sure the kernel cannot read or write past the buffer. Every VFIO and
 * iommufd request is _IO (no size in the number); apart from the few listed
 * here, each takes a struct whose first u32 (argsz or size) bounds what the
 * kernel copies in and out, so that field must not exceed the buffer.
 */
static int check_ioctl_arg(napi_env env, uint32_t request, const uint8_t *data, size_t len) {
  const uint32_t size = (request >> 16) & 0x3fff;
  if (size > len) {
    throw_errno_error(env, "EFAULT", "request 0x%08x reads %u bytes, the buffer has %zu", request, size, len);
    return -1;
  }
  switch (request & 0xff) {
    case VFIO_BASE + 0:  /* VFIO_GET_API_VERSION: no argument */
    case VFIO_BASE + 1:  /* VFIO_CHECK_EXTENSION: an integer */
    case VFIO_BASE + 2:  /* VFIO_SET_IOMMU: an integer */
    case VFIO_BASE + 5:  /* VFIO_GROUP_UNSET_CONTAINER: no argument */
    case VFIO_BASE + 11: /* VFIO_DEVICE_RESET: no argument */
      return 0;
    case VFIO_BASE + 4:  /* VFIO_GROUP_SET_CONTAINER: int *fd */
    case VFIO_BASE + 15: /* VFIO_DEVICE_GET_GFX_DMABUF: __u32 *dmabuf_id */
      if (len >= 4) return 0;
      throw_errno_error(env, "EFAULT", "request 0x%08x reads 4 bytes, the buffer has %zu", request, len);
      return -1;
    case VFIO_BASE + 6: /* VFIO_GROUP_GET_DEVICE_FD: a NUL-terminated device name */
      if (len > 0 && memchr(data, 0, len) != NULL) return 0;
      throw_errno_error(env, "EFAULT", "the device name must end with a NUL byte inside the %zu-byte buffer", len);
      return -1;
    default: {
      uint32_t argsz;
      if (len < 4) {
        throw_errno_error(env, "EFAULT", "request 0x%08x reads argsz from a %zu-byte buffer", request, len);
        return -1;
      }
      memcpy(&argsz, data, 4); /* little-endian host, as the uAPI is */
      if (argsz > len) {
        throw_errno_error(env, "EFAULT", "argsz %u is larger than the %zu-byte buffer", argsz, len);
        return -1;
      }
      return 0;
    }
  }
}

napi_value sys_ioctl_buffer(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd;
  uint32_t request;
  uint8_t *data;
  size_t len;
  if (get_args(env, info, 3, argv) || get_fd(env, argv[0], &fd) || get_request(env, argv[1], &request) ||
      get_bytes(env, argv[2], "arg", &data, &len) || check_ioctl_arg(env, request, data, len))
    return NULL;
  return result_or_errno(env, ioctl(fd, (unsigned long)request, data));
}

napi_value sys_ioctl_value(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd;
  uint32_t request;
  uint64_t value;
  if (get_args(env, info, 3, argv) || get_fd(env, argv[0], &fd) || get_request(env, argv[1], &request) ||
      get_u64(env, argv[2], "arg", &value))
    return NULL;
  return result_or_errno(env, ioctl(fd, (unsigned long)request, (unsigned long)value));
}

static napi_value rw(napi_env env, napi_callback_info info, int writing, int positioned) {
  napi_value argv[3];
  int fd;
  uint8_t *data;
  size_t len;
  int64_t offset = 0;
  if (get_args(env, info, positioned ? 3 : 2, argv) || get_fd(env, argv[0], &fd) ||
      get_bytes(env, argv[1], "buf", &data, &len) || (positioned && get_offset(env, argv[2], "offset", &offset)))
    return NULL;
  ssize_t n;
  if (positioned)
    n = writing ? pwrite(fd, data, len, (off_t)offset) : pread(fd, data, len, (off_t)offset);
  else
    n = writing ? write(fd, data, len) : read(fd, data, len);
  return result_or_errno(env, n);
}

napi_value sys_read(napi_env env, napi_callback_info info) { return rw(env, info, 0, 0); }
napi_value sys_write(napi_env env, napi_callback_info info) { return rw(env, info, 1, 0); }
napi_value sys_pread(napi_env env, napi_callback_info info) { return rw(env, info, 0, 1); }
napi_value sys_pwrite(napi_env env, napi_callback_info info) { return rw(env, info, 1, 1); }

napi_value sys_eventfd(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t initval, flags;
  if (get_args(env, info, 2, argv) || get_int(env, argv[0], 0, 0xffffffffLL, "initval", &initval) ||
      get_int(env, argv[1], 0, INT_MAX, "flags", &flags))
    return NULL;
  if (flags & ~(EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC)) {
    throw_errno_error(env, "EINVAL", "unknown eventfd flags 0x%llx", (long long)flags);
    return NULL;
  }
  return result_or_errno(env, eventfd((unsigned int)initval, (int)flags | EFD_CLOEXEC));
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * poll(entries, timeoutMs): entries is an Int32Array of (fd, events, revents)
 * triples; revents is filled in place. Returns the number of ready entries or
 * -errno. A signal does not cut the wait short: the call resumes with the time
 * that is left.
 */
napi_value sys_poll(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t timeout;
  if (get_args(env, info, 2, argv) || get_int(env, argv[1], -1, INT_MAX, "timeoutMs", &timeout)) return NULL;
  bool is_typed = false;
  napi_typedarray_type type;
  size_t len = 0;
  void *ptr = NULL;
  if (napi_is_typedarray(env, argv[0], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[0], &type, &len, &ptr, NULL, NULL) != napi_ok || type != napi_int32_array ||
      len % 3 != 0) {
    napi_throw_type_error(env, NULL, "entries must be an Int32Array of (fd, events, revents) triples");
    return NULL;
  }
  size_t n = len / 3;
  if (n > MAX_POLL_FDS) {
    napi_throw_range_error(env, NULL, "too many poll entries");
    return NULL;
  }
  int32_t *entries = ptr;
  struct pollfd *fds = calloc(n ? n : 1, sizeof *fds);
  if (!fds) return make_int64(env, -ENOMEM);
  for (size_t i = 0; i < n; i++) {
    fds[i].fd = entries[3 * i];
    fds[i].events = (short)entries[3 * i + 1];
  }
  const int64_t deadline = timeout < 0 ? -1 : now_ms() + timeout;
  int r;
  for (;;) {
    int wait = timeout < 0 ? -1 : (int)(deadline - now_ms() > 0 ? deadline - now_ms() : 0);
    r = poll(fds, n, wait);
    if (r >= 0 || errno != EINTR) break;
  }
  int err = errno;
  if (r >= 0)
    for (size_t i = 0; i < n; i++) entries[3 * i + 2] = (uint16_t)fds[i].revents;
  free(fds);
  return make_int64(env, r < 0 ? -err : r);
}

napi_value sys_address_of(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  uint8_t *data;
  size_t len;
  /* asking for the data pointer also moves a small on-heap typed array off the
     V8 heap, so the address stays valid for as long as the buffer lives */
  if (get_args(env, info, 1, argv) || get_bytes(env, argv[0], "buf", &data, &len)) return NULL;
  return make_u64(env, (uint64_t)(uintptr_t)data);
}
