#ifndef VFIO_NATIVE_SYSCALLS_H
#define VFIO_NATIVE_SYSCALLS_H

#include <node_api.h>

napi_value sys_open(napi_env env, napi_callback_info info);
napi_value sys_close(napi_env env, napi_callback_info info);
napi_value sys_ioctl_buffer(napi_env env, napi_callback_info info);
napi_value sys_ioctl_value(napi_env env, napi_callback_info info);
napi_value sys_read(napi_env env, napi_callback_info info);
napi_value sys_write(napi_env env, napi_callback_info info);
napi_value sys_pread(napi_env env, napi_callback_info info);
napi_value sys_pwrite(napi_env env, napi_callback_info info);
napi_value sys_eventfd(napi_env env, napi_callback_info info);
napi_value sys_poll(napi_env env, napi_callback_info info);
napi_value sys_address_of(napi_env env, napi_callback_info info);

napi_value map_mmap(napi_env env, napi_callback_info info);
napi_value map_address(napi_env env, napi_callback_info info);
napi_value map_read(napi_env env, napi_callback_info info);
napi_value map_write(napi_env env, napi_callback_info info);
napi_value map_munmap(napi_env env, napi_callback_info info);

#endif
