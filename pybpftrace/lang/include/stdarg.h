/* stdarg.h for pybpftrace's C preprocessor: the types only (x86_64 SysV
 * va_list: one 24-byte __va_list_tag), so that headers declaring va_list
 * members or parameters parse and lay out as they do with gcc. */
#ifndef __PYBPFTRACE_STDARG_H
#define __PYBPFTRACE_STDARG_H
typedef struct __va_list_tag {
    unsigned int gp_offset;
    unsigned int fp_offset;
    void *overflow_arg_area;
    void *reg_save_area;
} __builtin_va_list[1];
typedef __builtin_va_list va_list;
typedef __builtin_va_list __gnuc_va_list;
#define __GNUC_VA_LIST 1
#endif
#undef __need___va_list
