{
  "targets": [
    {
      "target_name": "vfio_native",
      "sources": [
        "native/module.c",
        "native/args.c",
        "native/syscalls.c",
        "native/mapping.c"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"]
    }
  ]
}
