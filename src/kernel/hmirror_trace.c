// SPDX-License-Identifier: GPL-2.0
/*
 * hmirror tracepoints: the one place they are instantiated.
 */
#define CREATE_TRACE_POINTS
#include "hmirror_trace.h"
