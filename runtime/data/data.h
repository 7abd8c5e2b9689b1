/* data.h — datasets for training: IDX image sets (Fashion-MNIST, MNIST), a
 * byte-level text corpus, and a seeded batch iterator.
 *
 * Every loader returns false with one line "FILE: what is wrong" in err on
 * missing, truncated or malformed input; none of them prints or exits.
 *
 * Typical image use:
 *   RtDataset tr, te;
 *   rt_idx_load(dir, RT_SPLIT_TRAIN, 0, 10, &tr, err, cap);   // x = pixel / 255
 *   rt_idx_load(dir, RT_SPLIT_TEST,  0, 10, &te, err, cap);
 *   RtNorm nm = RT_NORM_FASHION_MNIST;   // or rt_dataset_stats(&tr)
 *   rt_dataset_normalize(&tr, nm); rt_dataset_normalize(&te, nm);
 *   RtBatcher b; rt_batcher_init(&b, &tr, 128, seed, RT_BATCH_TRAIN, err, cap);
 *   for epoch: rt_batcher_set_epoch(&b, e);
 *     for i < rt_batcher_count(&b): rt_batcher_fill(&b, i, x, y);
 */
#ifndef LNET_RT_DATA_H
#define LNET_RT_DATA_H

#include "rng.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- input files ---- */

/* Opens path for reading and returns the descriptor (the caller closes it),
 * or -1 with "PATH: what is wrong" in err. The file must be a regular file: a
 * FIFO, device, socket or directory is refused without blocking (the open is
 * non-blocking until fstat has said what it is). size (may be NULL) gets the
 * file's size. Every loader of the runtime (IDX, text, safetensors) uses it. */
int rt_input_open(const char *path, int64_t *size, char *err, size_t errcap);

/* ---- in-memory labelled dataset ---- */

typedef struct RtDataset {
  int64_t n;      /* examples */
  int64_t feat;   /* features per example (rows * cols for images) */
  int rows, cols; /* image size, 0 when not an image set */
  int n_classes;  /* labels are in [0, n_classes) */
  float *x;       /* (n, feat) */
  int32_t *y;     /* (n) */
} RtDataset;

/* Normalization applied to x after loading: x = (x - mean) / std. */
typedef struct RtNorm {
  float mean, std;
} RtNorm;

/* Fashion-MNIST training-set statistics of pixel / 255. */
#define RT_NORM_FASHION_MNIST ((RtNorm){0.2860f, 0.3530f})

typedef enum { RT_SPLIT_TRAIN, RT_SPLIT_TEST } RtSplit;

/* Default directory of Debian's dataset-fashion-mnist package. */
#define RT_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* Loads dir/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] (also the
 * "images.idx3-ubyte" spelling; gzip or raw) into *out (caller-owned struct,
 * callee-owned arrays: rt_dataset_fini). dir NULL means RT_FASHION_MNIST_DIR.
 * limit > 0 keeps the first `limit` examples (the rest is still read, so a
 * corrupt or gzip-damaged file fails however few are kept). x holds
 * pixel / 255 in [0, 1]. Labels must be below n_classes, as many as images. */
bool rt_idx_load(const char *dir, RtSplit split, int64_t limit, int n_classes, RtDataset *out,
                 char *err, size_t errcap);

/* The paths rt_idx_load reads for split: the first spelling that exists of
 * each file (pathcap bytes each); false with a message if either is missing. */
bool rt_idx_find(const char *dir, RtSplit split, char *images, char *labels, size_t pathcap,
                 char *err, size_t errcap);

/* The same as rt_idx_load from two explicit file paths. */
bool rt_idx_load_files(const char *images_path, const char *labels_path, int64_t limit,
                       int n_classes, RtDataset *out, char *err, size_t errcap);

/* Mean and (population) standard deviation of every feature value of ds. */
RtNorm rt_dataset_stats(const RtDataset *ds);

/* x = (x - nm.mean) / nm.std for every value. */
void rt_dataset_normalize(RtDataset *ds, RtNorm nm);

/* Replaces ds->y by a permutation of itself drawn from `seed` (labels.c):
 * the same labels in another order, the same for the same seed. Returns the
 * fraction of examples whose label changed; -1 when out of memory (ds is
 * then unchanged). */
double rt_dataset_permute_labels(RtDataset *ds, uint64_t seed);

/* Frees the arrays and zeroes *ds. */
void rt_dataset_fini(RtDataset *ds);

/* ---- byte-level text corpus ---- */

/* Default text: Debian's English fortunes. */
#define RT_FORTUNES_DIR "/usr/share/games/fortunes"

typedef struct RtCorpus {
  uint8_t *bytes; /* (n) every file's bytes, concatenated in sorted name order */
  size_t n;
  size_t n_train; /* train = bytes[0, n_train), validation = bytes[n_train, n) */
  int n_files;    /* text files read */
} RtCorpus;

/* Loads a file, or every regular file of a directory (not recursive; hidden
 * files, subdirectories and fortune index files *.dat / *.u8 skipped), into *out
 * (caller-owned struct; rt_corpus_fini). path NULL means RT_FORTUNES_DIR.
 * The last val_frac of the bytes (rounded down) is the validation split; both
 * splits must be non-empty. */
bool rt_corpus_load(const char *path, double val_frac, RtCorpus *out, char *err, size_t errcap);

void rt_corpus_fini(RtCorpus *c);

/* Bytes of one split: *len gets its length. */
const uint8_t *rt_corpus_split(const RtCorpus *c, RtSplit split, size_t *len);

/* Fills `batch` random windows of context+1 bytes from the split: for window b,
 * x[b*context + t] = w[t] and y[b*context + t] = w[t + 1], t < context (x and y
 * are (batch, context) int32 tokens in [0, 256)). The start of each window is
 * rt_rng_below(rng, len - context). False if the split is shorter than
 * context + 1 bytes. */
bool rt_corpus_sample(const RtCorpus *c, RtSplit split, int context, int batch, RtRng *rng,
                      int32_t *x, int32_t *y);

/* Evaluation windows: the split cut into consecutive non-overlapping windows,
 * window i starting at i * context. rt_corpus_windows gives their count
 * (floor((len - 1) / context)); rt_corpus_window_fill fills windows
 * [first, first + count) like rt_corpus_sample and returns how many it filled. */
int64_t rt_corpus_windows(const RtCorpus *c, RtSplit split, int context);
int64_t rt_corpus_window_fill(const RtCorpus *c, RtSplit split, int context, int64_t first,
                              int64_t count, int32_t *x, int32_t *y);

/* ---- batch iterator ---- */

/* TRAIN: a new seeded permutation each epoch; the last partial batch is
 * DROPPED, so every step sees exactly `batch` examples.
 * EVAL: the examples in order; the last partial batch is KEPT (smaller). */
typedef enum { RT_BATCH_TRAIN, RT_BATCH_EVAL } RtBatchMode;

typedef struct RtBatcher {
  const RtDataset *ds; /* borrowed */
  int64_t batch;
  uint64_t seed;
  RtBatchMode mode;
  int64_t epoch; /* epoch of the current permutation */
  int64_t *perm; /* (ds->n) order of the current epoch */
} RtBatcher;

/* Sets up *b (caller-owned; rt_batcher_fini) over ds and prepares epoch 0. */
bool rt_batcher_init(RtBatcher *b, const RtDataset *ds, int64_t batch, uint64_t seed,
                     RtBatchMode mode, char *err, size_t errcap);
void rt_batcher_fini(RtBatcher *b);

/* Prepares epoch e. In TRAIN mode the permutation depends only on (seed, e):
 * Fisher–Yates driven by rt_rng_split(split(seed, SHUFFLE), e), so a resumed
 * run reproduces it exactly. */
void rt_batcher_set_epoch(RtBatcher *b, int64_t epoch);

/* Batches per epoch: floor(n / batch) in TRAIN mode, ceil(n / batch) in EVAL. */
int64_t rt_batcher_count(const RtBatcher *b);

/* Copies batch `index` of the current epoch into x (batch, feat) and
 * y (batch); returns the number of examples written (0 past the end). */
int64_t rt_batcher_fill(const RtBatcher *b, int64_t index, float *x, int32_t *y);

/* The permutation of epoch e for n examples and seed into perm (n). */
void rt_data_permutation(uint64_t seed, int64_t epoch, int64_t *perm, int64_t n);

#endif
