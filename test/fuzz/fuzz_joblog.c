/* libFuzzer target for the job log as --resume reads it back (pool_joblog.c): any bytes in
 * the file. Nothing may crash or leak; every Seq taken must be a line of the input that
 * starts with its digits, and the list comes back sorted. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uvproc_pool_t pool;
    FILE *f;

    if (size == 0)
        return 0;
    f = fmemopen((void *)data, size, "r");
    if (f == NULL)
        return 0;
    memset(&pool, 0, sizeof pool);
    if (uvproc__pool_joblog_read(&pool, f) == 0) {
        size_t lines = 1;
        for (size_t i = 0; i < size; i++)
            lines += data[i] == '\n';
        if (pool.resume_count > lines)
            abort();
        for (size_t i = 1; i < pool.resume_count; i++)
            if (pool.resume_ok[i - 1] > pool.resume_ok[i])
                abort();
    }
    fclose(f);
    free(pool.resume_ok);
    return 0;
}
