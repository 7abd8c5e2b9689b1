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

/* How the values of a raw dataset are stored (the .npy element types). */
typedef enum { RT_NPY_F32, RT_NPY_F64, RT_NPY_U8, RT_NPY_I32, RT_NPY_I64 } RtNpyType;

/* Normalization applied to x after loading: x = (x - mean) / std. */
typedef struct RtNorm {
  float mean, std;
} RtNorm;

/* Examples live in x (floats, in memory), or — raw sets: .npy files, CIFAR —
 * in `raw`, stored as raw_type and turned into floats row by row when a batch
 * is filled (rt_dataset_row): u8 becomes v / 255, then (v - norm.mean) /
 * norm.std. A mapped raw set is paged in by the batches, not held in memory. */
typedef struct RtDataset {
  int64_t n;      /* examples */
  int64_t feat;   /* features per example (rows * cols for images) */
  int rows, cols; /* image size, 0 when not an image set */
  int n_classes;  /* labels are in [0, n_classes) */
  float *x;       /* (n, feat), NULL for a raw set */
  int32_t *y;     /* (n) */
  const uint8_t *raw;  /* (n, feat) values of raw_type, or NULL */
  RtNpyType raw_type;  /* RT_NPY_F32, RT_NPY_F64 or RT_NPY_U8 */
  RtNorm norm;         /* raw sets: applied by rt_dataset_row ({0, 1}: none) */
  void *map;           /* an mmap of map_len bytes that holds raw, or NULL */
  size_t map_len;
  void *own;           /* a heap block that holds raw, or NULL */
} RtDataset;

/* Example e of ds as feat floats into dst (normalized). */
void rt_dataset_row(const RtDataset *ds, int64_t e, float *dst);

/* Fashion-MNIST training-set statistics of pixel / 255. */
#define RT_NORM_FASHION_MNIST ((RtNorm){0.2860f, 0.3530f})
/* MNIST training-set statistics of pixel / 255. */
#define RT_NORM_MNIST ((RtNorm){0.1307f, 0.3081f})

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

/* ---- NumPy .npy arrays (npy.c) ---- */

#define RT_NPY_MAX_RANK 8
#define RT_NPY_MAX_HEADER (1 << 20) /* bytes of header dict accepted */

/* An opened .npy file: its header, and its data mapped read-only. */
typedef struct RtNpy {
  const char *path;              /* borrowed */
  RtNpyType type;
  int rank;
  int64_t shape[RT_NPY_MAX_RANK];
  int64_t count;                 /* elements: the product of shape */
  const uint8_t *data;           /* count values of type, little-endian, C order */
  void *map;
  size_t map_len;
} RtNpy;

/* Opens and checks path (caller-owned struct: rt_npy_close): versions 1.0 to
 * 3.0, C order, a dtype of RtNpyType, exactly count * itemsize bytes of data.
 * False with "PATH: what is wrong" in err otherwise. */
bool rt_npy_open(const char *path, RtNpy *a, char *err, size_t errcap);
void rt_npy_close(RtNpy *a);

/* Writes a version 1.0 file of rank dims (data: the elements in C order). */
bool rt_npy_write(const char *path, RtNpyType type, const int64_t *shape, int rank,
                  const void *data, char *err, size_t errcap);

/* "float32", ... ; the bytes of one element. */
const char *rt_npy_type_name(RtNpyType t);
int rt_npy_type_size(RtNpyType t);
/* "(10, 3)" as Python prints a shape. */
void rt_npy_shape_str(const int64_t *shape, int rank, char *buf, size_t cap);

/* Examples from x_path (N, ...) of float32, float64 or uint8 and labels from
 * y_path (N) of uint8, int32 or int64 in [0, n_classes), as a raw set mapped
 * from x_path (rt_dataset_fini unmaps it). The example shape — x's dims after
 * the first — must be exactly dims[0..rank); limit > 0 keeps the first
 * `limit` examples. y_path NULL: every label is 0. */
bool rt_npy_load(const char *x_path, const char *y_path, const int64_t *dims, int rank,
                 int64_t limit, int n_classes, RtDataset *out, char *err, size_t errcap);

/* ---- CIFAR-10 / CIFAR-100 binary files (cifar.c) ---- */

/* dir/data_batch_{1..5}.bin and test_batch.bin (CIFAR-10: a label byte and
 * 3072 pixel bytes per record), or dir/train.bin and test.bin (CIFAR-100: a
 * coarse and a fine label byte, then the pixels; the fine label is kept).
 * Pixels are three 32x32 planes R, G, B: a [3, 32, 32] example. A raw u8 set
 * in memory; limit > 0 keeps the first `limit` records. */
bool rt_cifar_load(const char *dir, bool cifar100, RtSplit split, int64_t limit, RtDataset *out,
                   char *err, size_t errcap);

/* Mean and (population) standard deviation of every feature value of ds. */
RtNorm rt_dataset_stats(const RtDataset *ds);

/* x = (x - nm.mean) / nm.std for every value (a raw set: recorded in norm). */
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

/* Augmentation of an image example [channels, height, width] (augment.c):
 * pad every side with `crop` zeros (the mean, after normalization) and cut a
 * random height x width window; with `flip`, mirror it left-right with
 * probability 1/2. The draws come from the stream
 * split(split(split(seed, AUGMENT), epoch), example), so an example is
 * augmented the same way whatever batch, worker or resumed run reads it. */
typedef struct RtAugment {
  int crop;                      /* 0: no crop */
  bool flip;
  int channels, height, width;
  float *plane;                  /* (height * width) scratch, owned by the batcher */
} RtAugment;

/* Augments row (channels * height * width floats) in place; a->plane must
 * hold height * width floats. */
void rt_augment_row(const RtAugment *a, uint64_t seed, int64_t epoch, int64_t example,
                    float *row);

typedef struct RtBatcher {
  const RtDataset *ds; /* borrowed */
  int64_t batch;
  uint64_t seed;
  RtBatchMode mode;
  int64_t epoch; /* epoch of the current permutation */
  int64_t *perm; /* (ds->n) order of the current epoch */
  RtAugment aug; /* applied to every example rt_batcher_fill writes (crop 0, no flip: none) */
} RtBatcher;

/* Sets up *b (caller-owned; rt_batcher_fini) over ds and prepares epoch 0. */
bool rt_batcher_init(RtBatcher *b, const RtDataset *ds, int64_t batch, uint64_t seed,
                     RtBatchMode mode, char *err, size_t errcap);
void rt_batcher_fini(RtBatcher *b);

/* Augments every example from now on (copies *a, allocates its scratch). */
bool rt_batcher_set_augment(RtBatcher *b, const RtAugment *a, char *err, size_t errcap);

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
