/* feed.c — data binding for training (see feed.h). */
#include "feed.h"
#include "rng.h"

#include <stdlib.h>
#include <string.h>

enum { TEXT_EVAL_WINDOWS = 4096 };

static int find_node(const IrGraph *g, IrOp op)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == op)
            return i;
    return -1;
}

/* Loads one split of an IDX folder and checks it against the model: every
 * example holds exactly the input's values, and there is at least one. */
static bool load_split(RtFeed *f, const IrGraph *g, const char *dir, RtSplit split,
                       int64_t limit, RtDataset *ds, char *err, size_t errcap)
{
    char img[4096], lab[4096];
    const IrNode *in = g->nodes[f->input], *lb = g->nodes[f->label];
    if (!rt_idx_find(dir, split, img, lab, sizeof img, err, errcap) ||
        !rt_idx_load_files(img, lab, limit, lb->a.classes, ds, err, errcap))
        return false;
    if (ds->feat != f->feat) {
        snprintf(err, errcap, "%s: images are %dx%d (%lld values), but input '%s' takes %lld "
                 "values per example", img, ds->rows, ds->cols, (long long)ds->feat, in->name,
                 (long long)f->feat);
        return false;
    }
    if (ds->n < 1) {
        snprintf(err, errcap, "%s: holds no images", img);
        return false;
    }
    return true;
}

/* The input's shape per example (its dims after a batched N). */
static int example_dims(const IrNode *in, int64_t *dims)
{
    int first = ir_type_batched(&in->type) ? 1 : 0;
    for (int i = first; i < in->type.rank; i++)
        dims[i - first] = in->type.dim[i];
    return in->type.rank - first;
}

/* The augmentation of the training batches, checked before any data is
 * read: crop / flip need an image input [C,H,W] or [H,W]. */
static bool augment_spec(const RtFeed *f, const IrGraph *g, RtAugment *a, char *err,
                         size_t errcap)
{
    const IrTrainCfg *t = &g->train;
    *a = (RtAugment){0};
    if (t->crop == 0 && !t->flip)
        return true;
    int64_t d[IR_MAX_DIMS];
    int r = example_dims(g->nodes[f->input], d);
    if (r < 2 || r > 3 || g->nodes[f->input]->type.dtype != IR_F32) {
        snprintf(err, errcap, "crop and flip augment images: input '%s' must be f32[C,H,W] or "
                 "f32[H,W], it has %d dims per example", g->nodes[f->input]->name, r);
        return false;
    }
    *a = (RtAugment){t->crop, t->flip, r == 3 ? (int)d[0] : 1, (int)d[r - 2], (int)d[r - 1],
                     NULL};
    return true;
}

/* Normalizes both splits (model's mean/std, else dflt, else the training
 * set's statistics when dflt.std is 0), then prepares the training order. */
static bool finish_images(RtFeed *f, const IrGraph *g, RtNorm dflt, char *err, size_t errcap)
{
    f->norm = dflt;
    if (g->train.std > 0) {
        f->norm = (RtNorm){g->train.mean, g->train.std};
    } else if (dflt.std == 0) {
        f->norm = rt_dataset_stats(&f->train);
        f->norm_computed = true;
    }
    rt_dataset_normalize(&f->train, f->norm);
    rt_dataset_normalize(&f->test, f->norm);
    if (f->train.n < f->batch) {
        snprintf(err, errcap, "the training set has %lld examples, fewer than one batch of %d",
                 (long long)f->train.n, f->batch);
        return false;
    }
    RtAugment a;
    return rt_batcher_init(&f->batcher, &f->train, f->batch, f->seed, RT_BATCH_TRAIN, err,
                           errcap) &&
           augment_spec(f, g, &a, err, errcap) &&
           (a.crop + a.flip == 0 || rt_batcher_set_augment(&f->batcher, &a, err, errcap));
}

/* "dir/name" for a relative name (dir NULL: name as it is) into buf. */
static const char *data_file(const char *dir, const char *name, char *buf, size_t cap)
{
    if (name[0] == '/' || !dir)
        return name;
    snprintf(buf, cap, "%s/%s", dir, name);
    return buf;
}

/* data = npy(train, labels, test, test_labels): files relative to dir. */
static bool bind_npy(RtFeed *f, const IrGraph *g, const RtTrainOpts *o, const char *dir,
                     char *err, size_t errcap)
{
    const IrNode *in = g->nodes[f->input], *lb = g->nodes[f->label];
    if (in->type.dtype != IR_F32 || lb->type.rank != 1) {
        snprintf(err, errcap, "data 'npy' feeds an f32 input and a class label; input '%s' "
                 "or label '%s' has another type", in->name, lb->name);
        return false;
    }
    int64_t dims[IR_MAX_DIMS];
    int rank = example_dims(in, dims);
    char p[4][4096];
    const char *path[4];
    for (int i = 0; i < 4; i++)
        path[i] = data_file(dir, g->train.npy[i], p[i], sizeof p[i]);
    return rt_npy_load(path[0], path[1], dims, rank, o->train_limit, lb->a.classes, &f->train,
                       err, errcap) &&
           rt_npy_load(path[2], path[3], dims, rank, o->test_limit, lb->a.classes, &f->test,
                       err, errcap) &&
           finish_images(f, g, (RtNorm){0, 0}, err, errcap);
}

/* data = cifar10 | cifar100: the binary files of dir, as [3,32,32] examples. */
static bool bind_cifar(RtFeed *f, const IrGraph *g, const RtTrainOpts *o, const char *dir,
                       bool c100, char *err, size_t errcap)
{
    const IrNode *in = g->nodes[f->input], *lb = g->nodes[f->label];
    int64_t dims[IR_MAX_DIMS];
    int rank = example_dims(in, dims);
    int classes = c100 ? 100 : 10;
    if (in->type.dtype != IR_F32 || rank != 3 || dims[0] != 3 || dims[1] != 32 ||
        dims[2] != 32 || lb->type.rank != 1 || lb->a.classes < classes) {
        snprintf(err, errcap, "data '%s' feeds an f32[3,32,32] input and a class[%d] label; "
                 "input '%s' or label '%s' does not match", g->train.data, classes, in->name,
                 lb->name);
        return false;
    }
    return rt_cifar_load(dir, c100, RT_SPLIT_TRAIN, o->train_limit, &f->train, err, errcap) &&
           rt_cifar_load(dir, c100, RT_SPLIT_TEST, o->test_limit, &f->test, err, errcap) &&
           finish_images(f, g, (RtNorm){0, 0}, err, errcap);
}

static bool bind_images(RtFeed *f, const IrGraph *g, const RtTrainOpts *o, const char *dir,
                        char *err, size_t errcap)
{
    const IrNode *in = g->nodes[f->input], *lb = g->nodes[f->label];
    if (in->type.dtype != IR_F32 || lb->type.rank != 1) {
        snprintf(err, errcap, "data '%s' feeds an f32 image input and a class label; "
                 "input '%s' or label '%s' has another type", g->train.data, in->name, lb->name);
        return false;
    }
    if (!load_split(f, g, dir, RT_SPLIT_TRAIN, o->train_limit, &f->train, err, errcap) ||
        !load_split(f, g, dir, RT_SPLIT_TEST, o->test_limit, &f->test, err, errcap))
        return false;
    bool mnist = strcmp(g->train.data, "mnist") == 0;
    return finish_images(f, g, mnist ? RT_NORM_MNIST : RT_NORM_FASHION_MNIST, err, errcap);
}

static bool bind_text(RtFeed *f, const IrGraph *g, const char *path, char *err, size_t errcap)
{
    const IrNode *in = g->nodes[f->input], *lb = g->nodes[f->label];
    if (in->type.dtype != IR_I32 || in->type.rank != 2 || lb->type.rank != 2 ||
        lb->type.dim[1] != in->type.dim[1] || lb->a.classes < 256) {
        snprintf(err, errcap, "data 'text' feeds an i32[T] input and a class[256][T] label; "
                 "input '%s' or label '%s' does not match", in->name, lb->name);
        return false;
    }
    f->context = (int)in->type.dim[1];
    if (!rt_corpus_load(path, 0.1, &f->corpus, err, errcap))
        return false;
    int64_t windows = rt_corpus_windows(&f->corpus, RT_SPLIT_TEST, f->context);
    if (windows < 1 || rt_corpus_windows(&f->corpus, RT_SPLIT_TRAIN, f->context) < 1) {
        snprintf(err, errcap, "text corpus '%s' is too small for a context of %d", path,
                 f->context);
        return false;
    }
    int64_t cap = f->test_limit > 0 ? f->test_limit : TEXT_EVAL_WINDOWS;
    f->eval_windows = windows < cap ? windows : cap;
    return true;
}

/* lnet predict: the evaluation split is the examples of o->predict->input. */
static bool bind_predict(RtFeed *f, const IrGraph *g, const RtTrainOpts *o, char *err,
                         size_t errcap)
{
    const IrNode *in = g->nodes[f->input], *lb = g->nodes[f->label];
    if (f->text || in->type.dtype != IR_F32) {
        snprintf(err, errcap, "lnet predict reads f32 examples: input '%s' of data '%s' is not",
                 in->name, g->train.data);
        return false;
    }
    int64_t dims[IR_MAX_DIMS];
    int rank = example_dims(in, dims);
    rt_dataset_fini(&f->test);
    if (!rt_npy_load(o->predict->input, o->predict->labels, dims, rank, o->test_limit,
                     lb->a.classes, &f->test, err, errcap))
        return false;
    rt_dataset_normalize(&f->test, f->norm);
    return true;
}

static bool bind_data(RtFeed *f, const IrGraph *g, const RtTrainOpts *o, char *err,
                      size_t errcap);

bool rt_feed_open(RtFeed *f, const IrGraph *g, const RtTrainOpts *o, char *err, size_t errcap)
{
    return bind_data(f, g, o, err, errcap) &&
           (!o->predict || bind_predict(f, g, o, err, errcap));
}

static bool bind_data(RtFeed *f, const IrGraph *g, const RtTrainOpts *o, char *err,
                      size_t errcap)
{
    memset(f, 0, sizeof *f);
    f->input = find_node(g, IR_OP_INPUT);
    f->label = find_node(g, IR_OP_LABEL);
    f->batch = g->train.batch;
    f->seed = g->train.seed;
    f->test_limit = o->test_limit;
    if (f->input < 0 || f->label < 0) {
        snprintf(err, errcap, "model '%s' needs an input and a label to train", g->model);
        return false;
    }
    f->feat = ir_type_numel(&g->nodes[f->input]->type);
    RtAugment aug;
    if (!augment_spec(f, g, &aug, err, errcap))
        return false;
    const char *data = g->train.data;
    const char *path = o->data_dir ? o->data_dir : g->train.data_path;
    if (strcmp(data, "fashion_mnist") == 0 || strcmp(data, "mnist") == 0) {
        if (!path && strcmp(data, "mnist") == 0) {
            snprintf(err, errcap, "data 'mnist' needs --data-dir (a folder of MNIST IDX files)");
            return false;
        }
        return bind_images(f, g, o, path ? path : RT_FASHION_MNIST_DIR, err, errcap);
    }
    if (strcmp(data, "text") == 0) {
        f->text = true;
        return bind_text(f, g, path ? path : RT_FORTUNES_DIR, err, errcap);
    }
    if (strcmp(data, "npy") == 0)
        return bind_npy(f, g, o, path, err, errcap);
    if (strcmp(data, "cifar10") == 0 || strcmp(data, "cifar100") == 0) {
        if (!path) {
            snprintf(err, errcap, "data '%s' needs a folder of its binary files (train "
                     "{ path = \"...\" } or --data-dir)", data);
            return false;
        }
        return bind_cifar(f, g, o, path, strcmp(data, "cifar100") == 0, err, errcap);
    }
    snprintf(err, errcap, "unknown data set '%s' (fashion_mnist, mnist, text, cifar10, "
             "cifar100 or npy)", data);
    return false;
}

void rt_feed_close(RtFeed *f)
{
    if (f->text) {
        rt_corpus_fini(&f->corpus);
    } else {
        rt_batcher_fini(&f->batcher);
        rt_dataset_fini(&f->train);
        rt_dataset_fini(&f->test);
    }
}

int64_t rt_feed_steps_per_epoch(const RtFeed *f)
{
    if (!f->text)
        return rt_batcher_count(&f->batcher);
    size_t n;
    rt_corpus_split(&f->corpus, RT_SPLIT_TRAIN, &n);
    int64_t steps = (int64_t)n / ((int64_t)f->batch * f->context);
    return steps > 0 ? steps : 1;
}

void rt_feed_train_batch(RtFeed *f, int64_t epoch, int64_t index, void *x, int32_t *y)
{
    if (!f->text) {
        if (f->batcher.epoch != epoch)
            rt_batcher_set_epoch(&f->batcher, epoch);
        rt_batcher_fill(&f->batcher, index, x, y);
        return;
    }
    RtRng root, r;
    rt_rng_seed(&root, f->seed);
    r = rt_rng_split(&root, RT_RNG_STREAM_SAMPLE);
    r = rt_rng_split(&r, (uint64_t)epoch * 0x100000000ull + (uint64_t)index);
    rt_corpus_sample(&f->corpus, RT_SPLIT_TRAIN, f->context, f->batch, &r, x, y);
}

int64_t rt_feed_eval_batches(const RtFeed *f)
{
    int64_t n = f->text ? f->eval_windows : f->test.n;
    return (n + f->batch - 1) / f->batch;
}

int64_t rt_feed_eval_batch(const RtFeed *f, int64_t index, void *x, int32_t *y)
{
    if (f->text) {
        int64_t first = index * f->batch;
        int64_t count = f->eval_windows - first < f->batch ? f->eval_windows - first : f->batch;
        return rt_corpus_window_fill(&f->corpus, RT_SPLIT_TEST, f->context, first, count, x, y);
    }
    int64_t first = index * f->batch;
    int64_t count = f->test.n - first < f->batch ? f->test.n - first : f->batch;
    for (int64_t i = 0; i < count; i++)
        rt_dataset_row(&f->test, first + i, (float *)x + i * f->test.feat);
    memcpy(y, f->test.y + first, (size_t)count * 4);
    return count;
}
