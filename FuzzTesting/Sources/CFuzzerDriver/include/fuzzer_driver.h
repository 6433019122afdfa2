#ifndef WARDEN_FUZZER_DRIVER_H
#define WARDEN_FUZZER_DRIVER_H
#include <stddef.h>
#include <stdint.h>
/* libFuzzer's entry for programs that own main(): SwiftPM renames an executable's main, so each target defines
   <Target>_main and hands control to libFuzzer here. */
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
#endif
