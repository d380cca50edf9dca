// A filter around ggml's own reference (de)quantizers, for cross-checking
// crates/mistral-core/src/quant against the C code (not built by cargo or CI).
//
//   ggml_ref quantize   <type> < f32 values  > block bytes   (quantize_row_<type>_ref)
//   ggml_ref dequantize <type> < block bytes > f32 values    (dequantize_row_<type>)
//
// <type>: q8_0 q4_0 q4_1 q5_0 q4_k q5_k q6_k. Input and output are raw little-endian.
// Build and use: see tools/quant/README.md.

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml-common.h"
#include "ggml-quants.h"

// The few ggml.c symbols ggml-quants.c links against; only error paths reach them.
void ggml_abort(const char * file, int line, const char * fmt, ...) {
    va_list args;
    va_start(args, fmt);
    fprintf(stderr, "%s:%d: ", file, line);
    vfprintf(stderr, fmt, args);
    va_end(args);
    abort();
}
size_t ggml_type_size(enum ggml_type type) { (void) type; abort(); }
size_t ggml_row_size(enum ggml_type type, int64_t ne) { (void) type; (void) ne; abort(); }
const char * ggml_type_name(enum ggml_type type) { (void) type; return "?"; }

typedef void (*quant_fn)(const float *, void *, int64_t);
typedef void (*dequant_fn)(const void *, float *, int64_t);

struct format {
    const char * name;
    int elems, bytes;
    quant_fn quant;
    dequant_fn dequant;
};

#define FORMAT(name, lower, qk) \
    { #lower, qk, (int) sizeof(block_##lower), (quant_fn) quantize_row_##lower##_ref, \
      (dequant_fn) dequantize_row_##lower }

static const struct format FORMATS[] = {
    FORMAT(Q8_0, q8_0, QK8_0), FORMAT(Q4_0, q4_0, QK4_0), FORMAT(Q4_1, q4_1, QK4_1),
    FORMAT(Q5_0, q5_0, QK5_0), FORMAT(Q4_K, q4_K, QK_K), FORMAT(Q5_K, q5_K, QK_K),
    FORMAT(Q6_K, q6_K, QK_K),
};

static void * read_all(size_t * len) {
    size_t cap = 1 << 16, n = 0, got;
    char * buf = malloc(cap);
    while ((got = fread(buf + n, 1, cap - n, stdin)) > 0) {
        n += got;
        if (n == cap) buf = realloc(buf, cap *= 2);
    }
    *len = n;
    return buf;
}

int main(int argc, char ** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s quantize|dequantize <type> < in > out\n", argv[0]);
        return 2;
    }
    const struct format * f = NULL;
    for (size_t i = 0; i < sizeof(FORMATS) / sizeof(FORMATS[0]); i++) {
        if (strcasecmp(FORMATS[i].name, argv[2]) == 0) f = &FORMATS[i];
    }
    if (!f) {
        fprintf(stderr, "unknown type %s\n", argv[2]);
        return 2;
    }
    size_t len;
    void * in = read_all(&len);
    int quantize = strcmp(argv[1], "quantize") == 0;
    size_t in_block = quantize ? f->elems * sizeof(float) : (size_t) f->bytes;
    if (len % in_block != 0) {
        fprintf(stderr, "%zu input bytes are not whole blocks of %zu\n", len, in_block);
        return 1;
    }
    size_t nb = len / in_block;
    size_t out_len = nb * (quantize ? (size_t) f->bytes : f->elems * sizeof(float));
    void * out = calloc(out_len ? out_len : 1, 1);
    if (quantize) {
        f->quant(in, out, (int64_t) nb * f->elems);
    } else {
        f->dequant(in, out, (int64_t) nb * f->elems);
    }
    fwrite(out, 1, out_len, stdout);
    return 0;
}
