// libFuzzer's driver, for a program with a main of its own (seqmodels-fuzz): libFuzzer's
// runtime (linked by `swiftc -sanitize=fuzzer`) defines it; nothing else here is compiled in.
#ifndef SEQMODELS_CLIBFUZZER_H
#define SEQMODELS_CLIBFUZZER_H

#include <stddef.h>
#include <stdint.h>

/// Runs libFuzzer with the command line `argc`/`argv` (its flags and corpus folders), calling
/// `callback` with each input; returns the status libFuzzer's own main would.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
