#ifndef NHGD_CLAPACK_SHIM_H
#define NHGD_CLAPACK_SHIM_H
// Debian: liblapacke-dev + libopenblas-dev. <cblas.h> resolves to OpenBLAS's header,
// which also declares openblas_set_num_threads / openblas_get_num_threads.
#include <cblas.h>
#include <lapacke.h>
#endif
