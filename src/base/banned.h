/*
 * banned.h - functions that must not be used (git's idea): they either
 * overflow buffers or are not thread-safe.  Included by every .c file via
 * the compiler's -include flag.
 */
#ifndef GT_BASE_BANNED_H
#define GT_BASE_BANNED_H

#define GT_BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) GT_BANNED(strcpy)
#undef strcat
#define strcat(x, y) GT_BANNED(strcat)
#undef sprintf
#define sprintf(...) GT_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) GT_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) GT_BANNED(strtok)
#undef gmtime
#define gmtime(t) GT_BANNED(gmtime)
#undef localtime
#define localtime(t) GT_BANNED(localtime)

#endif
