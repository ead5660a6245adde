#ifndef SEQMODELS_CBLAS_SHIM_H
#define SEQMODELS_CBLAS_SHIM_H
#include <cblas.h>
#endif
