#ifndef TALLYSTICK_CLMDB_SHIM_H
#define TALLYSTICK_CLMDB_SHIM_H
#include <lmdb.h>
#endif
