/* safetensors.h — read and write the safetensors layout (checkpoints, fixtures).
 *
 * Layout: 8-byte little-endian header length N, N bytes of JSON header
 *   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
 *    "__metadata__": {"key": "value", ...}}
 * then the raw little-endian data; offsets are relative to the end of the header.
 *
 * The reader is strict (it is fed checkpoints that may be truncated, corrupt or
 * hostile): the header must fit the file, be valid JSON, name only the dtypes
 * below, give rank <= 8 and non-negative dims whose byte size matches its
 * offsets exactly without overflow; names are unique; the tensors' byte ranges,
 * sorted, must tile the data section exactly (no gaps, no overlap, nothing past
 * the end), as the reference implementation requires. Tensor data is copied
 * into one heap block and every tensor is aligned to its element size there.
 *
 * The writer lays tensors out by decreasing element size (so every tensor is
 * naturally aligned), pads the header with spaces to a multiple of 8, and
 * replaces the target atomically (temp file, fsync, rename, fsync directory).
 */
#ifndef LNET_RT_SAFETENSORS_H
#define LNET_RT_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ST_MAX_RANK 8
#define ST_MAX_HEADER (100u << 20) /* the reference implementation's limit */

typedef enum { ST_F32, ST_I32, ST_U8, ST_I64 } StDType;

/* One tensor; name and data are owned by the StFile that holds it. For
 * st_save the caller fills these fields and keeps ownership. */
typedef struct StTensor {
  char *name;
  StDType dtype;
  int rank;
  int64_t shape[ST_MAX_RANK];
  void *data;    /* nbytes of little-endian elements, row-major */
  size_t nbytes; /* product(shape) * st_dtype_size(dtype) */
} StTensor;

/* A loaded file, owning everything it points to (st_free). */
typedef struct StFile {
  StTensor *t; /* (n) tensors, in header order */
  int n;
  char *metadata_json; /* raw text of the __metadata__ object, or NULL */
  void *blob;          /* the tensors' data */
} StFile;

/* Reads a whole file into *out (caller-owned struct). On failure returns false,
 * leaves *out empty, and writes one line "PATH: what is wrong" into err. */
bool st_load(const char *path, StFile *out, char *err, size_t errcap);

/* Reads only the header of path and keeps its __metadata__ (out->n is 0, no
 * tensor is read or checked: st_load does that): what a caller needs before
 * it knows which tensors to expect. Same errors as st_load for the length,
 * the JSON and the metadata. */
bool st_load_metadata(const char *path, StFile *out, char *err, size_t errcap);

/* Tensor by name, or NULL. */
const StTensor *st_find(const StFile *f, const char *name);

/* Frees everything inside f and zeroes it; safe on a zeroed or failed StFile. */
void st_free(StFile *f);

/* Copies the value of metadata key `key` (a string) into out; false when
 * there is no metadata, no such key, or it does not fit in outcap. */
bool st_meta_get(const StFile *f, const char *key, char *out, size_t outcap);

/* Writes n tensors and n_meta key/value pairs (meta_kv = {k0, v0, k1, v1, ...};
 * may be NULL when n_meta is 0) to path atomically: path.tmp.<pid>, write,
 * fsync, rename, fsync of the directory (stale temporaries of path are
 * removed first). On failure returns false with a message in err, and the
 * old file at path is untouched. */
bool st_save(const char *path, const StTensor *ts, int n, const char *const *meta_kv, int n_meta,
             char *err, size_t errcap);

/* Removes path.tmp.<pid> files (regular files only) left by st_save calls
 * whose process is gone (kill(pid, 0) fails with ESRCH); a live writer's
 * temporary is never touched. st_save calls it first; loaders of a file that
 * st_save writes may call it too. Best effort: errors are ignored. */
void st_remove_stale_temps(const char *path);

/* Element size in bytes and header name ("F32", "I32", "U8", "I64"). */
size_t st_dtype_size(StDType d);
const char *st_dtype_name(StDType d);

/* Number of elements product(shape), or -1 if a dim is negative or it overflows. */
int64_t st_numel(int rank, const int64_t *shape);

#endif
