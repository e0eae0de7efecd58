/* device.h - services of the device startup (device/startup.c). */
#ifndef EVOLU_DEVICE_H
#define EVOLU_DEVICE_H
#include <stddef.h>

/* Ends the program now through semihosting with this exit status. */
void evolu_device_exit(int status) __attribute__((noreturn));
/* Deepest stack use so far (bytes below the top that lost the paint). */
size_t evolu_device_stack_high_water(void);
size_t evolu_device_stack_size(void);
#endif
