/* Runs the libFuzzer entry point over each file named on the command line, so the fuzz target
 * is built with any compiler and its corpus replayed as an ordinary regression test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path) {
    FILE *fp = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, got;

    if (fp == NULL) {
        perror(path);
        return 1;
    }
    do {
        if (len == cap) {
            uint8_t *nb;
            cap = cap ? cap * 2 : 4096;
            nb = realloc(buf, cap);
            if (nb == NULL) {
                fprintf(stderr, "%s: out of memory\n", path);
                free(buf);
                fclose(fp);
                return 1;
            }
            buf = nb;
        }
        got = fread(buf + len, 1, cap - len, fp);
        len += got;
    } while (got > 0);
    if (ferror(fp)) {
        perror(path);
        free(buf);
        fclose(fp);
        return 1;
    }
    fclose(fp);
    /* An exact-size copy, so ASan catches reads past the input as it would under libFuzzer. */
    {
        uint8_t *exact = malloc(len ? len : 1);
        if (exact == NULL) {
            free(buf);
            return 1;
        }
        for (size_t i = 0; i < len; i++)
            exact[i] = buf[i];
        free(buf);
        LLVMFuzzerTestOneInput(exact, len);
        free(exact);
    }
    return 0;
}

int main(int argc, char **argv) {
    int failed = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++)
        failed |= replay_file(argv[i]);
    if (!failed)
        printf("replayed %d input(s)\n", argc - 1);
    return failed;
}
