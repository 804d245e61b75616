/* vchan/api.h - what every public header of the library shares, installed
 * as <vchan/api.h> beside them.
 *
 * VCHAN_API marks the functions the library exports; it is built with
 * -fvisibility=hidden, so nothing else is seen outside it. */
#ifndef VCHAN_API_H
#define VCHAN_API_H

#ifndef VCHAN_API
#if defined(__GNUC__) && __GNUC__ >= 4
#define VCHAN_API __attribute__((visibility("default")))
#else
#define VCHAN_API
#endif
#endif

#endif
