/* Registers the addon's functions; kernel-lib/backends/native wraps them as Syscalls. */
#include <node_api.h>

#include "syscalls.h"

static napi_value init(napi_env env, napi_value exports) {
  const napi_property_descriptor fns[] = {
      {"open", NULL, sys_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, sys_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ioctlBuffer", NULL, sys_ioctl_buffer, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ioctlValue", NULL, sys_ioctl_value, NULL, NULL, NULL, napi_enumerable, NULL},
      {"read", NULL, sys_read, NULL, NULL, NULL, napi_enumerable, NULL},
      {"write", NULL, sys_write, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pread", NULL, sys_pread, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pwrite", NULL, sys_pwrite, NULL, NULL, NULL, napi_enumerable, NULL},
      {"eventfd", NULL, sys_eventfd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"poll", NULL, sys_poll, NULL, NULL, NULL, napi_enumerable, NULL},
      {"addressOf", NULL, sys_address_of, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mmap", NULL, map_mmap, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mappingAddress", NULL, map_address, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mappingRead", NULL, map_read, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mappingWrite", NULL, map_write, NULL, NULL, NULL, napi_enumerable, NULL},
      {"munmap", NULL, map_munmap, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
