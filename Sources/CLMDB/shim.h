#ifndef TALLYSTICK_CLMDB_SHIM_H
#define TALLYSTICK_CLMDB_SHIM_H
#include <lmdb.h>
#ifdef __linux__
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#endif

/// `O_DIRECT` where the platform has it, else 0 (Swift's Glibc module leaves it out: it
/// needs `_GNU_SOURCE`). For copies that should bypass the page cache, as mdb_env_copy2 does.
static inline int clmdb_o_direct(void) {
#ifdef O_DIRECT
    return O_DIRECT;
#else
    return 0;
#endif
}
#endif
