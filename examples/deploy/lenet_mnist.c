/* Runs the LeNet-5 that export_lenet.py exported (lenet.so, lenet.h) on MNIST's test images and
   prints its accuracy: C and the library only, no Python.

   usage: lenet_mnist MNIST_TEST_DIR [THREADS [PREDICTIONS_FILE]]

   MNIST_TEST_DIR holds t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (uncompressed IDX files);
   PREDICTIONS_FILE, if given, receives one predicted class per line. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lenet.h"

/* The items of an IDX file of unsigned bytes with `ndim` dimensions: *count items of *item_size bytes. */
static unsigned char *read_idx(const char *dir, const char *file, int ndim, size_t *count, size_t *item_size)
{
    char path[4096];
    unsigned char header[16];
    unsigned char *data;
    size_t dims[3], total;
    int i;
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "lenet_mnist: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    if (fread(header, 1, 4 + 4 * (size_t)ndim, f) != 4 + 4 * (size_t)ndim || header[0] || header[1]
        || header[2] != 0x08 || header[3] != ndim) {
        fprintf(stderr, "lenet_mnist: %s is not an IDX file of unsigned bytes with %d dimensions\n", path, ndim);
        fclose(f);
        return NULL;
    }
    for (i = 0; i < ndim; i++) {
        const unsigned char *d = header + 4 + 4 * i;
        dims[i] = (size_t)d[0] << 24 | (size_t)d[1] << 16 | (size_t)d[2] << 8 | d[3];
    }
    *count = dims[0];
    *item_size = ndim == 3 ? dims[1] * dims[2] : 1;
    total = *count * *item_size;
    data = malloc(total ? total : 1);
    if (data == NULL || fread(data, 1, total, f) != total) {
        fprintf(stderr, "lenet_mnist: %s is shorter than its header says (%zu bytes)\n", path, total);
        free(data);
        data = NULL;
    }
    fclose(f);
    return data;
}

int main(int argc, char **argv)
{
    static const long shape[] = LENET_INPUT0_SHAPE;
    const size_t batch = (size_t)shape[0], pixels = LENET_INPUT0_SIZE / batch, classes = LENET_OUTPUT0_SIZE / batch;
    size_t count, image_size, label_count, one, start, i, k, correct = 0;
    unsigned char *images, *labels;
    float *input, *output;
    FILE *predictions = NULL;
    lenet_handle *net;
    int threads = argc > 2 ? atoi(argv[2]) : 1, code;

    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: %s MNIST_TEST_DIR [THREADS [PREDICTIONS_FILE]]\n", argv[0]);
        return 2;
    }
    images = read_idx(argv[1], "t10k-images-idx3-ubyte", 3, &count, &image_size);
    labels = read_idx(argv[1], "t10k-labels-idx1-ubyte", 1, &label_count, &one);
    if (images == NULL || labels == NULL)
        return 1;
    if (image_size != pixels || label_count != count) {
        fprintf(stderr, "lenet_mnist: %zu images of %zu pixels and %zu labels; the library takes %zu pixels\n",
                count, image_size, label_count, pixels);
        return 1;
    }
    if (argc > 3 && (predictions = fopen(argv[3], "w")) == NULL) {
        fprintf(stderr, "lenet_mnist: cannot write %s: %s\n", argv[3], strerror(errno));
        return 1;
    }
    net = lenet_create(threads);
    if (net == NULL) {
        fprintf(stderr, "lenet_mnist: lenet_create(%d): %s\n", threads, strerror(errno));
        return 1;
    }
    input = calloc(LENET_INPUT0_SIZE, sizeof *input);
    output = malloc(LENET_OUTPUT0_SIZE * sizeof *output);
    if (input == NULL || output == NULL)
        return 1;
    for (start = 0; start < count; start += batch) {
        size_t n = count - start < batch ? count - start : batch;
        for (i = 0; i < n * pixels; i++)
            input[i] = images[start * pixels + i];
        memset(input + n * pixels, 0, (batch - n) * pixels * sizeof *input);   /* a last, partial batch */
        code = lenet_run(net, input, output);
        if (code != LENET_OK) {
            fprintf(stderr, "lenet_mnist: lenet_run: %s\n", lenet_error_string(code));
            return 1;
        }
        for (i = 0; i < n; i++) {
            const float *scores = output + i * classes;
            size_t best = 0;
            for (k = 1; k < classes; k++)
                if (scores[k] > scores[best])
                    best = k;
            correct += best == labels[start + i];
            if (predictions != NULL)
                fprintf(predictions, "%zu\n", best);
        }
    }
    printf("accuracy %.4f (%zu of %zu test images)\n", (double)correct / (double)count, correct, count);
    lenet_destroy(net);
    if (predictions != NULL)
        fclose(predictions);
    free(input);
    free(output);
    free(images);
    free(labels);
    return 0;
}
