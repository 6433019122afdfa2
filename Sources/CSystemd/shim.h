#ifndef WARDEN_CSYSTEMD_SHIM_H
#define WARDEN_CSYSTEMD_SHIM_H
/* sd-bus from libsystemd: wardend talks to bluetoothd's D-Bus API (LEAdvertisingManager1) through it. Only the
 * non-variadic calls are used from Swift (message_new_method_call + append_basic/open_container, call_async). */
#include <systemd/sd-bus.h>
#include <errno.h>
#include <string.h>
#endif
