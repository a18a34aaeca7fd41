/* stddef.h for pybpftrace's C preprocessor (x86_64 LP64).
 *
 * The compiler supplies this header, not the C library: glibc's headers
 * include it (often asking for one type with __need_size_t and friends), so
 * every definition has its own guard. */
#ifndef _SIZE_T
#define _SIZE_T
typedef unsigned long size_t;
#endif
#ifndef _PTRDIFF_T
#define _PTRDIFF_T
typedef long ptrdiff_t;
#endif
#ifndef _WCHAR_T
#define _WCHAR_T
typedef int wchar_t;
#endif
#ifndef _WINT_T
#define _WINT_T
typedef unsigned int wint_t;
#endif
#ifndef __PYBPFTRACE_MAX_ALIGN_T
#define __PYBPFTRACE_MAX_ALIGN_T
typedef struct {
    long long __max_align_ll;
    long double __max_align_ld;
} max_align_t;
#endif
#undef NULL
#define NULL ((void *)0)
#undef __need_size_t
#undef __need_ptrdiff_t
#undef __need_wchar_t
#undef __need_wint_t
#undef __need_NULL
